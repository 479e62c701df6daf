"""Customer channels behind one interface (docs/channels.md).

A `Channel` takes what Conversations (handoff/cases/conversations.py) sends a conversation's customer, after
it is stored: each message, the agent's (and on sockets the assistant's) typing, the case as it is now. What
a customer writes comes in through the channel's own entry (the socket namespace /chat, a webhook) and goes
to Conversations, which stores it and owns every change. Each channel says what it can show (`Capabilities`);
where it has no buttons, they become numbered choices (`numbered`) and a customer's number picks one
(`chosen`).

The web widget and the mobile app share `SocketChannel`: the conversation's socket.io room.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import Any, Protocol

import socketio

from handoff.store.records import Message

CHAT = "/chat"  # the customers' socket.io namespace


def room(conversation_id: str) -> str:
    """The customer's sockets of one conversation (namespace /chat)."""
    return f"conv:{conversation_id}"


@dataclasses.dataclass(frozen=True)
class Capabilities:
    """What a channel can show its customers."""

    buttons: bool  # choices to press (else: numbered choices, answered with the number)
    links: bool  # a link behind a title (else: the address written out)
    typing: bool  # that the agent is typing
    max_text_length: int | None = None  # longest text of one message (longer ones are split), None: no limit
    bot_typing: bool = False  # that the assistant works on an answer (each bot turn: cheap on a socket only)


class Channel(Protocol):
    """Where a conversation's customer is reached. Each call comes after the message or change is stored,
    under the conversation's lock, in order; a channel that delivers over a network returns at once
    and delivers in the background, in the same order."""

    capabilities: Capabilities

    async def deliver(self, message: Message, view: dict[str, Any]) -> None:
        """A stored message for the customer (``view``: its protocol form, docs/protocol.md `Message`)."""

    async def typing(self, conversation_id: str, event: dict[str, Any]) -> None:
        """The agent started or stopped typing (``event``: the `typing_changed` payload)."""

    async def case_updated(self, conversation_id: str, view: dict[str, Any]) -> None:
        """The case changed (``view``: the customer's `Conversation`)."""


class SocketChannel:
    """The web widget and the mobile app: the conversation's room in the socket.io namespace /chat."""

    capabilities = Capabilities(buttons=True, links=True, typing=True, bot_typing=True)

    def __init__(self, sio: socketio.AsyncServer) -> None:
        self._sio = sio

    async def deliver(self, message: Message, view: dict[str, Any]) -> None:
        await self._sio.emit("message_created", view, room=room(message.conversation_id), namespace=CHAT)

    async def typing(self, conversation_id: str, event: dict[str, Any]) -> None:
        await self._sio.emit("typing_changed", event, room=room(conversation_id), namespace=CHAT)

    async def case_updated(self, conversation_id: str, view: dict[str, Any]) -> None:
        await self._sio.emit("case_updated", view, room=room(conversation_id), namespace=CHAT)


class Channels:
    """The channels by name (a conversation's `channel`); the socket channels are always there."""

    def __init__(self, sio: socketio.AsyncServer, socket_names: Iterable[str] = ("web", "mobile")) -> None:
        self._socket = SocketChannel(sio)
        self._by_name: dict[str, Channel] = dict.fromkeys(socket_names, self._socket)

    def add(self, name: str, channel: Channel) -> None:
        self._by_name[name] = channel

    def of(self, name: str) -> Channel:
        """The channel of that name; a conversation of a channel this process does not run (its settings
        turned it off) is reached, if at all, through the sockets."""
        return self._by_name.get(name, self._socket)

    async def typing(self, name: str, conversation_id: str, event: dict[str, Any]) -> None:
        """Someone typing (``event``, `typing_changed`) for the customer, on channel ``name`` if it shows that."""
        channel = self.of(name)
        if channel.capabilities.bot_typing if event["sender"] == "bot" else channel.capabilities.typing:
            await channel.typing(conversation_id, event)
