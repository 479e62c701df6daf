"""Each REST request's id, for the logs (handoff/logs): the ``X-Request-Id`` a trusted proxy sends
(``trusted_proxies``), else a new one; the answer carries it back in the same header."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from handoff.limits.addresses import from_trusted_proxy
from handoff.logs.context import about_request, request_id
from handoff.web.keys import LIMITER

HEADER = "X-Request-Id"


@web.middleware
async def request_ids(request: web.Request, handler: Any) -> web.StreamResponse:
    given = request.headers.get(HEADER) if from_trusted_proxy(request.remote, request.app[LIMITER].trusted) else None
    with about_request(request_id(given)) as rid:
        response: web.StreamResponse = await handler(request)
        if not response.prepared:
            response.headers[HEADER] = rid
        return response
