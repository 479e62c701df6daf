"""What the cases announce, and who listens: `Conversations` owns every change and announces it; queue
places, automatic assignment, the survey request, who has held a case (access.py) and the audit log
(audit_trail.py) subscribe (handoff/cases/desk.py wires them)."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

from handoff.store.records import Agent, Conversation, Reason

T = TypeVar("T")


@dataclasses.dataclass(frozen=True)
class CaseChanged:
    """A case's status changed (stored, with its timeline event); announced before the case is published."""

    before: Conversation
    after: Conversation
    reason: Reason
    actor: str


@dataclasses.dataclass(frozen=True)
class NoteAdded:
    """An agent added a private note to a case (stored): its sequence number in the transcript."""

    conversation_id: str
    seq: int
    agent: Agent


@dataclasses.dataclass(frozen=True)
class AgentsChanged:
    """An agent signed in or out, or set their availability: queue places and assignment may change."""


class Signal(Generic[T]):
    """Listeners of one kind of event, called in the order they subscribed."""

    def __init__(self) -> None:
        self._listeners: list[Callable[[T], Awaitable[None]]] = []

    def subscribe(self, listener: Callable[[T], Awaitable[None]]) -> None:
        self._listeners.append(listener)

    async def notify(self, event: T) -> None:
        for listener in self._listeners:
            await listener(event)


class Background:
    """The background jobs of one app process, cancelled when it stops."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Future[None]] = set()

    def run(self, job: Awaitable[None]) -> None:
        task = asyncio.ensure_future(job)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def cancel(self) -> None:
        for task in list(self._tasks):
            task.cancel()
