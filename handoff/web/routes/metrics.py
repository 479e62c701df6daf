"""``GET /metrics``: this node's metrics in Prometheus' text format (docs/operations.md, "Metrics and logs"),
for the bearer of ``metrics_token`` only; without that setting, for nobody."""

from __future__ import annotations

import hmac

from aiohttp import web

from handoff.errors import ApiError
from handoff.metrics.node import CONTENT_TYPE
from handoff.web.keys import METRICS, SETTINGS

routes = web.RouteTableDef()


def _bears(request: web.Request, token: str) -> bool:
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    return scheme == "Bearer" and hmac.compare_digest(given.encode("utf-8", "surrogatepass"), token.encode("utf-8"))


@routes.get("/metrics")
async def metrics(request: web.Request) -> web.Response:
    token = request.app[SETTINGS].metrics_token
    if not token:
        raise ApiError("forbidden", "metrics are off: set metrics_token (docs/operations.md)")
    if not _bears(request, token):
        raise ApiError("unauthorized", "metrics: send the metrics token as Authorization: Bearer <metrics_token>")
    body = await request.app[METRICS].exposition()
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE})
