"""REST endpoints of the supervisors' reports and the CSV exports (docs/reports.md, docs/protocol.md).

Every endpoint needs the supervisor role; the content gaps (``gaps``) take an editor too. The period
and filters come as query parameters, checked here: ``from`` and ``to`` (``YYYY-MM-DD``, UTC days,
both included; by default the last 30 days up to today), ``channel`` and ``queue`` (empty means
any); the topics report also takes ``tag``. The wire's models (`staff.ReportQuery`, `staff.TopicsQuery`)
validate them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any

from aiohttp import web

from handoff.errors import ApiError
from handoff.reports import exports
from handoff.reports.figures import Reports, Scope
from handoff.staff.accounts import EDITOR, SUPERVISOR
from handoff.web.api import query as api_query
from handoff.web.api import signed_in
from handoff.web.keys import REPORTS
from handoff.wire import staff

routes = web.RouteTableDef()


Report = Callable[[Reports, Scope, Mapping[str, str]], Awaitable[dict[str, Any]]]
REPORTS_BY_NAME: dict[str, tuple[Report, type[staff.ReportQuery]]] = {  # name -> the report, its query's model
    "volume": (lambda r, scope, _: r.volume(scope), staff.ReportQuery),
    "deflection": (lambda r, scope, _: r.deflection(scope), staff.ReportQuery),
    "satisfaction": (lambda r, scope, _: r.satisfaction(scope), staff.ReportQuery),
    "times": (lambda r, scope, _: r.times(scope), staff.ReportQuery),
    "gaps": (lambda r, scope, _: r.gaps(scope), staff.ReportQuery),
    "topics": (lambda r, scope, extra: r.topics(scope, extra.get("tag")), staff.TopicsQuery),
}
# The roles that may read a report, where not only supervisors: editors fill the content gaps.
READERS: dict[str, tuple[str, ...]] = {"gaps": (SUPERVISOR, EDITOR)}


def today() -> date:
    return datetime.now(UTC).date()


def scope_of(request: web.Request, model: type[staff.ReportQuery] = staff.ReportQuery) -> tuple[Scope, dict[str, str]]:
    """The period and filters of a report request (its query, validated by ``model``), and the report's own
    parameters that were given (the topics report's ``tag``)."""
    now = today()
    asked = api_query(request, model, context={"today": now})
    first, last = asked.period(now)
    channel = asked.channel.value if asked.channel else None
    extra = {key: value for key, value in asked.model_dump(exclude=set(staff.ReportQuery.model_fields)).items()
             if value is not None}
    return Scope(first, last, channel, asked.queue), extra


# The exports come first: "cases.csv" would also match the reports' route.
@routes.get("/api/reports/cases.csv")
async def cases_csv(request: web.Request) -> web.StreamResponse:
    await signed_in(request, SUPERVISOR)
    scope, _ = scope_of(request)
    reports = request.app[REPORTS]
    rows = exports.case_rows(reports.store, scope.cases(), reports.mask)
    return await csv_response(request, f"cases-{scope.first_day}-{scope.last_day}.csv", exports.CASE_COLUMNS, rows)


@routes.get("/api/reports/surveys.csv")
async def surveys_csv(request: web.Request) -> web.StreamResponse:
    await signed_in(request, SUPERVISOR)
    scope, _ = scope_of(request)
    reports = request.app[REPORTS]
    rows = exports.survey_rows(reports.store, scope.cases(), reports.mask)
    return await csv_response(request, f"surveys-{scope.first_day}-{scope.last_day}.csv", exports.SURVEY_COLUMNS, rows)


@routes.get("/api/reports/{name}")
async def report(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    await signed_in(request, *READERS.get(name, (SUPERVISOR,)))
    if name not in REPORTS_BY_NAME:
        raise ApiError("not_found", f"no such report: {name} (there are {', '.join(REPORTS_BY_NAME)})")
    build, query = REPORTS_BY_NAME[name]
    scope, extra = scope_of(request, query)
    return web.json_response({"report": name, **await build(request.app[REPORTS], scope, extra)})


async def csv_response(request: web.Request, filename: str, header: Sequence[str],
               rows: AsyncIterator[Sequence[Any]]) -> web.StreamResponse:
    """Stream the rows as CSV (UTF-8, a header row first) as a file to save."""
    response = web.StreamResponse(headers={
        "Content-Type": "text/csv; charset=utf-8",
        "Content-Disposition": f'attachment; filename="{filename}"',
        "Cache-Control": "no-store",
    })
    await response.prepare(request)
    async for chunk in exports.csv_chunks(header, rows):
        await response.write(chunk.encode())
    await response.write_eof()
    return response
