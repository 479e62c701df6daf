"""The conversation (case) lifecycle: statuses and the transitions allowed between them.

 bot --(escalate)--> queued --(accept)--> with_agent --(resolve)--> resolved --> survey
  ^                     |                     |   \\--(transfer)--> queued
  |                     +--(customer leaves)--> abandoned
  +------------------(return to bot)----------+
 bot --(answer helped / goodbye / idle)--> resolved (by bot) --> survey
"""

from __future__ import annotations

BOT = "bot"
QUEUED = "queued"
WITH_AGENT = "with_agent"
RESOLVED = "resolved"
ABANDONED = "abandoned"

ALLOWED: dict[str, frozenset[str]] = {
    BOT: frozenset({QUEUED, RESOLVED}),
    QUEUED: frozenset({WITH_AGENT, ABANDONED}),
    WITH_AGENT: frozenset({RESOLVED, QUEUED, BOT}),
    RESOLVED: frozenset(),
    ABANDONED: frozenset(),
}

CLOSED = frozenset({RESOLVED, ABANDONED})
OPEN = frozenset({BOT, QUEUED, WITH_AGENT})


def allowed(current: str, target: str) -> bool:
    return target in ALLOWED.get(current, frozenset())
