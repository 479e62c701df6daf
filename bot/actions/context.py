"""What the custom actions need from the app process, set once at start-up (and on index swaps)."""

from __future__ import annotations

import dataclasses

from knowledge_index.index import KnowledgeIndex


@dataclasses.dataclass(frozen=True)
class ActionContext:
    index: KnowledgeIndex  # brings the decision thresholds for each question's language (`index.route`)
    top_k: int = 3


_current: ActionContext | None = None


def configure(context: ActionContext) -> None:
    global _current
    _current = context


def current() -> ActionContext:
    if _current is None:
        raise RuntimeError("the actions' context is not configured; the app sets it at start-up")
    return _current
