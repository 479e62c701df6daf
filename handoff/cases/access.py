"""Who may read a case (docs/security.md, "Authorization by need"): supervisors every case; an agent the cases
of the queues they may take (a case the bot kept counts in the queue routing gives a case without one,
the last) and the cases they have held, whatever their queues since. The same rule opens a case's
transcript, notes, survey and timeline over REST, the socket events that act on a case by id, and the
cases a contact's page lists. A refused read is 403 ``forbidden``: case ids are random and unguessable,
and the message tells an agent why a link a colleague sent does not open.

Who has held a case is kept as it happens (`on_case_changed`, a listener of `CaseChanged`), in the store's
``case_holders``."""

from __future__ import annotations

from handoff.cases.events import CaseChanged
from handoff.cases.routing import Routing
from handoff.errors import ApiError
from handoff.staff.accounts import SUPERVISOR
from handoff.store.records import Agent, Conversation, Status
from handoff.store.sql import SqlCaseStore


class CaseAccess:
    def __init__(self, store: SqlCaseStore, routing: Routing) -> None:
        self._store = store
        self._routing = routing

    async def on_case_changed(self, change: CaseChanged) -> None:
        """An agent who gets a case holds it from now on (and so may read it later)."""
        after = change.after
        if after.status == Status.WITH_AGENT and after.agent_id is not None:
            await self._store.add_case_holder(after.id, after.agent_id)

    def _in_queues(self, agent: Agent, case: Conversation) -> bool:
        return self._routing.may_take(agent.username, self._routing.queue(case.queue))

    async def readable(self, agent: Agent, cases: list[Conversation]) -> list[Conversation]:
        """Those of ``cases`` the agent may read, in their order."""
        if SUPERVISOR in agent.roles:
            return cases
        others = [c.id for c in cases if not self._in_queues(agent, c) and c.agent_id != agent.id]
        held = await self._store.held_by(agent.id, others)
        return [c for c in cases if c.id not in others or c.id in held]

    async def check(self, agent: Agent, case: Conversation) -> Conversation:
        """``case``, if the agent may read it; else 403 ``forbidden``."""
        if not await self.readable(agent, [case]):
            raise ApiError("forbidden", f"case {case.number} is in queue {self._routing.queue(case.queue).name}, "
                                        f"which {agent.username} may not take, and was never theirs")
        return case
