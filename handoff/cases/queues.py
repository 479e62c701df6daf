"""The queues: which cases wait where, in the order they are served, each customer's place and expected
wait, and the queue, priority and SLA deadlines of a case entering the queue. Waiting customers are sent
their place again whenever a case enters or leaves a queue or the agents available change."""

from __future__ import annotations

import asyncio
import math
import statistics
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from handoff.cases.channels import Channels
from handoff.cases.events import AgentsChanged, Background, CaseChanged
from handoff.cases.presence import Presence
from handoff.cases.routing import BREACHED, PRIORITIES, WARNING, QueueSpec, Routing, order_key
from handoff.cases.views import QueuePlace, conversation_view
from handoff.metrics.node import QueueLoad
from handoff.store.records import Agent, Conversation, Message, Status
from handoff.store.sql import SqlCaseStore

HANDLING_SAMPLE = 20  # recent cases an agent resolved, for the expected wait
MIN_HANDLING_SAMPLES = 3
POSITIONS_DELAY = 0.25  # seconds: queue places are sent at most this often


def urgent(c: Conversation) -> bool:
    """An SLA target of the case is close to breach, or breached."""
    return c.first_response_sla in (WARNING, BREACHED) or c.resolution_sla in (WARNING, BREACHED)


def _topics(bot_messages: list[Message]) -> tuple[list[str], str | None]:
    """The articles the bot answered with or found closest, newest first, and the language it heard."""
    articles: list[str] = []
    language = None
    for m in reversed(bot_messages):
        data = m.data
        language = language or data.get("language")
        found = (data.get("article") or {}).get("id") or data.get("article_id")
        if not found and data.get("hits"):
            found = data["hits"][0].get("article_id")
        if found and found not in articles:
            articles.append(found)
    return articles, language


class Queues:
    def __init__(self, store: SqlCaseStore, routing: Routing, presence: Presence, channels: Channels,
                 background: Background, article_tags: Callable[[str], Iterable[str]]) -> None:
        self.store = store
        self.routing = routing
        self._presence = presence
        self._channels = channels
        self._background = background
        self._article_tags = article_tags  # the knowledge index's tags of an article, for routing
        self._positions_pending = False
        self._places_sent: dict[str, QueuePlace] = {}  # the place each waiting customer was sent last

    async def queues(self) -> dict[str, list[Conversation]]:
        """Every queue's cases in the order they are served (`routing.order_key`)."""
        grouped: dict[str, list[Conversation]] = {q.name: [] for q in self.routing.queues}
        for c in await self.store.conversations_in([Status.QUEUED]):
            grouped[self.routing.queue(c.queue).name].append(c)
        for cases in grouped.values():
            cases.sort(key=lambda c: (*order_key(urgent(c), c.priority, c.queued_at or c.created_at), c.id))
        return grouped

    async def waiting(self, queues: Iterable[QueueSpec]) -> list[tuple[Conversation, QueuePlace]]:
        """The cases waiting in ``queues``, each queue's in the order they are served, with their places."""
        grouped = await self.queues()
        found: list[tuple[Conversation, QueuePlace]] = []
        for queue in queues:
            cases = grouped[queue.name]
            found += zip(cases, await self._places(queue, list(range(1, len(cases) + 1))), strict=True)
        return found

    async def place(self, conversation: Conversation) -> QueuePlace | None:
        """The case's place in its queue (the order of `queues`), counted by the store: one count, not the
        whole queue read, so that placing many cases at once stays linear."""
        if conversation.status != Status.QUEUED:
            return None
        queue = self.routing.queue(conversation.queue)
        catch_all = queue is self.routing.queues[-1]  # it also takes the cases of queues no longer configured
        position = await self.store.queue_position(
            conversation.id, [queue.name], [q.name for q in self.routing.queues] if catch_all else None,
            (WARNING, BREACHED), PRIORITIES)
        return None if position is None else (await self._places(queue, [position]))[0]

    async def loads(self, now: datetime) -> dict[str, QueueLoad]:
        """Every queue's waiting cases and the longest wait (for the metrics), from one grouped count; the
        cases of queues no longer configured count in the last queue, which takes them."""
        loads = {q.name: (0, now) for q in self.routing.queues}
        for name, (waiting, oldest) in (await self.store.queue_counts()).items():
            queue = self.routing.queue(name).name
            counted, since = loads[queue]
            loads[queue] = (counted + waiting, min(since, oldest))
        return {name: QueueLoad(waiting, max((now - since).total_seconds(), 0.0) if waiting else 0.0)
                for name, (waiting, since) in loads.items()}

    async def available_for(self, queue: QueueSpec) -> list[Agent]:
        """The agents signed in (on any node), available, and with the queue's skills."""
        return [agent for agent in await self._presence.available_agents()
                if self.routing.may_take(agent.username, queue)]

    async def _places(self, queue: QueueSpec, positions: list[int]) -> list[QueuePlace]:
        """Queue places with the expected wait: each case ahead takes an agent's median handling time
        of the last `HANDLING_SAMPLE` cases, shared among the agents available for the queue; unknown
        with fewer than `MIN_HANDLING_SAMPLES` cases handled, or with nobody available."""
        online = len(await self.available_for(queue))
        handled = await self.store.recent_durations(Status.WITH_AGENT, Status.RESOLVED, HANDLING_SAMPLE)
        median = statistics.median(handled) if len(handled) >= MIN_HANDLING_SAMPLES else None
        return [QueuePlace(position, online, None if median is None or not online
                           else math.ceil(position * median / online)) for position in positions]

    async def routed(self, conversation: Conversation, now: datetime) -> dict[str, Any]:
        """A case entering the queue: its queue (from the articles and language of its bot turns, and its
        channel), its priority and its SLA deadlines."""
        bot_turns = [m for m in await self.store.messages_after(conversation.id) if m.sender == "bot"]
        articles, language = _topics(bot_turns)
        topics = {tag for a in articles for tag in self._article_tags(a)} | set(articles)
        queue = self.routing.queue_for(topics, language or conversation.locale[:2], conversation.channel)
        entitlement = await self.store.active_entitlement(conversation.customer_id, now)
        priority = self.routing.priority(conversation.customer_preferred, entitlement)
        due = self.routing.deadlines(queue, priority, now)
        return {"queue": queue.name, "priority": priority, "entitlement": entitlement,
                "first_response_due_at": due.first_response,
                "resolution_due_at": due.resolution, "first_response_at": None, "first_response_sla": None,
                "resolution_sla": None}

    # -- telling waiting customers their place ---------------------------------------------------------

    async def on_case_changed(self, change: CaseChanged) -> None:
        if Status.QUEUED in (change.before.status, change.after.status):
            self.positions_changed()

    async def on_agents_changed(self, change: AgentsChanged) -> None:
        self.positions_changed()

    def positions_changed(self) -> None:
        """The queues or the agents changed: every waiting customer gets their place and expected wait,
        once for all the changes of `POSITIONS_DELAY` seconds (a busy queue changes many times a second)."""
        if self._positions_pending:
            return
        self._positions_pending = True
        self._background.run(self._publish_positions())

    async def _publish_positions(self) -> None:
        """Send the waiting customers whose place (or expected wait, or agents available) changed since this
        process last sent it: a case joining the back of a queue of N moves nobody ahead of it, so filling a
        queue sends N places, not N * N / 2."""
        await asyncio.sleep(POSITIONS_DELAY)
        self._positions_pending = False
        sent, self._places_sent = self._places_sent, {}
        for conversation, place in await self.waiting(self.routing.queues):
            self._places_sent[conversation.id] = place
            if sent.get(conversation.id) != place:
                await self._channels.of(conversation.channel).case_updated(conversation.id,
                                                                           conversation_view(conversation, place))
