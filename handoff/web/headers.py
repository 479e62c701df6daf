"""The security headers of every answer the app gives (pages, static files, JSON, errors), as one rule
(`headers_for`), added as each response is prepared (`add_security_headers`):

- every answer: ``X-Content-Type-Options: nosniff`` and a ``Referrer-Policy`` (``no-referrer`` where the
  address holds a token, the survey links; else ``strict-origin-when-cross-origin``); with an https
  ``public_url``, ``Strict-Transport-Security``;
- every HTML page: a Content-Security-Policy with no inline script or style (scripts and stylesheets
  from the app only; the socket and REST calls to the app only) whose ``frame-ancestors`` lets the host
  sites of ``widget_origins`` frame the pages customers read (the demo page, articles) and nobody frame
  the staff's pages and the survey (docs/widget.md: the widget itself is a script, never a frame).
"""

from __future__ import annotations

from collections.abc import Mapping

from aiohttp import web

from handoff.settings import Settings
from handoff.web.keys import SETTINGS

HSTS_SECONDS = 365 * 24 * 3600
# Pages whose address holds a secret (a survey link's token): no referrer, never cached.
TOKEN_PAGES = ("/survey/",)
# Pages a customer reads, which the sites of widget_origins may frame; the other pages nobody may.
CUSTOMER_PAGES = ("/kb/",)  # and the demo page, "/"
POLICY = ("default-src 'self'", "script-src 'self'", "style-src 'self'", "img-src 'self' data:",
          "connect-src 'self'", "font-src 'self'", "object-src 'none'", "base-uri 'none'", "form-action 'self'")


def frame_ancestors(path: str, widget_origins: tuple[str, ...]) -> str:
    if path == "/" or path.startswith(CUSTOMER_PAGES):
        return " ".join(("'self'", *widget_origins))
    return "'none'"


def content_security_policy(path: str, widget_origins: tuple[str, ...]) -> str:
    return "; ".join((*POLICY, f"frame-ancestors {frame_ancestors(path, widget_origins)}"))


def headers_for(path: str, content_type: str, settings: Settings) -> Mapping[str, str]:
    """The security headers of an answer to ``path`` whose body is ``content_type``."""
    token_page = path.startswith(TOKEN_PAGES)
    headers = {
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer" if token_page else "strict-origin-when-cross-origin",
    }
    if settings.public_url.startswith("https://"):
        headers["Strict-Transport-Security"] = f"max-age={HSTS_SECONDS}"
    if content_type == "text/html":
        headers["Content-Security-Policy"] = content_security_policy(path, settings.widget_origins)
        if token_page:
            headers["Cache-Control"] = "no-store"
    return headers


async def add_security_headers(request: web.Request, response: web.StreamResponse) -> None:
    """``on_response_prepare``: the headers of `headers_for`, on every answer."""
    response.headers.update(headers_for(request.path, response.content_type, request.app[SETTINGS]))
