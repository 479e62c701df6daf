"""The bot's queue: at most a few turns at Rasa at once, a bounded number waiting, the rest told it is busy.

Rasa is one CPU-bound process: more turns at once than it can work on only make each one slower, until they
pass `rasa_timeout_seconds` and overload turns into fake hand-overs. So a turn takes one of `in_flight` places
at Rasa, or waits for one (first come, first served) when fewer than `waiting` turns wait already; beyond that
the turn is refused at once (`BotBusy`): Conversations tells the customer the assistant is busy and offers a
person (handoff/cases/bot_replies.py), and queues the case only when they take the offer (reason `bot_busy`).
When the health check says Rasa stopped answering (handoff/cases/rasa_health.py), the turns waiting and at Rasa
end at once (`BotUnavailable`, handed over as `bot_unavailable`) and new ones are not let in until it answers
again.

docs/operations.md, "Overload"; the settings `bot_turns_in_flight` and `bot_turns_waiting`.
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import Awaitable
from typing import Any, Protocol, TypeVar

from handoff.cases.rasa_bridge import BotReply, BotUnavailable
from handoff.cases.rasa_health import RasaHealth

T = TypeVar("T")


class Bot(Protocol):
    """What Conversations asks for a bot turn: the bot's replies to a customer's text (`RasaBridge`, or
    `BotTurns` in front of it)."""

    async def send(self, sender_id: str, text: str, metadata: dict[str, Any]) -> list[BotReply]: ...

    async def is_up(self) -> bool: ...


class BotBusy(Exception):
    """The bot's queue is full: the turn was not taken."""


class BotTurns:
    """A `Bot` that lets at most ``in_flight`` turns to ``bot`` at once and ``waiting`` more wait for a place.

    Plain attributes for metrics: `in_flight` (turns at Rasa now), `depth` (turns waiting), `busy_refusals`
    (turns refused because the queue was full), `unavailable` (turns ended or refused because the health
    check said Rasa was down), `turns` (turns let in)."""

    def __init__(self, bot: Bot, health: RasaHealth, in_flight: int, waiting: int) -> None:
        self._bot = bot
        self.health = health
        self.max_in_flight = in_flight
        self.max_waiting = waiting
        self.in_flight = 0
        self._waiters: collections.deque[asyncio.Future[None]] = collections.deque()
        self.turns = 0
        self.busy_refusals = 0
        self.unavailable = 0

    async def is_up(self) -> bool:
        """Whether Rasa answers its health check now (probed once)."""
        return await self.health.check()

    @property
    def depth(self) -> int:
        return len(self._waiters)

    async def send(self, sender_id: str, text: str, metadata: dict[str, Any]) -> list[BotReply]:
        if not self.health.up and not await self.health.fresh():
            self.unavailable += 1
            raise BotUnavailable("Rasa does not answer its health check")
        if self.in_flight < self.max_in_flight:
            self.in_flight += 1
        elif len(self._waiters) < self.max_waiting:
            await self._wait_for_place()
        else:
            self.busy_refusals += 1
            raise BotBusy(f"{self.in_flight} turns at Rasa and {len(self._waiters)} waiting")
        self.turns += 1
        try:
            replies = await self._unless_down(self._bot.send(sender_id, text, metadata))
            self.health.answered()  # Rasa works: a probe stuck behind its turns is no sign of a hang
            return replies
        finally:
            self._release()

    async def _wait_for_place(self) -> None:
        """Wait in line; a place at Rasa is handed over by the turn that leaves it (`_release`)."""
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            await self._unless_down(waiter)
        except BaseException:
            if waiter.done() and not waiter.cancelled():
                self._release()  # given a place just as it stopped waiting: the next one takes it
            elif waiter in self._waiters:
                self._waiters.remove(waiter)
            raise

    def _release(self) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)  # the place goes to the first in line: in_flight stays
                return
        self.in_flight -= 1

    async def _unless_down(self, awaitable: Awaitable[T]) -> T:
        """What ``awaitable`` gives, unless the health check says Rasa stopped answering first."""
        work = asyncio.ensure_future(awaitable)
        down = asyncio.ensure_future(self.health.wait_down())
        try:
            await asyncio.wait({work, down}, return_when=asyncio.FIRST_COMPLETED)
            if work.done():
                return work.result()
            self.unavailable += 1
            raise BotUnavailable("Rasa stopped answering its health check")
        finally:
            down.cancel()
            work.cancel()  # nothing when it is done

