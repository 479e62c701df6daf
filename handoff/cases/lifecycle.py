"""The conversation (case) lifecycle: statuses and the transitions allowed between them.

 bot --(escalate)--> queued --(accept)--> with_agent --(resolve)--> resolved --> survey
  ^                     |                     |   \\--(transfer)--> queued
  |                     +--(customer leaves)--> abandoned
  +------------------(return to bot)----------+
 bot --(answer helped / goodbye / idle)--> resolved (by bot) --> survey
 bot, queued, with_agent --(a supervisor cancels: spam, a test, a duplicate)--> cancelled
"""

from __future__ import annotations

BOT = "bot"
QUEUED = "queued"
WITH_AGENT = "with_agent"
RESOLVED = "resolved"
ABANDONED = "abandoned"
CANCELLED = "cancelled"

ALLOWED: dict[str, frozenset[str]] = {
    BOT: frozenset({QUEUED, RESOLVED, CANCELLED}),
    QUEUED: frozenset({WITH_AGENT, ABANDONED, CANCELLED}),
    WITH_AGENT: frozenset({RESOLVED, QUEUED, BOT, CANCELLED}),
    RESOLVED: frozenset(),
    ABANDONED: frozenset(),
    CANCELLED: frozenset(),
}

CLOSED = frozenset({RESOLVED, ABANDONED, CANCELLED})
OPEN = frozenset({BOT, QUEUED, WITH_AGENT})


def allowed(current: str, target: str) -> bool:
    return target in ALLOWED.get(current, frozenset())
