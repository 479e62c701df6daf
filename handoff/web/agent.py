"""The agent namespace ``/agent``: signed-in agents only; every event re-checks the sign-in (`AgentAuth`),
then validates its payload with its model (handoff/wire/agent.py, `AGENT_EVENTS`)."""

from __future__ import annotations

from typing import Any

import socketio

from handoff.cases.desk import Desk
from handoff.cases.presence import AGENT
from handoff.cases.views import case_summary, message_view
from handoff.errors import ApiError
from handoff.settings import Settings
from handoff.staff.accounts import AgentAuth
from handoff.store.records import Agent, Status
from handoff.web.boundary import BoundaryNamespace
from handoff.wire import agent as wire
from handoff.wire.fields import MESSAGE_LENGTH


class AgentNamespace(BoundaryNamespace):
    events = wire.AGENT_EVENTS

    def __init__(self, desk: Desk, auth: AgentAuth, settings: Settings) -> None:
        super().__init__(AGENT)
        self._conversations = desk.conversations
        self._presence = desk.presence
        self._queues = desk.queues
        self._access = desk.access
        self._auth = auth
        self._settings = settings
        self._tokens: dict[str, str] = {}  # sid -> token
        self._agent_of: dict[str, str] = {}  # sid -> agent id

    async def on_connect(self, sid: str, environ: dict[str, Any], auth: Any = None) -> None:
        token = auth.get("token") if isinstance(auth, dict) else None
        try:
            agent = await self._auth.authenticate(token)
        except ApiError as exc:
            raise socketio.exceptions.ConnectionRefusedError(exc.message, exc.body()["error"]) from None
        self._tokens[sid] = token  # type: ignore[assignment]
        self._agent_of[sid] = agent.id
        await self._presence.agent_connected(agent, sid)

    async def on_disconnect(self, sid: str, reason: Any = None) -> None:
        self._tokens.pop(sid, None)
        agent_id = self._agent_of.pop(sid, None)
        if agent_id is not None:
            await self._presence.agent_disconnected(agent_id, sid)

    async def _agent(self, sid: str) -> Agent:
        return await self._auth.authenticate(self._tokens.get(sid))

    async def _case(self, agent: Agent, conversation_id: str) -> str:
        """The id of a case the agent may read (handoff/cases/access.py): 404 for no such case, else 403."""
        await self._access.check(agent, await self._conversations.get(conversation_id))
        return conversation_id

    def _limits(self) -> dict[str, int]:
        return {MESSAGE_LENGTH: self._settings.max_message_length}

    async def on_list_cases(self, sid: str, payload: Any) -> dict[str, Any]:
        agent = await self._agent(sid)
        wire.ListCases.model_validate({} if payload is None else payload)
        conversations = self._conversations
        queues = conversations.routing.queues_of(agent.username)
        mine = await conversations.store.conversations_in([Status.WITH_AGENT], agent.id)
        return {
            "queued": [case_summary(c, place, self._settings.sla_warning_ratio)
                       for c, place in await self._queues.waiting(queues)],
            "mine": [await conversations.summary(c) for c in mine],
            "queues": [{"name": q.name, "assignment": q.assignment} for q in queues],
            "all_queues": [q.name for q in conversations.routing.queues],
            "colleagues": await self._presence.colleagues(agent),
            "resolution_categories": list(self._settings.resolution_categories),
        }

    async def on_accept_case(self, sid: str, payload: Any) -> dict[str, Any]:
        agent = await self._agent(sid)
        conversation_id = await self._case(agent, wire.CaseRef.model_validate(payload).conversation_id)
        conversation = await self._conversations.accept(agent, conversation_id)
        messages = await self._conversations.store.messages_after(conversation.id)
        return {
            "case": await self._conversations.summary(await self._conversations.get(conversation.id)),
            "messages": [message_view(m) for m in messages],
        }

    async def _message(self, agent: Agent, payload: Any) -> tuple[str, str]:
        sent = wire.AgentMessage.model_validate(payload, context=self._limits())
        return await self._case(agent, sent.conversation_id), sent.text

    async def on_send_message(self, sid: str, payload: Any) -> dict[str, Any]:
        agent = await self._agent(sid)
        message = await self._conversations.agent_message(agent, *await self._message(agent, payload))
        return {"message": message_view(message)}

    async def on_add_note(self, sid: str, payload: Any) -> dict[str, Any]:
        agent = await self._agent(sid)
        message = await self._conversations.add_note(agent, *await self._message(agent, payload))
        return {"message": message_view(message)}

    async def on_transfer_case(self, sid: str, payload: Any) -> dict[str, Any]:
        agent = await self._agent(sid)
        asked = wire.TransferCase.model_validate(payload, context=self._limits())
        conversation = await self._conversations.transfer(agent, await self._case(agent, asked.conversation_id),
                                                          asked.note, asked.queue, asked.to_agent)
        return {"case": await self._conversations.summary(conversation)}

    async def on_return_to_bot(self, sid: str, payload: Any) -> dict[str, Any]:
        agent = await self._agent(sid)
        conversation_id = await self._case(agent, wire.CaseRef.model_validate(payload).conversation_id)
        conversation = await self._conversations.return_to_bot(agent, conversation_id)
        return {"case": await self._conversations.summary(conversation)}

    async def on_set_typing(self, sid: str, payload: Any) -> dict[str, Any]:
        agent = await self._agent(sid)
        asked = wire.AgentTyping.model_validate(payload)
        await self._conversations.agent_typing(agent, await self._case(agent, asked.conversation_id), asked.typing)
        return {}

    async def on_set_availability(self, sid: str, payload: Any) -> dict[str, Any]:
        agent = await self._agent(sid)
        availability = wire.SetAvailability.model_validate(payload).availability.value
        return {"availability": await self._presence.set_availability(agent, availability)}

    async def on_resolve_case(self, sid: str, payload: Any) -> dict[str, Any]:
        agent = await self._agent(sid)
        asked = wire.ResolveCase.model_validate(payload)
        conversation = await self._conversations.resolve(agent, await self._case(agent, asked.conversation_id),
                                                         asked.category)
        return {"case": await self._conversations.summary(conversation)}
