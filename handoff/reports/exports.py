"""CSV exports of the cases and the survey answers of a period, for spreadsheets.

Rows are read from the store as they are written out (nothing holds the whole export). Text a
customer wrote (a case's title, a survey comment) may be crafted to run as a spreadsheet formula:
every text cell beginning with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return gets a leading
apostrophe (OWASP, "CSV Injection"), which spreadsheets show as text.
"""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from handoff.cases.views import iso
from handoff.reports.figures import aware
from handoff.store.sql import SqlCaseStore
from handoff.store.tables import agents, case_articles, conversations, surveys

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
BATCH = 500  # rows per chunk written to the response

CASE_COLUMNS = (
    "case_number", "id", "created_at", "channel", "locale", "status", "resolution", "resolution_category",
    "escalation_reason", "queue", "priority", "entitlement", "agent", "queued_at", "first_response_at",
    "first_response_seconds", "first_response_sla", "closed_at", "resolution_seconds", "resolution_sla",
    "rating", "articles", "title",
)
SURVEY_COLUMNS = (
    "case_number", "conversation_id", "answered_at", "rating", "nps", "effort", "answered_via", "agent",
    "queue", "channel", "comment",
)


def cell(value: Any) -> Any:
    """A value as a CSV cell: times in ISO 8601, text safe from formula injection."""
    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def _aware(value: datetime | None) -> datetime | None:
    return aware(value) if value is not None else None


def _seconds(start: datetime | None, end: datetime | None) -> float | None:
    if start is None or end is None:
        return None
    return round((end - start).total_seconds(), 1)


async def csv_chunks(header: Sequence[str], rows: AsyncIterator[Sequence[Any]]) -> AsyncIterator[str]:
    """The CSV text, header first, in chunks of `BATCH` rows."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    count = 0
    async for row in rows:
        writer.writerow([cell(v) for v in row])
        count += 1
        if count % BATCH == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


async def case_rows(store: SqlCaseStore, cases: sa.ColumnElement[bool],
                    mask: Callable[[str], str]) -> AsyncIterator[list[Any]]:
    """One row per case (`CASE_COLUMNS`), oldest first."""
    c = conversations.c
    query = (
        sa.select(c.number, c.id, c.created_at, c.channel, c.locale, c.status, c.resolution, c.resolution_category,
                  c.escalation_reason, c.queue, c.priority, c.entitlement, agents.c.username, c.queued_at,
                  c.first_response_at, c.first_response_sla, c.closed_at, c.resolution_sla, surveys.c.rating, c.title)
        .outerjoin(agents, agents.c.id == c.agent_id)
        .outerjoin(surveys, surveys.c.conversation_id == c.id)
        .where(cases)
        .order_by(c.number)
    )
    batch: list[Any] = []
    async for row in store.rows(query):
        batch.append(row)
        if len(batch) == BATCH:
            for line in await _case_lines(store, batch, mask):
                yield line
            batch = []
    for line in await _case_lines(store, batch, mask):
        yield line


async def _case_lines(store: SqlCaseStore, batch: list[Any], mask: Callable[[str], str]) -> list[list[Any]]:
    shown: dict[str, list[str]] = {}
    if batch:
        query = (sa.select(case_articles.c.conversation_id, case_articles.c.article_id)
                 .where(case_articles.c.conversation_id.in_([r.id for r in batch]))
                 .order_by(case_articles.c.seq, case_articles.c.article_id))
        async for row in store.rows(query):
            found = shown.setdefault(row.conversation_id, [])
            if row.article_id not in found:
                found.append(row.article_id)
    lines = []
    for r in batch:
        queued, first, closed = _aware(r.queued_at), _aware(r.first_response_at), _aware(r.closed_at)
        lines.append([
            r.number, r.id, _aware(r.created_at), r.channel, r.locale, r.status, r.resolution, r.resolution_category,
            r.escalation_reason, r.queue, r.priority, r.entitlement, r.username, queued, first,
            _seconds(queued, first), r.first_response_sla, closed,
            _seconds(queued, closed) if r.resolution == "agent" else None, r.resolution_sla, r.rating,
            " ".join(shown.get(r.id, [])), mask(r.title) if r.title else None,
        ])
    return lines


async def survey_rows(store: SqlCaseStore, cases: sa.ColumnElement[bool],
                      mask: Callable[[str], str]) -> AsyncIterator[list[Any]]:
    """One row per survey answer of the cases (`SURVEY_COLUMNS`), in the order they were answered."""
    c = conversations.c
    query = (
        sa.select(c.number, surveys.c.conversation_id, surveys.c.created_at, surveys.c.rating, surveys.c.nps,
                  surveys.c.effort, surveys.c.answered_via, agents.c.username, c.queue, c.channel, surveys.c.comment)
        .join(conversations, c.id == surveys.c.conversation_id)
        .outerjoin(agents, agents.c.id == surveys.c.agent_id)
        .where(cases)
        .order_by(surveys.c.created_at, c.number)
    )
    async for r in store.rows(query):
        yield [r.number, r.conversation_id, _aware(r.created_at), r.rating, r.nps, r.effort, r.answered_via,
               r.username, r.queue, r.channel, mask(r.comment) if r.comment else None]
