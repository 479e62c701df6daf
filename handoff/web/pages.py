"""Pages and static files: the demo shop page with the widget, the agent panel, its reports and audit log
pages and the knowledge base editor, article pages."""

from __future__ import annotations

import html
from pathlib import Path

from aiohttp import web

from handoff.errors import ApiError
from handoff.web.keys import INDEX
from knowledge_index.entries import plain_text

ROOT = Path(__file__).resolve().parents[2]
WIDGET_DIR = ROOT / "connectors" / "static"
PANEL_DIR = Path(__file__).resolve().parent / "static"
VENDOR_DIR = ROOT / "node_modules" / "socket.io-client" / "dist"
CHARTS_DIR = ROOT / "node_modules" / "chart.js" / "dist"  # Chart.js's UMD build, for the reports page

routes = web.RouteTableDef()


@routes.get("/")
async def demo_page(request: web.Request) -> web.FileResponse:
    return web.FileResponse(WIDGET_DIR / "demo.html")


@routes.get("/panel")
async def panel_page(request: web.Request) -> web.FileResponse:
    return web.FileResponse(PANEL_DIR / "panel.html")


@routes.get("/panel/reports")
async def reports_page(request: web.Request) -> web.FileResponse:
    return web.FileResponse(PANEL_DIR / "reports.html")


@routes.get("/panel/staff")
async def staff_page(request: web.Request) -> web.FileResponse:
    return web.FileResponse(PANEL_DIR / "staff.html")


@routes.get("/panel/audit")
async def audit_page(request: web.Request) -> web.FileResponse:
    return web.FileResponse(PANEL_DIR / "audit.html")


@routes.get("/panel/editor")
async def editor_page(request: web.Request) -> web.FileResponse:
    return web.FileResponse(PANEL_DIR / "editor.html")


@routes.get("/kb/{article_id}")
async def article_page(request: web.Request) -> web.Response:
    article = request.app[INDEX].article(request.match_info["article_id"])
    if article is None:
        raise ApiError("not_found", "no such article")
    paragraphs = "\n".join(
        f"<p>{html.escape(block)}</p>"
        for block in plain_text(article.body).split("\n\n")
    )
    title = html.escape(article.title)
    body = (
        f'<!doctype html><html lang="{html.escape(article.locale)}"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1"><title>{title}</title>'
        '<link rel="stylesheet" href="/static/widget/article.css">'
        f"</head><body><main><h1>{title}</h1>\n{paragraphs}\n</main></body></html>"
    )
    return web.Response(text=body, content_type="text/html")


def add_static(app: web.Application) -> None:
    app.router.add_static("/static/widget/", WIDGET_DIR)
    app.router.add_static("/static/panel/", PANEL_DIR)
    if VENDOR_DIR.exists():
        app.router.add_static("/static/vendor/", VENDOR_DIR)
    if CHARTS_DIR.exists():
        app.router.add_static("/static/charts/", CHARTS_DIR)
