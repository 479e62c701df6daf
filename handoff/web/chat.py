"""The customer namespace ``/chat``: a socket is bound to at most one conversation, by its token.

Each event's payload and ack are the models of handoff/wire/customer.py (`customer.CHAT_EVENTS`); a
payload they refuse is answered with the error shape by the boundary."""

from __future__ import annotations

from typing import Any

import socketio

from handoff.cases.channels import CHAT, room
from handoff.cases.conversations import Conversations
from handoff.cases.presence import Presence
from handoff.cases.views import message_view, survey_view
from handoff.errors import ApiError
from handoff.limits.addresses import UNKNOWN
from handoff.limits.limiter import Limiter
from handoff.settings import Settings
from handoff.store.records import Conversation
from handoff.web import customer_requests
from handoff.web.boundary import BoundaryNamespace
from handoff.web.limits import admit_identity, admit_message, socket_address
from handoff.wire import customer


class ChatNamespace(BoundaryNamespace):
    events = customer.CHAT_EVENTS

    def __init__(self, conversations: Conversations, presence: Presence, settings: Settings,
                 limiter: Limiter) -> None:
        super().__init__(CHAT)
        self._conversations = conversations
        self._presence = presence
        self._settings = settings
        self._limiter = limiter
        self._bound: dict[str, str] = {}  # sid -> conversation id
        self._names: dict[str, str] = {}  # sid -> the customer's name (it never changes)
        self._addresses: dict[str, str] = {}  # sid -> the client's address (handoff/web/limits.py)

    @property
    def connected(self) -> int:
        """Conversations with a customer's socket on this node (the metrics)."""
        return len(set(self._bound.values()))

    async def on_connect(self, sid: str, environ: dict[str, Any], auth: Any = None) -> None:
        address = socket_address(environ)
        try:
            await self._limiter.hit("connections_per_address", address)
        except ApiError as exc:  # refused: the client's connect_error carries the error shape
            raise socketio.exceptions.ConnectionRefusedError(exc.message, exc.body()["error"]) from None
        self._addresses[sid] = address

    async def on_disconnect(self, sid: str, reason: Any = None) -> None:
        conversation_id = self._bound.pop(sid, None)
        self._names.pop(sid, None)
        self._addresses.pop(sid, None)
        if conversation_id:
            await self._presence.customer_left(conversation_id, sid)

    async def _bind(self, sid: str, conversation: Conversation) -> None:
        conversation_id = conversation.id
        previous = self._bound.get(sid)
        if previous and previous != conversation_id:
            await self.leave_room(sid, room(previous))
            await self._presence.customer_left(previous, sid)
        self._bound[sid] = conversation_id
        self._names[sid] = conversation.customer_name
        await self.enter_room(sid, room(conversation_id))
        await self._presence.customer_joined(conversation_id, sid)

    def _conversation_of(self, sid: str) -> str:
        conversation_id = self._bound.get(sid)
        if conversation_id is None:
            raise ApiError("unauthorized", "start or resume a conversation first")
        return conversation_id

    async def on_start_conversation(self, sid: str, payload: Any) -> dict[str, Any]:
        await self._limiter.hit("starts_per_address", self._addresses.get(sid, UNKNOWN))
        start = customer_requests.start(payload, self._settings, customer.StartConversation)
        await admit_identity(self._limiter, start.identity)
        conversation, token = await self._conversations.start(start.channel, start.locale, start.name,
                                                              start.earlier_token, start.identity)
        await self._bind(sid, conversation)
        return {"conversation": await self._conversations.customer_view(conversation), "token": token}

    async def on_resume_conversation(self, sid: str, payload: Any) -> dict[str, Any]:
        asked = customer.ResumeConversation.model_validate(payload)
        conversation = await self._conversations.by_token(asked.token)
        customer_requests.check_owner(conversation, asked.identity, self._settings)
        join = lambda: self._bind(sid, conversation)  # noqa: E731
        messages = await self._conversations.rejoin(conversation.id, asked.after_seq, join)
        return {
            "conversation": await self._conversations.customer_view(conversation),
            "messages": [message_view(m) for m in messages],
        }

    async def on_send_message(self, sid: str, payload: Any) -> dict[str, Any]:
        conversation_id = self._conversation_of(sid)
        sent = customer_requests.message(payload, self._settings)
        await admit_message(self._limiter, conversation_id, self._addresses.get(sid))
        message = await self._conversations.customer_message(conversation_id, self._names[sid], sent.text,
                                                             sent.payload, self._addresses.get(sid), sent.client_id)
        return {"message": message_view(message)}

    async def on_set_typing(self, sid: str, payload: Any) -> dict[str, Any]:
        typing = customer.SetTyping.model_validate(payload).typing
        conversation = await self._conversations.get(self._conversation_of(sid))
        await self._conversations.typing(conversation.id, "customer", conversation.customer_name, typing)
        return {}

    async def on_answer_survey(self, sid: str, payload: Any) -> dict[str, Any]:
        conversation_id = self._conversation_of(sid)
        answers = customer_requests.survey(payload, self._settings)
        survey = await self._conversations.answer_survey(conversation_id, answers, via="chat")
        return {"survey": survey_view(survey)}
