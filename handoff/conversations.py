"""Conversations: the one owner of every case status change and every message posted.

Each change is validated against the lifecycle, stored (with its timeline event, or the message with its
sequence number) and only then published to the socket rooms. Everything about one conversation runs
under that conversation's lock, so its messages are stored and delivered in order.
"""

from __future__ import annotations

import asyncio
import logging
import math
import secrets
import statistics
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from typing import Any

import socketio

from handoff import lifecycle
from handoff.agents import token_digest
from handoff.errors import ApiError
from handoff.rasa_bridge import BotReply, BotUnavailable, RasaBridge
from handoff.settings import Settings
from handoff.store import (
    Agent,
    AlreadyExists,
    Conversation,
    Message,
    SqlCaseStore,
    StaleStatus,
    utcnow,
)
from handoff.views import QueuePlace, case_summary, conversation_view, message_view

log = logging.getLogger(__name__)

CHAT = "/chat"
AGENT = "/agent"
AGENTS_ROOM = "agents"

SURVEY_TEXT = "How satisfied are you with this conversation? Please rate it from 1 to 5."
BACK_TO_BOT_TEXT = "You are chatting with our assistant again. Ask it anything, or ask for a person."
TRANSFER_TEXT = "I'm passing your conversation to a colleague. Please stay here; you keep your place in the queue."
NOTE = "note"  # the sender of an agent's private note
KEEP_PLACE = frozenset({"agent_disconnected", "transferred"})  # requeued cases keep their first queued_at
AVAILABLE = "available"
AVAILABILITY = (AVAILABLE, "busy", "away")
HANDLING_SAMPLE = 20  # recent cases an agent resolved, for the expected wait
MIN_HANDLING_SAMPLES = 3
BOT_DOWN_TEXT = "Sorry, I can't answer right now. I'm connecting you with a person from our team."


def room(conversation_id: str) -> str:
    return f"conv:{conversation_id}"


class Conversations:
    def __init__(self, store: SqlCaseStore, sio: socketio.AsyncServer, bot: RasaBridge, settings: Settings) -> None:
        self.store = store
        self._sio = sio
        self._bot = bot
        self._settings = settings
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()
        # conversation id -> customer socket ids; and when the last one left (for abandonment)
        self._customer_sids: dict[str, set[str]] = {}
        self._customer_left_at: dict[str, datetime] = {}
        # agent id -> socket ids (agent_connected, agent_disconnected); and when an agent's last one left
        self.agent_sids: dict[str, set[str]] = {}
        self._agent_left_at: dict[str, datetime] = {}
        self._availability: dict[str, str] = {}  # agent id -> one of AVAILABILITY, while connected

    @asynccontextmanager
    async def _locked(self, conversation_id: str) -> AsyncIterator[None]:
        lock = self._locks.get(conversation_id)
        if lock is None:
            lock = self._locks[conversation_id] = asyncio.Lock()
        async with lock:
            yield

    # -- reading -----------------------------------------------------------------------------------

    async def get(self, conversation_id: str) -> Conversation:
        conversation = await self.store.conversation(conversation_id)
        if conversation is None:
            raise ApiError("not_found", f"conversation {conversation_id} does not exist")
        return conversation

    async def queue_place(self, conversation: Conversation) -> QueuePlace | None:
        if conversation.status != lifecycle.QUEUED:
            return None
        queued = await self.store.conversations_in([lifecycle.QUEUED])
        position = next((i + 1 for i, c in enumerate(queued) if c.id == conversation.id), None)
        return None if position is None else (await self._places([position]))[0]

    async def _places(self, positions: list[int]) -> list[QueuePlace]:
        """Queue places with the expected wait: each case ahead takes an agent's median handling time
        of the last `HANDLING_SAMPLE` cases, shared among the agents signed in and available; unknown
        with fewer than `MIN_HANDLING_SAMPLES` cases handled, or with nobody available."""
        online = sum(self._availability.get(agent_id) == AVAILABLE for agent_id in self.agent_sids)
        handled = await self.store.recent_durations(lifecycle.WITH_AGENT, lifecycle.RESOLVED, HANDLING_SAMPLE)
        median = statistics.median(handled) if len(handled) >= MIN_HANDLING_SAMPLES else None
        return [QueuePlace(position, online, None if median is None or not online
                           else math.ceil(position * median / online)) for position in positions]

    async def rejoin(self, conversation_id: str, after_seq: int, join: Callable[[], Awaitable[None]]) -> list[Message]:
        """``join`` the customer's socket to the conversation's room and return what it missed after
        ``after_seq``, under the conversation's lock: no message can be posted in between, so each
        one reaches the socket exactly once, in this replay or live after it."""
        async with self._locked(conversation_id):
            await join()
            return await self.customer_messages(conversation_id, after_seq)

    async def customer_messages(self, conversation_id: str, after_seq: int) -> list[Message]:
        """What the customer may read after ``after_seq``: everything but the agents' private notes."""
        return [m for m in await self.store.messages_after(conversation_id, after_seq) if m.sender != NOTE]

    async def customer_view(self, conversation: Conversation) -> dict[str, Any]:
        return conversation_view(conversation, await self.queue_place(conversation))

    async def summary(self, conversation: Conversation) -> dict[str, Any]:
        return case_summary(conversation, await self.queue_place(conversation))

    async def agent_connected(self, agent_id: str, sid: str) -> None:
        first = agent_id not in self.agent_sids
        self.agent_sids.setdefault(agent_id, set()).add(sid)
        self._agent_left_at.pop(agent_id, None)
        if first:  # every queued customer's expected wait changes
            self._availability.setdefault(agent_id, AVAILABLE)
            await self._publish_queue_positions(exclude=None)

    async def agent_disconnected(self, agent_id: str, sid: str) -> None:
        sids = self.agent_sids.get(agent_id, set())
        sids.discard(sid)
        if not sids and self.agent_sids.pop(agent_id, None) is not None:
            self._agent_left_at[agent_id] = utcnow()
            self._availability.pop(agent_id, None)
            await self._publish_queue_positions(exclude=None)

    async def set_availability(self, agent: Agent, availability: str) -> str:
        """An agent says whether they take conversations now (available) or not (busy, away)."""
        if self._availability.get(agent.id) != availability:
            self._availability[agent.id] = availability
            await self._publish_queue_positions(exclude=None)
        return availability

    # -- customers ---------------------------------------------------------------------------------

    async def start(self, channel: str, locale: str, name: str | None) -> tuple[Conversation, str]:
        token = secrets.token_urlsafe(32)
        conversation = await self.store.create_conversation(
            conversation_id="c_" + secrets.token_hex(8), token_hash=token_digest(token),
            customer_id="u_" + secrets.token_hex(8), customer_name=name or "Customer",
            channel=channel, locale=locale, status=lifecycle.BOT, actor="customer",
        )
        return conversation, token

    async def by_token(self, token: str) -> Conversation:
        conversation = await self.store.conversation_by_token(token_digest(token))
        if conversation is None:
            raise ApiError("unauthorized", "token: no conversation has this token")
        return conversation

    def customer_joined(self, conversation_id: str, sid: str) -> None:
        self._customer_sids.setdefault(conversation_id, set()).add(sid)
        self._customer_left_at.pop(conversation_id, None)

    def customer_left(self, conversation_id: str, sid: str) -> None:
        sids = self._customer_sids.get(conversation_id, set())
        sids.discard(sid)
        if not sids:
            self._customer_sids.pop(conversation_id, None)
            self._customer_left_at[conversation_id] = utcnow()

    async def customer_message(self, conversation_id: str, text: str, payload: str | None) -> Message:
        async with self._locked(conversation_id):
            conversation = await self.get(conversation_id)
            if conversation.status in lifecycle.CLOSED:
                raise ApiError("conflict", "this conversation has ended; start a new one")
            if payload is not None:
                await self._check_button(conversation_id, payload)
            message = await self._post(
                conversation, "customer", conversation.customer_name, text,
                {"payload": payload} if payload else {},
            )
            if conversation.status == lifecycle.BOT:
                await self._bot_turn(conversation, payload or text)
            return message

    async def _check_button(self, conversation_id: str, payload: str) -> None:
        last = await self.store.last_message_from(conversation_id, ["bot", "agent", "customer"])
        offered = [] if last is None or last.sender != "bot" else last.data.get("buttons", [])
        if payload not in {b.get("payload") for b in offered}:
            raise ApiError("invalid_payload", "payload: not one of the buttons the bot offered last")

    async def _bot_turn(self, conversation: Conversation, text: str) -> None:
        metadata = {"channel": conversation.channel, "locale": conversation.locale}
        try:
            replies = await self._bot.send(conversation.id, text, metadata)
            if not replies:  # every turn of our bot answers; silence means an action failed
                raise BotUnavailable("Rasa sent no reply")
        except BotUnavailable as exc:
            log.warning("bot unavailable for %s: %s", conversation.id, exc)
            replies = [BotReply(BOT_DOWN_TEXT, {"kind": "handoff", "reason": "bot_unavailable"},
                                handoff_reason="bot_unavailable")]
        for reply in replies:
            await self._post(conversation, "bot", self._settings.bot_name, reply.text, reply.data)
            if reply.handoff_reason:
                await self._transition(conversation, lifecycle.QUEUED, reason=reply.handoff_reason,
                                       actor="bot")
                return
            if reply.resolve_reason:
                await self._transition(conversation, lifecycle.RESOLVED, reason=reply.resolve_reason,
                                       actor="bot")
                return

    async def typing(self, conversation_id: str, sender: str, name: str, typing: bool) -> None:
        """Tell the other side that the customer or the agent is typing (or stopped); not stored.
        Only while the case is with an agent: the bot needs no indicator and the queue has no reader."""
        conversation = await self.get(conversation_id)
        if conversation.status != lifecycle.WITH_AGENT:
            return
        event = {"conversation_id": conversation_id, "sender": sender, "name": name, "typing": typing}
        await self._sio.emit("typing_changed", event, room=room(conversation_id),
                             namespace=AGENT if sender == "customer" else CHAT)

    async def answer_survey(self, conversation_id: str, rating: int, comment: str | None) -> Any:
        conversation = await self.get(conversation_id)
        if conversation.status != lifecycle.RESOLVED:
            raise ApiError("conflict", "the survey opens when the conversation is resolved")
        try:
            return await self.store.add_survey(conversation_id, rating, comment, conversation.agent_id)
        except AlreadyExists:
            raise ApiError("conflict", "this survey has been answered already") from None

    # -- agents ------------------------------------------------------------------------------------

    async def accept(self, agent: Agent, conversation_id: str) -> Conversation:
        async with self._locked(conversation_id):
            conversation = await self.get(conversation_id)
            if conversation.status != lifecycle.QUEUED:
                raise ApiError("conflict", f"case {conversation.number} is {conversation.status}, not queued")
            capacity = self._settings.agent_capacity
            if len(await self.store.conversations_in([lifecycle.WITH_AGENT], agent.id)) >= capacity:
                raise ApiError("conflict", f"you already have {capacity} conversations, your capacity; "
                                           "resolve one first")
            conversation = await self._transition(
                conversation, lifecycle.WITH_AGENT, reason="accepted", actor=f"agent:{agent.username}",
                agent=agent,
            )
            await self._post(conversation, "system", "system",
                             f"{agent.display_name} has joined the conversation.", {})
            return conversation

    async def _held(self, agent: Agent, conversation_id: str) -> Conversation:
        conversation = await self.get(conversation_id)
        if conversation.status != lifecycle.WITH_AGENT or conversation.agent_id != agent.id:
            raise ApiError("forbidden", f"case {conversation.number} is not assigned to you")
        return conversation

    async def agent_message(self, agent: Agent, conversation_id: str, text: str) -> Message:
        async with self._locked(conversation_id):
            conversation = await self._held(agent, conversation_id)
            return await self._post(conversation, "agent", agent.display_name, text, {})

    async def agent_typing(self, agent: Agent, conversation_id: str, typing: bool) -> None:
        await self._held(agent, conversation_id)
        await self.typing(conversation_id, "agent", agent.display_name, typing)

    async def add_note(self, agent: Agent, conversation_id: str, text: str) -> Message:
        """A private note on the case: stored in the transcript, shown to agents, never to the customer."""
        async with self._locked(conversation_id):
            conversation = await self._held(agent, conversation_id)
            return await self._post(conversation, NOTE, agent.display_name, text, {"kind": "note"})

    async def transfer(self, agent: Agent, conversation_id: str, note: str) -> Conversation:
        """The agent puts the case back in the queue for a colleague, with a private note saying why;
        it keeps its place from when it was first queued."""
        async with self._locked(conversation_id):
            conversation = await self._held(agent, conversation_id)
            await self._post(conversation, NOTE, agent.display_name, note, {"kind": "note", "transfer": True})
            return await self._back_to_queue(conversation, TRANSFER_TEXT, "transferred", f"agent:{agent.username}")

    async def return_to_bot(self, agent: Agent, conversation_id: str) -> Conversation:
        """The agent hands the customer back to the bot, which answers their next message."""
        async with self._locked(conversation_id):
            conversation = await self._held(agent, conversation_id)
            await self._post(conversation, "system", "system", BACK_TO_BOT_TEXT, {"kind": "returned_to_bot"})
            return await self._transition(conversation, lifecycle.BOT, reason="returned_to_bot",
                                          actor=f"agent:{agent.username}")

    async def resolve(self, agent: Agent, conversation_id: str) -> Conversation:
        async with self._locked(conversation_id):
            conversation = await self._held(agent, conversation_id)
            return await self._transition(conversation, lifecycle.RESOLVED, reason="resolved_by_agent",
                                          actor=f"agent:{agent.username}")

    # -- background --------------------------------------------------------------------------------

    async def sweep(self) -> None:
        """Abandon queued cases whose customer left long ago; resolve idle bot conversations; return
        the cases of an agent gone past the grace period to the head of the queue."""
        now = utcnow()
        grace_before = now - timedelta(seconds=self._settings.agent_grace_seconds)
        for conversation in await self.store.conversations_in([lifecycle.WITH_AGENT]):
            agent_id = conversation.agent_id or ""
            if agent_id in self.agent_sids:
                continue
            # After a restart nobody is connected yet: count from the first sweep.
            if self._agent_left_at.setdefault(agent_id, now) <= grace_before:
                await self._requeue(conversation.id, agent_id)
        abandon_before = now - timedelta(seconds=self._settings.abandon_after_seconds)
        for conversation in await self.store.conversations_in([lifecycle.QUEUED]):
            if conversation.id in self._customer_sids:
                continue
            # After a restart nobody is connected yet: count from the first sweep.
            if self._customer_left_at.setdefault(conversation.id, now) <= abandon_before:
                await self._sweep_one(conversation.id, lifecycle.QUEUED, lifecycle.ABANDONED, "customer_left")
        idle_before = now - timedelta(seconds=self._settings.bot_idle_seconds)
        for conversation in await self.store.idle_conversations(lifecycle.BOT, idle_before):
            await self._sweep_one(conversation.id, lifecycle.BOT, lifecycle.RESOLVED, "idle")

    async def _requeue(self, conversation_id: str, agent_id: str) -> None:
        async with self._locked(conversation_id):
            conversation = await self.get(conversation_id)
            if conversation.status != lifecycle.WITH_AGENT or conversation.agent_id != agent_id:
                return
            name = conversation.agent_name or "The agent"
            text = f"{name} was disconnected. Your conversation is back at the front of the queue."
            await self._back_to_queue(conversation, text, "agent_disconnected", "system")

    async def _back_to_queue(self, conversation: Conversation, text: str, reason: str, actor: str) -> Conversation:
        """A case with an agent goes back to the queue, keeping its place (`KEEP_PLACE`), and the
        customer is told why."""
        await self._post(conversation, "system", "system", text, {"kind": "requeued", "reason": reason})
        return await self._transition(conversation, lifecycle.QUEUED, reason=reason, actor=actor)

    async def _sweep_one(self, conversation_id: str, expected: str, target: str, reason: str) -> None:
        async with self._locked(conversation_id):
            conversation = await self.get(conversation_id)
            if conversation.status == expected:
                await self._transition(conversation, target, reason=reason, actor="system")

    # -- the one owner of status changes ----------------------------------------------------------

    async def _transition(
        self, conversation: Conversation, target: str, *, reason: str, actor: str,
        agent: Agent | None = None,
    ) -> Conversation:
        current = conversation.status
        if not lifecycle.allowed(current, target):
            raise ApiError("conflict", f"case {conversation.number} cannot go from {current} to {target}")
        now = utcnow()
        fields: dict[str, Any] = {}
        if target == lifecycle.QUEUED and reason in KEEP_PLACE:
            fields = {"agent_id": None}  # keeps its first queued_at: at or near the head of the queue
        elif target == lifecycle.QUEUED:
            fields = {"queued_at": now, "escalation_reason": reason, "agent_id": None}
        elif target == lifecycle.WITH_AGENT:
            assert agent is not None
            fields = {"agent_id": agent.id}
        elif target == lifecycle.RESOLVED:
            fields = {"resolution": "agent" if current == lifecycle.WITH_AGENT else "bot"}
        elif target == lifecycle.ABANDONED:
            fields = {"resolution": "abandoned"}
        elif target == lifecycle.BOT:
            fields = {"agent_id": None, "queued_at": None}
        try:
            await self.store.change_status(
                conversation.id, expected=current, status=target, reason=reason, actor=actor, fields=fields
            )
        except StaleStatus:
            raise ApiError("conflict", f"case {conversation.number} changed meanwhile; reload it") from None
        updated = await self.get(conversation.id)

        if target == lifecycle.WITH_AGENT and agent is not None:
            await self._join_agent_sockets(agent.id, conversation.id)
        if target == lifecycle.RESOLVED:
            await self._post(updated, "system", "system", SURVEY_TEXT, {"kind": "survey", "scale": [1, 5]})
            updated = await self.get(conversation.id)
        await self._publish_case(updated)
        if lifecycle.QUEUED in (current, target):
            await self._publish_queue_positions(exclude=updated.id)
        if target == lifecycle.QUEUED:
            await self._sio.emit("case_queued", await self.summary(updated), room=AGENTS_ROOM, namespace=AGENT)
        elif current == lifecycle.QUEUED:
            await self._sio.emit("case_assigned", await self.summary(updated), room=AGENTS_ROOM, namespace=AGENT)
        return updated

    # -- storing and publishing -------------------------------------------------------------------

    async def _post(
        self, conversation: Conversation, sender: str, sender_name: str, text: str, data: dict[str, Any]
    ) -> Message:
        message = await self.store.append_message(
            conversation.id, sender=sender, sender_name=sender_name, text=text, data=data,
        )
        payload = message_view(message)
        if sender != NOTE:
            await self._sio.emit("message_created", payload, room=room(conversation.id), namespace=CHAT)
        await self._sio.emit("message_created", payload, room=room(conversation.id), namespace=AGENT)
        return message

    async def _publish_case(self, conversation: Conversation) -> None:
        await self._sio.emit("case_updated", await self.customer_view(conversation),
                             room=room(conversation.id), namespace=CHAT)
        await self._sio.emit("case_updated", await self.summary(conversation),
                             room=AGENTS_ROOM, namespace=AGENT)

    async def _publish_queue_positions(self, exclude: str | None) -> None:
        queued = await self.store.conversations_in([lifecycle.QUEUED])
        places = await self._places(list(range(1, len(queued) + 1)))
        for place, conversation in zip(places, queued, strict=True):
            if conversation.id != exclude:
                await self._sio.emit("case_updated", conversation_view(conversation, place),
                                     room=room(conversation.id), namespace=CHAT)

    async def _join_agent_sockets(self, agent_id: str, conversation_id: str) -> None:
        for sid in list(self.agent_sids.get(agent_id, ())):
            await self._sio.enter_room(sid, room(conversation_id), namespace=AGENT)
