"""The audit log of staff actions (who did what to which target, when) and who has held each case: a
mixin of `SqlCaseStore` (handoff/store/sql.py) on the tables `audit_log` and `case_holders`."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from handoff.store.base import Queries, insert_absent
from handoff.store.records import AuditEntry, aware, utcnow
from handoff.store.tables import audit_log, case_holders

BATCH = 500  # entries read at a time by `audit_entries_all`


@dataclasses.dataclass(frozen=True)
class AuditFilter:
    """Which entries to read: each field that is not None must match (``action``: exactly, or every action
    under it when it ends with a dot, as ``case.``); ``since`` included, ``until`` excluded."""

    since: datetime | None = None
    until: datetime | None = None
    actor: str | None = None
    action: str | None = None
    target: str | None = None

    def where(self) -> sa.ColumnElement[bool]:
        c = audit_log.c
        conditions: list[sa.ColumnElement[bool]] = []
        if self.since is not None:
            conditions.append(c.at >= self.since)
        if self.until is not None:
            conditions.append(c.at < self.until)
        if self.actor is not None:
            conditions.append(c.actor == self.actor)
        if self.action is not None and self.action.endswith("."):
            conditions.append(c.action.startswith(self.action, autoescape=True))
        elif self.action is not None:
            conditions.append(c.action == self.action)
        if self.target is not None:
            conditions.append(c.target == self.target)
        return sa.and_(sa.true(), *conditions)


def _entry(row: Any) -> AuditEntry:
    return AuditEntry(row.id, aware(row.at), row.actor_id, row.actor, row.action, row.target, json.loads(row.details))


class AuditQueries(Queries):
    """The audit log's and the case holders' methods of `SqlCaseStore`."""

    async def add_audit_entry(self, actor_id: str | None, actor: str, action: str, target: str,
                              details: dict[str, Any]) -> AuditEntry:
        at = utcnow()
        text = json.dumps(details, sort_keys=True, default=str)

        def write(conn: sa.Connection) -> int:
            return int(conn.execute(audit_log.insert().values(
                at=at, actor_id=actor_id, actor=actor, action=action, target=target, details=text,
            ).returning(audit_log.c.id)).scalar_one())
        return AuditEntry(await self._write(write), at, actor_id, actor, action, target, json.loads(text))

    async def audit_entries(self, where: AuditFilter, before: int | None, limit: int) -> list[AuditEntry]:
        """Up to ``limit`` entries, newest first, older than the entry ``before`` (a page's cursor) if given."""
        query = sa.select(audit_log).where(where.where())
        if before is not None:
            query = query.where(audit_log.c.id < before)
        query = query.order_by(audit_log.c.id.desc()).limit(limit)
        async with self._engine.connect() as conn:
            return [_entry(row) for row in (await conn.execute(query)).all()]

    async def audit_entries_all(self, where: AuditFilter) -> AsyncIterator[AuditEntry]:
        """Every entry ``where`` selects, oldest first, read `BATCH` at a time (for the CSV export)."""
        after = 0
        while True:
            query = (sa.select(audit_log).where(where.where(), audit_log.c.id > after)
                     .order_by(audit_log.c.id).limit(BATCH))
            async with self._engine.connect() as conn:
                rows = (await conn.execute(query)).all()
            for row in rows:
                yield _entry(row)
            if len(rows) < BATCH:
                return
            after = rows[-1].id

    # -- who has held a case ------------------------------------------------------------------------

    async def add_case_holder(self, conversation_id: str, agent_id: str) -> None:
        """The agent holds the case now (kept once per agent and case)."""
        now = utcnow()
        await self._write(lambda conn: insert_absent(conn, case_holders, {
            "conversation_id": conversation_id, "agent_id": agent_id, "since": now}))

    async def held_by(self, agent_id: str, conversation_ids: list[str]) -> set[str]:
        """Those of ``conversation_ids`` the agent has held."""
        if not conversation_ids:
            return set()
        query = sa.select(case_holders.c.conversation_id).where(
            case_holders.c.agent_id == agent_id, case_holders.c.conversation_id.in_(conversation_ids))
        async with self._engine.connect() as conn:
            return set((await conn.execute(query)).scalars())
