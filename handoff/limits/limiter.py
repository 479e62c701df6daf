"""The one limiter of an app process, built at start-up from the ``[limits]`` table: moving windows of the
`limits` library, kept in memory (one node) or in Redis (``redis_url``: every node counts together)."""

from __future__ import annotations

import asyncio
import math
import time

from limits import RateLimitItem
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter

from handoff.errors import ApiError
from handoff.limits.addresses import networks
from handoff.limits.table import LimitTable
from handoff.metrics import series

KEY_PREFIX = "casedesk-limits"
MAX_SIGN_IN_DELAY = 10.0  # seconds: the growing delay of wrong passwords stops growing here

# What a refusal says, by limit (the error's message; customers see the catalogue's texts).
WHAT = {
    "starts_per_address": "too many conversations started from your address",
    "starts_per_identity": "too many conversations started under this identity",
    "messages_per_conversation": "too many messages in this conversation",
    "messages_per_address": "too many messages from your address",
    "long_polls_per_conversation": "too many waiting requests for this conversation",
    "connections_per_address": "too many connections from your address",
    "sign_ins_per_address": "too many sign-in attempts from your address",
    "sign_in_failures_per_username": "too many wrong passwords for this username: it is locked for now",
}


def storage_for(redis_url: str) -> Storage:
    """Redis (through redis-py's asyncio client) when ``redis_url`` is set, else this process's memory."""
    if not redis_url:
        return MemoryStorage()
    uri = "async+redis+" + redis_url if redis_url.startswith("unix://") else "async+" + redis_url
    return RedisStorage(uri, implementation="redispy", key_prefix=KEY_PREFIX)


def rate_limited(what: str, retry_after: int) -> ApiError:
    return ApiError("rate_limited", f"{what}; try again in {retry_after} s", retry_after=retry_after)


class Limiter:
    def __init__(self, table: LimitTable, redis_url: str = "", sign_in_delay: float = 0.0,
                 trusted_proxies: tuple[str, ...] = ()) -> None:
        self._items = table.items()
        self._window = MovingWindowRateLimiter(storage_for(redis_url))
        self.sign_in_delay = sign_in_delay
        self.trusted = networks(trusted_proxies)  # whose X-Forwarded-For is believed (addresses.client_address)

    async def _retry_after(self, items: tuple[RateLimitItem, ...], *key: str) -> int:
        """Seconds until each exhausted window of ``items`` has room again."""
        wait = 1.0
        for item in items:
            stats = await self._window.get_window_stats(item, *key)
            if stats.remaining <= 0:
                wait = max(wait, stats.reset_time - time.time())
        return math.ceil(wait)

    async def allows(self, name: str, key: str) -> bool:
        """Whether ``key`` has room left under the limit ``name`` (nothing is counted)."""
        return all([await self._window.test(item, name, key) for item in self._items.get(name, ())])

    async def hit(self, name: str, key: str) -> None:
        """Count one for ``key`` under the limit ``name``; `rate_limited` when that is past it (then
        nothing is counted)."""
        await self.hit_together((name, key))

    async def hit_together(self, *limits: tuple[str, str | None]) -> None:
        """Count one under each (limit, key), a key of None left out, but only if every one has room;
        `rate_limited` for the first that has none (then nothing is counted)."""
        given = [(name, key) for name, key in limits if key is not None]
        for name, key in given:
            if not await self.allows(name, key):
                series.LIMIT_REFUSALS.labels(limit=name).inc()
                raise rate_limited(WHAT.get(name, name), await self._retry_after(self._items[name], name, key))
        for name, key in given:
            for item in self._items.get(name, ()):
                await self._window.hit(item, name, key)

    async def hits_all(self, *limits: tuple[str, str | None]) -> bool:
        """`hit_together`, answering whether they had room."""
        try:
            await self.hit_together(*limits)
        except ApiError:
            return False
        return True

    async def used(self, name: str, key: str) -> int:
        """How many ``key`` has used of the limit ``name`` now (its first window's)."""
        items = self._items.get(name, ())
        if not items:
            return 0
        stats = await self._window.get_window_stats(items[0], name, key)
        return items[0].amount - stats.remaining

    async def clear(self, name: str, key: str) -> None:
        for item in self._items.get(name, ()):
            await self._window.clear(item, name, key)

    async def sign_in(self, address: str, username: str) -> int:
        """Before a sign-in is checked: count it for ``address``, refuse a locked ``username``, and wait
        the growing delay of its earlier wrong passwords (twice as long for each, from ``sign_in_delay``).
        The number of those wrong passwords."""
        await self.hit("sign_ins_per_address", address)
        name = "sign_in_failures_per_username"
        if not await self.allows(name, username):
            series.LIMIT_REFUSALS.labels(limit=name).inc()
            raise rate_limited(WHAT[name], await self._retry_after(self._items[name], name, username))
        failures = await self.used(name, username)
        if failures and self.sign_in_delay:
            await asyncio.sleep(min(self.sign_in_delay * 2 ** (failures - 1), MAX_SIGN_IN_DELAY))
        return failures

    async def signed_in(self, username: str, ok: bool) -> None:
        """After a sign-in was checked: a wrong password counts against ``username``, a right one clears it."""
        name = "sign_in_failures_per_username"
        if ok:
            await self.clear(name, username)
        else:
            for item in self._items.get(name, ()):
                await self._window.hit(item, name, username)
