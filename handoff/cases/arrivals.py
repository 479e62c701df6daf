"""Waiting for a conversation's next messages: the long-polling of the REST API for apps
(`GET /api/conversations/{id}/messages?wait=`).

`Conversations.post` calls `posted` after every message it stores, which wakes this process's waiters
of that conversation at once. A message stored by another app process (several nodes share one store)
wakes nobody here, so a waiter also reads the store again every ``recheck`` seconds: it sees such a
message at most that much later.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


class Arrivals:
    def __init__(self) -> None:
        self._waiting: dict[str, set[asyncio.Event]] = {}

    def posted(self, conversation_id: str) -> None:
        """A message of the conversation was stored: wake whoever waits for one."""
        for event in self._waiting.get(conversation_id, ()):
            event.set()

    async def wait(self, conversation_id: str, fetch: Callable[[], Awaitable[list[T]]], seconds: float,
                   recheck: float) -> list[T]:
        """``fetch()`` as soon as it finds something, else its empty answer after ``seconds``."""
        event = asyncio.Event()
        waiting = self._waiting.setdefault(conversation_id, set())
        waiting.add(event)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        try:
            while True:
                event.clear()  # before reading: a message stored from now on sets it again
                found = await fetch()
                remaining = deadline - loop.time()
                if found or remaining <= 0:
                    return found
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(event.wait(), min(recheck, remaining))
        finally:
            waiting.discard(event)
            if not waiting and self._waiting.get(conversation_id) is waiting:
                del self._waiting[conversation_id]
