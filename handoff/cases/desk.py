"""The cases of one app process, wired: `Conversations` owns every change and announces it; queue places,
automatic assignment, the survey request, who has held a case (`CaseAccess`) and the audit log
(`AuditTrail`) listen; presence and the sweeper use it."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable

import socketio

from handoff.cases.access import CaseAccess
from handoff.cases.assignment import Assignment
from handoff.cases.audit_trail import AuditTrail
from handoff.cases.bot_turns import Bot
from handoff.cases.channels import Channels
from handoff.cases.conversations import Conversations
from handoff.cases.events import Background, CaseChanged
from handoff.cases.pending_turns import PendingTurns
from handoff.cases.presence import Presence
from handoff.cases.queues import Queues
from handoff.cases.routing import Routing
from handoff.cases.sweeper import Sweeper
from handoff.limits.limiter import Limiter
from handoff.settings import Settings
from handoff.staff.audit import AuditLog
from handoff.store.records import Status
from handoff.store.sql import SqlCaseStore
from handoff.surveys.questions import survey_request


@dataclasses.dataclass(frozen=True)
class Desk:
    conversations: Conversations
    presence: Presence
    queues: Queues
    assignment: Assignment
    sweeper: Sweeper
    background: Background
    access: CaseAccess  # who may read a case
    pending: PendingTurns  # customer messages an earlier run left without a bot turn

    async def start(self, alone: bool) -> None:
        """Join the nodes sharing the store (``alone``: the only one, which forgets an earlier run's sockets),
        and answer the customer messages left without a bot turn (handoff/cases/pending_turns.py)."""
        await self.presence.node_started(alone)
        self.pending.start(alone)

    async def stop(self) -> None:
        self.background.cancel()
        await self.presence.node_stopped()


def open_desk(store: SqlCaseStore, sio: socketio.AsyncServer, bot: Bot, settings: Settings,
              article_tags: Callable[[str], Iterable[str]] = lambda article_id: (),
              channels: Channels | None = None, audit: AuditLog | None = None,
              limiter: Limiter | None = None) -> Desk:
    """``bot``: the bot's queue in front of Rasa (`BotTurns`), or Rasa itself; ``article_tags``: the
    knowledge index's tags of an article, for routing; ``channels``: where customers are reached (the
    sockets of the web widget and mobile apps when None); ``audit``: where staff actions on cases are
    recorded (the store's audit log when None); ``limiter``: the limits of hand-overs (none when None)."""
    channels = channels or Channels(sio)
    background = Background()
    routing = Routing(settings.queues, settings.agents, settings.agent_capacity, settings.sla_warning_ratio)
    presence = Presence(store, sio, routing, settings.sweep_interval_seconds)
    queues = Queues(store, routing, presence, channels, background, article_tags)
    conversations = Conversations(store, sio, bot, settings, queues, channels, limiter)
    assignment = Assignment(conversations, queues, background)

    async def request_survey(change: CaseChanged) -> None:
        """A resolved case asks its customer the survey's questions."""
        if change.after.status == Status.RESOLVED:
            await conversations.tell(change.after, "system.survey", survey_request(settings.survey_questions))

    access = CaseAccess(store, routing)
    trail = AuditTrail(store, audit or AuditLog(store))
    conversations.changed.subscribe(request_survey)
    conversations.changed.subscribe(access.on_case_changed)  # before assignment, which may change it again
    conversations.changed.subscribe(trail.on_case_changed)
    conversations.changed.subscribe(queues.on_case_changed)
    conversations.changed.subscribe(assignment.on_case_changed)
    conversations.noted.subscribe(trail.on_note_added)
    presence.agents_changed.subscribe(queues.on_agents_changed)
    presence.agents_changed.subscribe(assignment.on_agents_changed)
    pending = PendingTurns(conversations, bot, background, settings.redis_url, settings.rasa_timeout_seconds)
    return Desk(conversations, presence, queues, assignment, Sweeper(conversations, presence, assignment, settings),
                background, access, pending)
