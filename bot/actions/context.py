"""What the custom actions need from the app process, set at start-up (and on index swaps).

An app serves its actions, its pages and its jobs with its own index: `create_app` scopes every request
and background job of the app to the app's context (`scoped`). Outside such a scope (a command, a
process with one app) the one `configure`d last is used.
"""

from __future__ import annotations

import contextvars
import dataclasses
from collections.abc import Callable

from knowledge_index.index import KnowledgeIndex


@dataclasses.dataclass(frozen=True)
class ActionContext:
    index: KnowledgeIndex  # brings the decision thresholds for each question's language (`index.route`)
    top_k: int = 3


_current: ActionContext | None = None
# The context of the app whose request or job runs now: a function, as an app swaps its index while it runs.
_scope: contextvars.ContextVar[Callable[[], ActionContext | None] | None] = contextvars.ContextVar(
    "casedesk_action_context", default=None)


def configure(context: ActionContext) -> None:
    global _current
    _current = context


def scoped(source: Callable[[], ActionContext | None]) -> contextvars.Token[Callable[[], ActionContext | None] | None]:
    """From now on in this task (and the tasks it starts), `current` is what ``source`` gives; returns the
    token to end the scope with (`unscoped`)."""
    return _scope.set(source)


def unscoped(token: contextvars.Token[Callable[[], ActionContext | None] | None]) -> None:
    _scope.reset(token)


def current() -> ActionContext:
    source = _scope.get()
    context = source() if source is not None else _current
    if context is None:
        raise RuntimeError("the actions' context is not configured; the app sets it at start-up")
    return context
