"""REST endpoints of the supervisors' reports and the CSV exports (docs/reports.md, docs/protocol.md).

Every endpoint needs the supervisor role; the content gaps (``gaps``) take an editor too. The period
and filters come as query parameters, checked here: ``from`` and ``to`` (``YYYY-MM-DD``, UTC days,
both included; by default the last 30 days up to today), ``channel`` and ``queue`` (empty means
any); the topics report also takes ``tag``.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

from aiohttp import web
from multidict import MultiMapping

from handoff.cases.routing import CHANNELS
from handoff.errors import ApiError
from handoff.reports import exports
from handoff.reports.figures import Reports, Scope
from handoff.staff.accounts import EDITOR, SUPERVISOR
from handoff.web.api import signed_in
from handoff.web.keys import REPORTS

routes = web.RouteTableDef()

DEFAULT_DAYS = 30
MAX_DAYS = 366
DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
FILTERS = frozenset({"from", "to", "channel", "queue"})
MAX_QUEUE, MAX_TAG = 40, 80

Report = Callable[[Reports, Scope, Mapping[str, str]], Awaitable[dict[str, Any]]]
REPORTS_BY_NAME: dict[str, tuple[Report, frozenset[str]]] = {  # name -> the report, its own parameters
    "volume": (lambda r, scope, _: r.volume(scope), frozenset()),
    "deflection": (lambda r, scope, _: r.deflection(scope), frozenset()),
    "satisfaction": (lambda r, scope, _: r.satisfaction(scope), frozenset()),
    "times": (lambda r, scope, _: r.times(scope), frozenset()),
    "gaps": (lambda r, scope, _: r.gaps(scope), frozenset()),
    "topics": (lambda r, scope, extra: r.topics(scope, extra.get("tag")), frozenset({"tag"})),
}
# The roles that may read a report, where not only supervisors: editors fill the content gaps.
READERS: dict[str, tuple[str, ...]] = {"gaps": (SUPERVISOR, EDITOR)}


def today() -> date:
    return datetime.now(UTC).date()


def _day(value: str, key: str) -> date:
    if not DATE.fullmatch(value):
        raise ApiError("invalid_payload", f"{key}: must be a date as YYYY-MM-DD")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ApiError("invalid_payload", f"{key}: {value} is no date") from None


def scope_of(query: MultiMapping[str], now: date, extra: frozenset[str] = frozenset()) -> tuple[Scope, dict[str, str]]:
    """The period and filters of a report request, and its own parameters (``extra``) that were given."""
    for key in query:
        if key not in FILTERS | extra:
            raise ApiError("invalid_payload", f"{key}: unknown parameter")
        if len(query.getall(key)) > 1:
            raise ApiError("invalid_payload", f"{key}: given more than once")
    given = {key: query[key].strip() for key in query if query[key].strip()}
    last = _day(given["to"], "to") if "to" in given else now
    first = _day(given["from"], "from") if "from" in given else last - timedelta(days=DEFAULT_DAYS - 1)
    if first > last:
        raise ApiError("invalid_payload", "from: must not be after to")
    if (last - first).days + 1 > MAX_DAYS:
        raise ApiError("invalid_payload", f"from, to: a period is at most {MAX_DAYS} days")
    channel = given.get("channel")
    if channel is not None and channel not in CHANNELS:
        raise ApiError("invalid_payload", f"channel: must be one of {', '.join(CHANNELS)}")
    queue = given.get("queue")
    if queue is not None and len(queue) > MAX_QUEUE:
        raise ApiError("invalid_payload", f"queue: must be at most {MAX_QUEUE} characters")
    if len(given.get("tag", "")) > MAX_TAG:
        raise ApiError("invalid_payload", f"tag: must be at most {MAX_TAG} characters")
    return Scope(first, last, channel, queue), {key: given[key] for key in extra if key in given}


# The exports come first: "cases.csv" would also match the reports' route.
@routes.get("/api/reports/cases.csv")
async def cases_csv(request: web.Request) -> web.StreamResponse:
    await signed_in(request, SUPERVISOR)
    scope, _ = scope_of(request.query, today())
    reports = request.app[REPORTS]
    rows = exports.case_rows(reports.store, scope.cases(), reports.mask)
    return await _csv(request, f"cases-{scope.first_day}-{scope.last_day}.csv", exports.CASE_COLUMNS, rows)


@routes.get("/api/reports/surveys.csv")
async def surveys_csv(request: web.Request) -> web.StreamResponse:
    await signed_in(request, SUPERVISOR)
    scope, _ = scope_of(request.query, today())
    reports = request.app[REPORTS]
    rows = exports.survey_rows(reports.store, scope.cases(), reports.mask)
    return await _csv(request, f"surveys-{scope.first_day}-{scope.last_day}.csv", exports.SURVEY_COLUMNS, rows)


@routes.get("/api/reports/{name}")
async def report(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    await signed_in(request, *READERS.get(name, (SUPERVISOR,)))
    if name not in REPORTS_BY_NAME:
        raise ApiError("not_found", f"no such report: {name} (there are {', '.join(REPORTS_BY_NAME)})")
    build, own = REPORTS_BY_NAME[name]
    scope, extra = scope_of(request.query, today(), own)
    return web.json_response({"report": name, **await build(request.app[REPORTS], scope, extra)})


async def _csv(request: web.Request, filename: str, header: Sequence[str],
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
