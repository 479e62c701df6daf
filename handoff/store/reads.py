"""The store's reads on SQLite: each statement in a reader thread with the blocking driver (sqlite3), one hop
from the event loop, as the writes are (`SqlCaseStore._write`).

aiosqlite, SQLAlchemy's async SQLite driver, takes a thread hop for every step of a read (check the
connection out, execute, fetch, close the cursor, roll back): four or five round trips through its thread
and the event loop per query, and on a busy loop each costs a wake-up of both. Here a statement is run,
its rows fetched and its connection given back in one call (`ThreadReads.run`); the reader threads each
keep their own pooled connection. A statement reads its own snapshot (WAL): a read that needs several
statements to agree runs them in one call (``conn.run_sync``). Results come back whole (SQLAlchemy's
frozen results), but for ``conn.stream``, which reads through aiosqlite a batch at a time (reports and
exports, not the message path). PostgreSQL keeps asyncpg, which reads on the event loop itself.

`ThreadReads.connect()` gives what `AsyncEngine.connect()` gives the store's read methods (``execute``,
``scalar``, ``run_sync``, ``stream``), so they read the same way on either database.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import Callable
from types import TracebackType
from typing import Any, Concatenate, ParamSpec, TypeVar

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncResult

READERS = 2  # reader threads (and pooled connections) of one app process: sqlite3 releases the GIL in a query
T = TypeVar("T")
P = ParamSpec("P")


class ThreadReads:
    """A stand-in for the store's `AsyncEngine` on SQLite: reads in ``threads`` reader threads on ``engine``
    (the blocking driver), streams through ``streams`` (aiosqlite)."""

    def __init__(self, engine: sa.Engine, streams: AsyncEngine, threads: int = READERS) -> None:
        self.engine = engine
        self.streams = streams
        self._threads = concurrent.futures.ThreadPoolExecutor(max_workers=threads, thread_name_prefix="store-reader")

    def connect(self) -> ReadConnection:
        return ReadConnection(self)

    async def run(self, fn: Callable[Concatenate[sa.Connection, P], T], *args: P.args, **kwargs: P.kwargs) -> T:
        """``fn(connection, ...)`` in a reader thread, on a pooled connection given back before it returns."""
        def call() -> T:
            with self.engine.connect() as conn:
                return fn(conn, *args, **kwargs)

        return await asyncio.get_running_loop().run_in_executor(self._threads, call)

    async def dispose(self) -> None:
        await self.streams.dispose()
        await asyncio.get_running_loop().run_in_executor(self._threads, self.engine.dispose)
        self._threads.shutdown()


def _frozen(conn: sa.Connection, statement: sa.Executable, params: dict[str, Any] | None) -> Any:
    return conn.execute(statement, params).freeze()


class ReadConnection:
    """What ``async with store._engine.connect() as conn`` gives on SQLite: each call one hop (`ThreadReads.run`)."""

    def __init__(self, reads: ThreadReads) -> None:
        self._reads = reads
        self._stream: AsyncConnection | None = None

    async def __aenter__(self) -> ReadConnection:
        return self

    async def __aexit__(self, kind: type[BaseException] | None, error: BaseException | None,
                        traceback: TracebackType | None) -> None:
        if self._stream is not None:
            await self._stream.close()

    async def execute(self, statement: sa.Executable, params: dict[str, Any] | None = None) -> sa.Result[Any]:
        frozen = await self._reads.run(_frozen, statement, params)
        result: sa.Result[Any] = frozen()
        return result

    async def scalar(self, statement: sa.Executable) -> Any:
        return await self._reads.run(lambda conn: conn.scalar(statement))

    async def run_sync(self, fn: Callable[Concatenate[sa.Connection, P], T], *args: P.args,
                       **kwargs: P.kwargs) -> T:
        return await self._reads.run(fn, *args, **kwargs)

    async def stream(self, statement: sa.Executable) -> AsyncResult[Any]:
        """The rows a batch at a time, through aiosqlite, on a connection held until the block ends."""
        if self._stream is None:
            self._stream = await self._reads.streams.connect()
        return await self._stream.stream(statement)
