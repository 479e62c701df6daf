"""Automatic assignment: each case of a queue with ``assignment = "auto"``, in the order it is served, goes
to the least-loaded agent who is available, has the queue's skills and is below their capacity. It runs
outside any conversation's lock, woken when a case enters or leaves the queue or an agent's hands, when
the agents available change, and after every sweep."""

from __future__ import annotations

import asyncio
import logging

from handoff.cases.conversations import Conversations
from handoff.cases.events import AgentsChanged, Background, CaseChanged
from handoff.cases.queues import Queues
from handoff.cases.routing import AUTO, QueueSpec
from handoff.errors import ApiError
from handoff.store.records import Agent, Reason, Status

log = logging.getLogger(__name__)


class Assignment:
    def __init__(self, conversations: Conversations, queues: Queues, background: Background) -> None:
        self._conversations = conversations
        self._queues = queues
        self._routing = queues.routing
        self._background = background
        self._lock = asyncio.Lock()
        self._pending = False

    async def on_case_changed(self, change: CaseChanged) -> None:
        if {change.before.status, change.after.status} & {Status.QUEUED, Status.WITH_AGENT}:
            self.wake()  # a case waits, or an agent has room again

    async def on_agents_changed(self, change: AgentsChanged) -> None:
        self.wake()

    def wake(self) -> None:
        """Assign soon, once for any number of wake-ups meanwhile."""
        if self._pending or not any(q.assignment == AUTO for q in self._routing.queues):
            return
        self._pending = True
        self._background.run(self._assign_waiting())

    async def _assign_waiting(self) -> None:
        async with self._lock:
            self._pending = False
            try:
                for queue_name, cases in (await self._queues.queues()).items():
                    queue = self._routing.queue(queue_name)
                    if queue.assignment != AUTO:
                        continue
                    for case in cases:
                        agent = await self._least_loaded(queue)
                        if agent is None:
                            break
                        async with self._conversations.locked(case.id):
                            current = await self._conversations.get(case.id)
                            if current.status == Status.QUEUED:
                                await self._conversations.assign(current, agent, Reason.ASSIGNED, "system")
            except ApiError as exc:  # a change meanwhile: the next wake-up tries again
                log.info("automatic assignment stopped: %s", exc.message)

    async def _least_loaded(self, queue: QueueSpec) -> Agent | None:
        loads = await self._conversations.store.agent_loads()
        room_left = [(loads.get(a.id, 0), i, a) for i, a in enumerate(await self._queues.available_for(queue))
                     if loads.get(a.id, 0) < self._routing.capacity(a.username)]
        return min(room_left)[2] if room_left else None
