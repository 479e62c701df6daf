"""Is Rasa answering? A short periodic probe of one Rasa server (docs/operations.md, "Overload").

Rasa's ``GET /`` answers at once while its process runs, and waits only behind the few turns the bot's
queue lets in at a time (handoff/cases/bot_turns.py). A probe that fails, or does not answer within
``timeout``, marks that Rasa down: the turns waiting for it end at once and new ones are handed over without
waiting, until a probe sees it again. While Rasa loads a new model (a publish, ``loading``) it does not
answer for some seconds and is not marked down: the turns wait for it as before (handoff/cases/rasa_bridge.py).

One `RasaHealth` watches one Rasa (a probe callable and its URL), so several Rasa processes get one each.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence

import aiohttp

log = logging.getLogger(__name__)

FRESH_WAIT = 0.5  # seconds a turn waits for a fresh probe of a Rasa seen down (`RasaHealth.fresh`)
Probe = Callable[[str], Awaitable[bool]]  # the URL of a Rasa -> whether it answers


def http_probe(session: aiohttp.ClientSession) -> Probe:
    """Rasa's ``GET /`` through ``session``: up when it answers 200."""
    async def probe(url: str) -> bool:
        try:
            async with session.get(f"{url.rstrip('/')}/") as response:
                return response.status == 200
        except (aiohttp.ClientError, OSError):
            return False

    return probe


def any_answers(probe: Probe, urls: Callable[[], Sequence[str]]) -> Probe:
    """A probe of several Rasa processes (the bridge's, which change at a blue/green switch): up while one of
    them answers, as the bridge moves a turn on from a process that refuses it."""
    async def probe_any(_: str) -> bool:
        tasks = [asyncio.ensure_future(probe(url)) for url in urls()]
        try:
            for answered in asyncio.as_completed(tasks):
                if await answered:
                    return True
            return False
        finally:
            for task in tasks:
                task.cancel()

    return probe_any


class RasaHealth:
    """The health of the Rasa at ``url``, probed every ``interval`` seconds; a probe has ``timeout`` seconds.

    Up until a probe says otherwise. Plain attributes for metrics: `up`, `probes`, `failures` (probes that
    failed), `downs` (times it was seen to stop answering)."""

    def __init__(self, probe: Probe, url: str, interval: float, timeout: float,
                 loading: Callable[[], bool] = lambda: False) -> None:
        self.url = url
        self.interval = interval
        self.timeout = timeout
        self._probe = probe
        self._loading = loading
        self.up = True
        self.probes = 0
        self.failures = 0
        self.downs = 0
        self._down = asyncio.Event()  # set while down
        self._answered_at = -math.inf  # when Rasa last answered a turn (time.monotonic)
        self._probing: asyncio.Future[bool] | None = None  # `fresh`'s probe, while it runs

    def answered(self) -> None:
        """Rasa answered a turn just now. A probe that fails within `timeout` of that is not taken as a hang:
        a Rasa that answers turns is up, even when a cold or starved machine keeps its probe waiting."""
        self._answered_at = time.monotonic()

    async def check(self) -> bool:
        """Probe once and take what it says; whether Rasa is up now."""
        self.probes += 1
        try:
            answered = await asyncio.wait_for(self._probe(self.url), self.timeout)
        except TimeoutError:
            answered = False
        if answered:
            if not self.up:
                log.info("Rasa at %s answers again", self.url)
            self.up = True
            self._down.clear()
            return True
        self.failures += 1
        if time.monotonic() - self._answered_at < self.timeout:
            return self.up
        if self.up and not self._loading():  # a Rasa loading a model answers when it is done
            log.warning("Rasa at %s does not answer its health check within %g s", self.url, self.timeout)
            self.up = False
            self.downs += 1
            self._down.set()
        return self.up

    async def fresh(self) -> bool:
        """Whether Rasa is up by a probe made now (one shared by every caller meanwhile), waited for at most
        `FRESH_WAIT` seconds: a Rasa seen down may have come back (it started after the app, or was
        restarted) since the last probe, and a hung one keeps a caller waiting only that long."""
        if self._probing is None or self._probing.done():
            self._probing = asyncio.ensure_future(self.check())
        try:
            return await asyncio.wait_for(asyncio.shield(self._probing), FRESH_WAIT)
        except TimeoutError:
            return False

    async def wait_down(self) -> None:
        """Return when Rasa is (or is seen to go) down."""
        await self._down.wait()

    async def run(self) -> None:
        """Probe every `interval` seconds, for ever."""
        while True:
            try:
                await self.check()
            except Exception:
                log.exception("the health check of Rasa at %s failed", self.url)
            await asyncio.sleep(self.interval)

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[RasaHealth]:
        """`run` in a task of its own meanwhile."""
        task = asyncio.create_task(self.run())
        try:
            yield self
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
