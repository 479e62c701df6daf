"""The agent namespace ``/agent``: signed-in agents only; every event re-checks the sign-in (`AgentAuth`),
then validates its payload with its model (handoff/wire/agent.py, `AGENT_EVENTS`). When sessions end (a
sign-out, a change to the account, expiry) their sockets end on every node: `end_sockets` at once (through
Redis for another node's sockets), `end_lapsed` for what this node finds in the store, and `SocketsFromAfar`
from a process that serves no sockets (`casedesk agent`), through Redis."""

from __future__ import annotations

import contextlib
from typing import Any

import socketio

from handoff.cases.desk import Desk
from handoff.cases.presence import AGENT, agent_room
from handoff.cases.views import case_summary, message_view
from handoff.errors import ApiError
from handoff.settings import Settings
from handoff.staff.accounts import AgentAuth, SessionsEnded, token_digest
from handoff.store.records import Agent, Status
from handoff.store.sql import SqlCaseStore
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
        self._resuming: set[str] = set()  # sockets that connected with ``resume`` and have not resumed yet
        auth.sessions_ended.append(self.end_sockets)

    @property
    def connected(self) -> int:
        """Agents with a socket on this node (the metrics)."""
        return len(set(self._agent_of.values()))

    async def on_connect(self, sid: str, environ: dict[str, Any], auth: Any = None) -> None:
        token = auth.get("token") if isinstance(auth, dict) else None
        try:
            agent = await self._auth.authenticate(token, fresh=True)  # a session ended on another node is over
        except ApiError as exc:
            raise socketio.exceptions.ConnectionRefusedError(exc.message, exc.body()["error"]) from None
        self._tokens[sid] = token  # type: ignore[assignment]
        self._agent_of[sid] = agent.id
        resumes = isinstance(auth, dict) and auth.get("resume") is True  # its cases' messages from resume_cases on
        if resumes:
            self._resuming.add(sid)
        await self._presence.agent_connected(agent, sid, token_digest(token),  # type: ignore[arg-type]
                                             own_room=not resumes)

    async def on_disconnect(self, sid: str, reason: Any = None) -> None:
        token = self._tokens.pop(sid, None)
        agent_id = self._agent_of.pop(sid, None)
        self._resuming.discard(sid)
        if token is not None and reason == self.server.reason.SERVER_DISCONNECT:
            self._auth.forget(token_digest(token))
        if agent_id is not None:
            await self._presence.agent_disconnected(agent_id, sid)

    async def end_sockets(self, ended: SessionsEnded) -> None:
        """End the sockets of the ended sessions, wherever they are: the node holding each gets the
        disconnect through Redis (python-socketio's manager), and presence there sees the agent gone."""
        store = self._conversations.store
        for sid in await store.agent_sockets(ended.agent_id, ended.session_hashes):
            await self._end(sid, ended.reason)

    async def end_lapsed(self) -> None:
        """End this node's sockets whose session is over in the store (expired, or ended where no socket
        of it was told: by `casedesk agent` without Redis)."""
        digests = {sid: token_digest(token) for sid, token in self._tokens.items()}
        if not digests:
            return
        store = self._conversations.store
        live = await store.live_sessions(sorted(set(digests.values())))
        lapsed = {sid: digest for sid, digest in digests.items() if digest not in live}
        expired = await store.expired_sessions(sorted(set(lapsed.values()))) if lapsed else set()
        for sid, digest in lapsed.items():
            await self._end(sid, "expired" if digest in expired else "ended")

    async def _end(self, sid: str, reason: str) -> None:
        await self.emit("session_ended", {"reason": reason}, to=sid, namespace=AGENT)
        await self.server.disconnect(sid, namespace=AGENT)

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

    async def on_resume_cases(self, sid: str, payload: Any) -> dict[str, Any]:
        """What the socket missed of the cases it names, after the last sequence number it saw of each: read
        under the cases' locks, while a socket that connected with ``resume`` enters its agent's room, so
        that each message reaches it exactly once, here or live after (as the customer's resume_conversation).
        A case the agent may no longer read (erased, say) is left out."""
        agent = await self._agent(sid)
        asked = wire.ResumeCases.model_validate({} if payload is None else payload)
        after: dict[str, int] = {}
        for seen in asked.cases:
            try:
                after[await self._case(agent, seen.conversation_id)] = seen.after_seq
            except ApiError as exc:
                if exc.code not in ("not_found", "forbidden"):
                    raise
        async with contextlib.AsyncExitStack() as locks:
            for conversation_id in sorted(after):  # always in the same order: no deadlock with another resume
                await locks.enter_async_context(self._conversations.locked(conversation_id))
            if sid in self._resuming:
                self._resuming.discard(sid)
                await self.enter_room(sid, agent_room(agent.id))
            store = self._conversations.store
            missed = [m for case, seq in after.items() for m in await store.messages_after(case, seq)]
        return {"messages": [message_view(m) for m in missed]}

    async def _message(self, agent: Agent, payload: Any) -> tuple[str, str, str | None]:
        sent = wire.AgentMessage.model_validate(payload, context=self._limits())
        return await self._case(agent, sent.conversation_id), sent.text, sent.client_id

    async def on_send_message(self, sid: str, payload: Any) -> dict[str, Any]:
        agent = await self._agent(sid)
        sent = wire.AgentMessage.model_validate(payload, context=self._limits())
        try:  # stored only while the case is the agent's, so they may read it: no read before (the hot path)
            message = await self._conversations.agent_message(agent, sent.conversation_id, sent.text,
                                                                  sent.client_id)
        except ApiError:
            await self._case(agent, sent.conversation_id)  # 404 or 403 first, as for every event on a case
            raise
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


class SocketsFromAfar:
    """Ends the sockets of ended sessions from a process that serves none (`casedesk agent`): python-socketio's
    write-only Redis manager tells the node holding each socket, as `AgentNamespace.end_sockets` does."""

    def __init__(self, store: SqlCaseStore, redis_url: str) -> None:
        self._store = store
        self._manager = socketio.AsyncRedisManager(redis_url, write_only=True)

    async def end_sockets(self, ended: SessionsEnded) -> None:
        for sid in await self._store.agent_sockets(ended.agent_id, ended.session_hashes):
            await self._manager.emit("session_ended", {"reason": ended.reason}, room=sid, namespace=AGENT)
            await self._manager.can_disconnect(sid, AGENT)  # not here: published for the node that has it

    async def close(self) -> None:
        if self._manager.redis is not None:
            await self._manager.redis.aclose()
