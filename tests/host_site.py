"""A host site on another origin that embeds the widget with one script tag: a real aiohttp server on a
loopback port of its own, serving a few pages (the shop's, not the app's). A page may be rendered on each
request, as a shop renders a signed-in customer's page with a fresh identity token (docs/contacts.md)."""

from __future__ import annotations

import contextlib
import html
import urllib.parse
from collections.abc import AsyncIterator, Callable, Mapping

from aiohttp import web


def host_page(app_url: str, heading: str, links: dict[str, str] | None = None, **data: str) -> str:
    """A shop page with links to its other pages and the widget's one script tag, its ``data-*`` options
    from ``data`` (``accent_text`` is ``data-accent-text``)."""
    attrs = "".join(f' data-{name.replace("_", "-")}="{html.escape(value)}"' for name, value in data.items())
    nav = "".join(f'<a href="{html.escape(href)}">{html.escape(text)}</a> ' for href, text in (links or {}).items())
    return (f'<!doctype html><html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1"><title>{html.escape(heading)}</title>'
            f'</head><body><nav>{nav}</nav><h1>{html.escape(heading)}</h1><p>Bikes and tables.</p>'
            f'<script src="{html.escape(app_url)}/static/widget/widget.js"{attrs}'
            ' defer></script></body></html>')


@contextlib.asynccontextmanager
async def host_site(origin: str, pages: Mapping[str, str | Callable[[], str]]) -> AsyncIterator[str]:
    """Serve ``pages`` (path -> HTML, or a function rendering it on each request) at ``origin``
    (http://127.0.0.1:PORT); yields the origin."""
    app = web.Application()
    for path, body in pages.items():
        async def page(request: web.Request, body: str | Callable[[], str] = body) -> web.Response:
            return web.Response(text=body() if callable(body) else body, content_type="text/html")

        app.router.add_get(path, page)
    runner = web.AppRunner(app)
    await runner.setup()
    port = urllib.parse.urlsplit(origin).port
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    try:
        yield origin
    finally:
        await runner.cleanup()
