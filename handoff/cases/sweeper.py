"""The sweep, every ``sweep_interval_seconds``: abandon queued cases whose customer left long ago without
leaving a message (or left it more than ``left_message_days`` ago); resolve idle bot conversations; return
the cases of an agent gone past the grace period to the head of the queue; record SLA warnings and
breaches. Every change goes through `Conversations`, under the case's lock; a change another node made
meanwhile is left alone."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from handoff import catalogue
from handoff.cases.assignment import Assignment
from handoff.cases.conversations import Conversations
from handoff.cases.presence import Presence
from handoff.cases.routing import BREACHED, WARNING
from handoff.errors import ApiError
from handoff.metrics import series
from handoff.settings import Settings
from handoff.store.records import Conversation, Reason, Status, utcnow

log = logging.getLogger(__name__)


class Sweeper:
    def __init__(self, conversations: Conversations, presence: Presence, assignment: Assignment,
                 settings: Settings) -> None:
        self._conversations = conversations
        self._store = conversations.store
        self._routing = conversations.routing
        self._presence = presence
        self._assignment = assignment
        self._settings = settings

    async def sweep(self) -> None:
        now = utcnow()
        await self._presence.heartbeat()
        open_cases = await self._store.conversations_in([Status.QUEUED, Status.WITH_AGENT])
        await self._check_slas(open_cases, now)
        grace_before = now - timedelta(seconds=self._settings.agent_grace_seconds)
        agents_online = await self._store.connected("agent")
        for conversation in open_cases:
            if conversation.status != Status.WITH_AGENT:
                continue
            agent_id = conversation.agent_id or ""
            if agent_id not in agents_online and self._presence.agent_gone_since(agent_id, now) <= grace_before:
                await self._requeue(conversation.id, agent_id)
        abandon_before = now - timedelta(seconds=self._settings.abandon_after_seconds)
        left_since = now - timedelta(days=self._settings.left_message_days)
        customers_online = await self._store.connected("customer")
        for conversation in open_cases:
            if conversation.status != Status.QUEUED or conversation.id in customers_online:
                continue
            if await self._left_a_message(conversation, left_since):
                continue
            if self._presence.customer_gone_since(conversation.id, now) <= abandon_before:
                await self._sweep_one(conversation.id, Status.QUEUED, Status.ABANDONED, Reason.CUSTOMER_LEFT)
        idle_before = now - timedelta(seconds=self._settings.bot_idle_seconds)
        for conversation in await self._store.idle_conversations(Status.BOT, idle_before):
            await self._sweep_one(conversation.id, Status.BOT, Status.RESOLVED, Reason.IDLE)
        self._assignment.wake()

    async def _left_a_message(self, conversation: Conversation, since: datetime) -> bool:
        """The customer wrote while waiting, ``since`` then (`left_message_days`): the case waits for an agent
        though they are away. Not for ever: a script writing once into each case would fill the queues."""
        last = await self._store.last_message_from(conversation.id, ["customer"])
        return (last is not None and conversation.queued_at is not None
                and last.created_at > max(conversation.queued_at, since))

    async def _check_slas(self, cases: list[Conversation], now: datetime) -> None:
        """The first-response and resolution targets of open ``cases``: the warning and the breach each
        become a timeline event once, and the case moves up its queue (`queues.urgent`)."""
        for case in cases:
            first = self._routing.sla_state(case.queued_at, case.first_response_due_at, case.first_response_at, now)
            resolution = self._routing.sla_state(case.queued_at, case.resolution_due_at, None, now)
            changed = False
            for target, state, was in (("first_response", first, case.first_response_sla),
                                       ("resolution", resolution, case.resolution_sla)):
                if state in (WARNING, BREACHED) and state != was and await self._store.change_sla(
                        case.id, target, expected=was, state=state, status=case.status):
                    series.SLA_EVENTS.labels(target=target, state=state).inc()  # once: the node that recorded it
                    changed = True
            if not changed:
                continue
            await self._conversations.publish_case(await self._conversations.get(case.id))
            if case.status == Status.QUEUED:
                self._conversations.queues.positions_changed()

    async def _requeue(self, conversation_id: str, agent_id: str) -> None:
        async with self._conversations.locked(conversation_id):
            conversation = await self._conversations.get(conversation_id)
            if conversation.status != Status.WITH_AGENT or conversation.agent_id != agent_id:
                return
            language = await self._conversations.customer_language(conversation)
            name = conversation.agent_name or catalogue.text(language, "system.an_agent")
            try:
                await self._conversations.back_to_queue(conversation, "system.agent_disconnected", {"agent": name},
                                                        Reason.AGENT_DISCONNECTED, "system")
            except ApiError as exc:  # another node changed it meanwhile
                log.info("sweep left case %s: %s", conversation.number, exc.message)

    async def _sweep_one(self, conversation_id: str, expected: Status, target: Status, reason: Reason) -> None:
        async with self._conversations.locked(conversation_id):
            conversation = await self._conversations.get(conversation_id)
            if conversation.status == expected:
                try:
                    await self._conversations.transition(conversation, target, reason=reason, actor="system")
                except ApiError as exc:  # another node changed it meanwhile
                    log.info("sweep left case %s: %s", conversation.number, exc.message)
