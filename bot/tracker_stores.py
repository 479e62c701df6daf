"""Where Rasa keeps its trackers (each conversation's dialogue state) and its conversation locks, so that
a dialogue outlives a model switch and a restart of Rasa or of the app (docs/operations.md, "Rasa processes
and trackers").

- With a ``redis://`` URL (the app's ``redis_url``): Rasa's RedisTrackerStore and RedisLockStore, which
  several Rasa processes share (bot/endpoints-redis.yml).
- Else Rasa's SQLTrackerStore (bot/endpoints.yml): on PostgreSQL, Rasa's own ``events`` table in the schema
  ``rasa`` of the app's database; on SQLite, a file of its own next to the app's database
  (``casedesk.db`` -> ``casedesk-rasa-trackers.db``), so that Rasa's writes never wait for ours.

The endpoints files read the store from environment variables (`TrackerStore.rasa_env`), as they read the
action endpoint. A tracker's key is its sender id, which is the conversation's id: `TrackerStore.delete`
removes the trackers of deleted conversations (a contact's erasure, retention).
"""

from __future__ import annotations

import dataclasses
import urllib.parse
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

ENDPOINTS_SQL = "bot/endpoints.yml"
ENDPOINTS_REDIS = "bot/endpoints-redis.yml"
POSTGRES_SCHEMA = "rasa"  # Rasa's tables in the app's PostgreSQL database (Rasa's POSTGRESQL_SCHEMA)
REDIS_KEY_PREFIX = "casedesk"  # Rasa's keys: casedesk:tracker:<sender id>, casedesk:lock:<sender id>
TRACKER_KEYS = REDIS_KEY_PREFIX + ":tracker:"
SQLITE_SUFFIX = "-rasa-trackers.db"
_IN_LIST = 500  # sender ids per DELETE statement


@dataclasses.dataclass(frozen=True)
class TrackerStore:
    """``kind`` "redis" or "sql"; ``url``: the Redis URL, or the database as Rasa's SQLAlchemy 1.4 opens it
    (``sqlite:////abs/path.db``, ``postgresql://...``); ``app_url``: the same database for the app's
    asynchronous drivers (aiosqlite, asyncpg); ``schema``: PostgreSQL's schema of Rasa's tables."""

    kind: Literal["redis", "sql"]
    url: str = dataclasses.field(repr=False)  # may hold a password
    app_url: str = dataclasses.field(default="", repr=False)
    schema: str = ""

    @property
    def shared(self) -> bool:
        """Whether several Rasa processes may serve one conversation (Redis's lock store)."""
        return self.kind == "redis"

    @property
    def endpoints(self) -> str:
        """Rasa's endpoints file for this store (relative to the project's root)."""
        return ENDPOINTS_REDIS if self.kind == "redis" else ENDPOINTS_SQL

    def rasa_env(self) -> dict[str, str]:
        """The environment variables the endpoints file reads."""
        if self.kind == "redis":
            parts = urllib.parse.urlsplit(self.url)
            return {"CASEDESK_REDIS_HOST": parts.hostname or "127.0.0.1",
                    "CASEDESK_REDIS_PORT": str(parts.port or 6379),
                    "CASEDESK_REDIS_DB": parts.path.strip("/") or "0",
                    "CASEDESK_REDIS_PASSWORD": urllib.parse.unquote(parts.password or ""),
                    "CASEDESK_REDIS_KEY_PREFIX": REDIS_KEY_PREFIX}
        env = {"CASEDESK_TRACKER_URL": self.url}
        if self.schema:
            env["POSTGRESQL_SCHEMA"] = self.schema
        return env

    async def prepare(self) -> None:
        """What Rasa needs before it starts: on PostgreSQL, the schema of its tables (Rasa creates the tables
        itself, but stops when the schema is missing)."""
        if not self.schema:
            return
        import sqlalchemy as sa
        from sqlalchemy.ext.asyncio import create_async_engine

        engine = create_async_engine(self.app_url)
        try:
            async with engine.begin() as conn:
                await conn.execute(sa.text(f'CREATE SCHEMA IF NOT EXISTS "{self.schema}"'))
        finally:
            await engine.dispose()

    async def delete(self, sender_ids: Sequence[str]) -> int:
        """Delete the trackers of ``sender_ids`` (conversation ids); how many trackers (Redis keys) or
        tracker events (SQL rows) went."""
        if not sender_ids:
            return 0
        if self.kind == "redis":
            return await self._delete_redis(sender_ids)
        return await self._delete_sql(sender_ids)

    async def _delete_redis(self, sender_ids: Sequence[str]) -> int:
        import redis.asyncio as redis

        client = redis.from_url(self.url)
        try:
            deleted = 0
            for start in range(0, len(sender_ids), _IN_LIST):
                deleted += int(await client.delete(*(TRACKER_KEYS + s for s in sender_ids[start:start + _IN_LIST])))
            return deleted
        finally:
            await client.aclose()

    async def _delete_sql(self, sender_ids: Sequence[str]) -> int:
        import sqlalchemy as sa
        from sqlalchemy.ext.asyncio import create_async_engine

        if self.app_url.startswith("sqlite") and not Path(_sqlite_path(self.app_url)).exists():
            return 0  # Rasa never wrote a tracker here
        events = sa.table("events", sa.column("sender_id"), schema=self.schema or None)
        engine = create_async_engine(self.app_url)
        try:
            async with engine.begin() as conn:
                if not await conn.run_sync(lambda c: sa.inspect(c).has_table("events", schema=self.schema or None)):
                    return 0
                deleted = 0
                for start in range(0, len(sender_ids), _IN_LIST):
                    chunk = list(sender_ids[start:start + _IN_LIST])
                    deleted += (await conn.execute(events.delete().where(events.c.sender_id.in_(chunk)))).rowcount
                return deleted
        finally:
            await engine.dispose()


def _sqlite_path(url: str) -> str:
    return url.split(":///", 1)[1]


def tracker_store_for(database_url: str, redis_url: str = "") -> TrackerStore:
    """The tracker store of an app with these settings: Redis with a ``redis://`` URL, else SQL beside the
    app's own database (the module's docstring)."""
    if redis_url.startswith("redis://"):
        return TrackerStore("redis", redis_url)
    if database_url.startswith("sqlite"):
        path = Path(_sqlite_path(database_url)).resolve()
        trackers = path.with_name(path.stem + SQLITE_SUFFIX)
        return TrackerStore("sql", f"sqlite:///{trackers}", f"sqlite+aiosqlite:///{trackers}")
    if database_url.startswith("postgresql"):
        rest = database_url.split("://", 1)[1]
        return TrackerStore("sql", f"postgresql://{rest}", database_url, POSTGRES_SCHEMA)
    raise ValueError("database_url: Rasa's trackers go to SQLite or PostgreSQL only")
