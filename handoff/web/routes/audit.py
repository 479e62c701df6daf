"""REST endpoints of the audit log (docs/security.md, "Authorization by need"): supervisors read it, page by
page with filters, and export it as CSV. Entries are written by the owner of each change
(handoff/staff/audit.py), never here."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, time, timedelta
from typing import Any

from aiohttp import web

from handoff.cases.views import iso
from handoff.staff.accounts import SUPERVISOR
from handoff.store.audit import AuditFilter
from handoff.store.records import AuditEntry
from handoff.web.api import query, reply, signed_in
from handoff.web.keys import AUDIT
from handoff.web.routes.reports import csv_response
from handoff.wire import staff

routes = web.RouteTableDef()
COLUMNS = ("id", "at", "actor_id", "actor", "action", "target", "details")


def entry_view(e: AuditEntry) -> dict[str, Any]:
    return {"id": e.id, "at": iso(e.at), "actor_id": e.actor_id, "actor": e.actor, "action": e.action,
            "target": e.target, "details": e.details}


def _filter(asked: staff.AuditExportQuery) -> AuditFilter:
    def start(day: Any) -> datetime:
        return datetime.combine(day, time(), UTC)
    return AuditFilter(since=start(asked.from_) if asked.from_ else None,
                       until=start(asked.to + timedelta(days=1)) if asked.to else None,
                       actor=asked.actor, action=asked.action, target=asked.target)


@routes.get("/api/audit.csv")
async def audit_csv(request: web.Request) -> web.StreamResponse:
    await signed_in(request, SUPERVISOR)
    asked = query(request, staff.AuditExportQuery)

    async def rows() -> AsyncIterator[list[Any]]:
        async for e in request.app[AUDIT].every(_filter(asked)):
            yield [e.id, e.at, e.actor_id, e.actor, e.action, e.target, json.dumps(e.details, sort_keys=True)]

    return await csv_response(request, f"audit-{datetime.now(UTC).date()}.csv", COLUMNS, rows())


@routes.get("/api/audit")
async def audit_entries(request: web.Request) -> web.Response:
    await signed_in(request, SUPERVISOR)
    asked = query(request, staff.AuditQuery)
    found = await request.app[AUDIT].entries(_filter(asked), asked.before, asked.limit + 1)
    page = found[:asked.limit]
    return reply(staff.AuditEntries, {"entries": [entry_view(e) for e in page],
                                      "next_before": page[-1].id if len(found) > asked.limit else None})
