"""The case lifecycle: the transitions allowed between its statuses (`Status`, handoff/store/records.py).

 bot --(escalate)--> queued --(accept)--> with_agent --(resolve)--> resolved --> survey
  ^                     |                     |   \\--(transfer)--> queued
  |                     +--(customer leaves)--> abandoned
  +------------------(return to bot)----------+
 bot --(answer helped / goodbye / idle)--> resolved (by bot) --> survey
 bot, queued, with_agent --(a supervisor cancels: spam, a test, a duplicate)--> cancelled
"""

from __future__ import annotations

from handoff.store.records import Status

ALLOWED: dict[Status, frozenset[Status]] = {
    Status.BOT: frozenset({Status.QUEUED, Status.RESOLVED, Status.CANCELLED}),
    Status.QUEUED: frozenset({Status.WITH_AGENT, Status.ABANDONED, Status.CANCELLED}),
    Status.WITH_AGENT: frozenset({Status.RESOLVED, Status.QUEUED, Status.BOT, Status.CANCELLED}),
    Status.RESOLVED: frozenset(),
    Status.ABANDONED: frozenset(),
    Status.CANCELLED: frozenset(),
}


def allowed(current: Status, target: Status) -> bool:
    return target in ALLOWED.get(current, frozenset())
