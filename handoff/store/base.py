"""What every part of the store stands on: `Queries`, the base of `SqlCaseStore` and of its mixins (one
per subject), with the reading engine and the one way to write (`SqlCaseStore._write`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

    from handoff.store.reads import ThreadReads

T = TypeVar("T")


class Queries:
    """Reads run on ``_engine`` (one awaited call per statement); every write goes through ``_write``, in the
    store's writer threads, a transaction each (handoff/store/sql.py)."""

    if TYPE_CHECKING:
        _engine: AsyncEngine | ThreadReads  # ThreadReads on SQLite (handoff/store/reads.py)

        async def _write(self, fn: Callable[[sa.Connection], T]) -> T: ...

        async def _select(self, table: sa.Table, where: Any, order_by: Any = None,
                          limit: int | None = None) -> list[Any]: ...


def insert_absent(conn: sa.Connection, table: sa.Table, values: dict[str, Any]) -> bool:
    """Insert the row unless one with its primary key exists (one statement, so safe against other
    processes doing the same); False when it existed."""
    dialect = conn.dialect.name
    if dialect == "sqlite":
        statement: Any = sqlite_insert(table)
    elif dialect == "postgresql":
        statement = postgresql_insert(table)
    else:
        raise NotImplementedError(f"insert-if-absent on {dialect}")
    # RETURNING says whether a row went in (psycopg reports no rowcount for an insert that may do nothing)
    key = next(iter(table.primary_key.columns))
    return conn.execute(statement.values(values).on_conflict_do_nothing().returning(key)).first() is not None
