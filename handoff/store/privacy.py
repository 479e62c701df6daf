"""The store's privacy queries (docs/privacy.md): everything stored about one contact, to export it or
delete it, and the retention of closed cases.

A mixin of `SqlCaseStore` (handoff/store/sql.py) on the same tables; every write goes through the store's one
writer, `_write`, in one transaction. What belongs to a case is every row of a table with a foreign key
to ``conversations.id`` (messages, timeline events, articles shown, the survey answer: and a table added
later with such a key, without a change here); what belongs to a contact is its cases and every row of
a table with a foreign key to ``customers.id`` (entitlements). A table that refers to one of those rows
in turn (a grandchild) needs its own step here.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from handoff.store import tables as db
from handoff.store.base import Queries
from handoff.store.records import CLOSED, OPEN

RETENTION_BATCH = 500  # cases deleted per transaction: short enough for the writer's other work to go on
IN_LIST = 500  # ids per statement (SQLite allows a limited number of parameters)
NOT_EXPORTED = frozenset({"token_hash"})  # the digest of the customer's conversation token: a key, not data


class OpenCases(Exception):
    """The contact has cases that are not closed (with the bot, queued or with an agent)."""

    def __init__(self, numbers: list[int]) -> None:
        super().__init__(f"open cases {numbers}")
        self.numbers = numbers


@dataclasses.dataclass
class Deleted:
    """How many rows a deletion removed: cases, contacts, and the rows of each table that belonged to them."""

    cases: int = 0
    contacts: int = 0
    rows: dict[str, int] = dataclasses.field(default_factory=dict)
    case_ids: list[str] = dataclasses.field(default_factory=list)  # the cases' ids: Rasa's sender ids too

    def add(self, other: Deleted) -> None:
        self.cases += other.cases
        self.contacts += other.contacts
        self.case_ids.extend(other.case_ids)
        for table, count in other.rows.items():
            self.rows[table] = self.rows.get(table, 0) + count


def _referring(column: sa.Column[Any]) -> list[sa.Column[Any]]:
    """The columns of other tables with a foreign key to ``column``."""
    return [fk.parent for table in db.metadata.sorted_tables for fk in table.foreign_keys
            if fk.column is column and table is not column.table]


def _rows(conn: sa.Connection, table: sa.Table, where: Any, order_by: Iterable[Any]) -> list[dict[str, Any]]:
    columns = [c for c in table.c if c.name not in NOT_EXPORTED]
    return [dict(row._mapping) for row in conn.execute(sa.select(*columns).where(where).order_by(*order_by))]


def _export(conn: sa.Connection, customer_id: str) -> dict[str, Any] | None:
    found = _rows(conn, db.customers, db.customers.c.id == customer_id, [])
    if not found:
        return None
    cases = _rows(conn, db.conversations, db.conversations.c.customer_id == customer_id,
                  [db.conversations.c.number])
    owned: dict[str, list[dict[str, Any]]] = {}
    for column in _referring(db.customers.c.id):
        if column.table is not db.conversations:
            table = column.table
            owned[table.name] = _rows(conn, table, column == customer_id, list(table.primary_key.columns))
    for case in cases:
        for column in _referring(db.conversations.c.id):
            table = column.table
            case[table.name] = _rows(conn, table, column == case["id"], list(table.primary_key.columns))
    return {"contact": found[0], **owned, "cases": cases}


def _chunks(ids: Sequence[str]) -> Iterator[Sequence[str]]:
    """``ids`` in slices small enough for one statement's parameters."""
    for start in range(0, len(ids), IN_LIST):
        yield ids[start:start + IN_LIST]


def _delete_cases(conn: sa.Connection, ids: Sequence[str]) -> Deleted:
    """Delete the cases ``ids`` with every row that belongs to them."""
    deleted = Deleted()
    for chunk in _chunks(ids):
        for column in _referring(db.conversations.c.id):
            count = conn.execute(column.table.delete().where(column.in_(chunk))).rowcount
            deleted.rows[column.table.name] = deleted.rows.get(column.table.name, 0) + count
        # who is connected to them (no foreign key: presence, not a record)
        conn.execute(db.connections.delete().where(db.connections.c.kind == "customer",
                                                   db.connections.c.subject_id.in_(chunk)))
        deleted.cases += conn.execute(db.conversations.delete().where(db.conversations.c.id.in_(chunk))).rowcount
        deleted.case_ids.extend(chunk)
    return deleted


def _delete_contacts(conn: sa.Connection, where: Any) -> Deleted:
    """Delete the contacts ``where`` selects, with their rows in other tables (not their cases: those go
    first)."""
    deleted = Deleted()
    ids: Sequence[str] = conn.scalars(sa.select(db.customers.c.id).where(where)).all()
    for chunk in _chunks(ids):
        for column in _referring(db.customers.c.id):
            if column.table is not db.conversations:
                count = conn.execute(column.table.delete().where(column.in_(chunk))).rowcount
                deleted.rows[column.table.name] = deleted.rows.get(column.table.name, 0) + count
        deleted.contacts += conn.execute(db.customers.delete().where(db.customers.c.id.in_(chunk))).rowcount
    return deleted


class PrivacyQueries(Queries):
    """The privacy methods of `SqlCaseStore`."""

    async def contact_export(self, customer_id: str) -> dict[str, Any] | None:
        """Every row stored about the contact, read in one transaction: ``{"contact": row, "entitlements":
        [row], "cases": [case row + {"messages": [row], "case_events": [row], "case_articles": [row],
        "surveys": [row]}]}`` (the tables' own column names; times as stored); None for an unknown id."""
        async with self._engine.connect() as conn:
            return await conn.run_sync(_export, customer_id)

    async def delete_contact(self, customer_id: str) -> Deleted:
        """Delete the contact and everything of theirs, atomically. `KeyError` for an unknown contact;
        `OpenCases` (and nothing deleted) while one of their cases is open."""
        def write(conn: sa.Connection) -> Deleted:
            # Take the contact's row first (a write: SQLite's lock, PostgreSQL's row lock), so no case of
            # theirs can start between the check below and the deletion.
            taken = conn.execute(db.customers.update().where(db.customers.c.id == customer_id)
                                 .values(display_name=db.customers.c.display_name))
            if taken.rowcount != 1:
                raise KeyError(customer_id)
            open_cases: Sequence[int] = conn.scalars(
                sa.select(db.conversations.c.number)
                .where(db.conversations.c.customer_id == customer_id,
                       db.conversations.c.status.in_(sorted(OPEN)))
                .order_by(db.conversations.c.number)
            ).all()
            if open_cases:
                raise OpenCases(list(open_cases))
            cases: Sequence[str] = conn.scalars(sa.select(db.conversations.c.id)
                                 .where(db.conversations.c.customer_id == customer_id)).all()
            deleted = _delete_cases(conn, cases)
            deleted.add(_delete_contacts(conn, db.customers.c.id == customer_id))
            return deleted
        return await self._write(write)

    async def delete_cases_closed_before(self, before: datetime, batch: int = RETENTION_BATCH) -> Deleted:
        """Delete the cases closed (resolved, abandoned, cancelled) before ``before``, with everything of
        theirs, ``batch`` cases per transaction; then the anonymous contacts (no ``external_id``) those
        cases leave with no case and no entitlement of their own. Open cases are never touched."""
        def write(conn: sa.Connection) -> tuple[Deleted, int]:
            found = conn.execute(
                sa.select(db.conversations.c.id, db.conversations.c.customer_id)
                .where(db.conversations.c.closed_at < before,
                       db.conversations.c.status.in_(sorted(CLOSED)))
                .order_by(db.conversations.c.closed_at)
                .limit(batch)
            ).all()
            if not found:
                return Deleted(), 0
            deleted = _delete_cases(conn, [row.id for row in found])
            customer = db.customers.c.id
            deleted.add(_delete_contacts(conn, sa.and_(
                customer.in_({row.customer_id for row in found}),
                db.customers.c.external_id.is_(None),
                ~sa.exists().where(db.conversations.c.customer_id == customer),
                ~sa.exists().where(db.entitlements.c.customer_id == customer),
            )))
            return deleted, len(found)

        total = Deleted()
        while True:
            deleted, selected = await self._write(write)
            total.add(deleted)
            if selected < batch:
                return total

