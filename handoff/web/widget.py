"""The web widget's configuration (``GET /api/widget/config``), readable by the host sites of
``widget_origins`` (docs/widget.md)."""

from __future__ import annotations

from aiohttp import web

from handoff.errors import ApiError
from handoff.web.api import reply
from handoff.web.keys import SETTINGS
from handoff.web.origins import own_origins
from handoff.wire import customer

routes = web.RouteTableDef()


def _check_origin(request: web.Request) -> str | None:
    """The request's Origin when it is another listed origin (to name in the CORS header); None for a
    request of the app's own origin or without one; a refused origin raises ``forbidden``."""
    origin = request.headers.get("Origin")
    if origin is None:
        return None
    own = own_origins(request.scheme, request.host, request.headers.get("X-Forwarded-Proto"),
                      request.headers.get("X-Forwarded-Host"))
    if origin.lower() in own:
        return None
    if origin.lower() in request.app[SETTINGS].widget_origins:
        return origin
    raise ApiError("forbidden", f"origin {origin} may not embed the widget: it is not in widget_origins")


@routes.get("/api/widget/config")
async def widget_config(request: web.Request) -> web.Response:
    origin = _check_origin(request)
    settings = request.app[SETTINGS]
    response = reply(customer.WidgetConfig, {"max_message_length": settings.max_message_length})
    response.headers["Vary"] = "Origin"
    if origin is not None:
        response.headers["Access-Control-Allow-Origin"] = origin
    return response
