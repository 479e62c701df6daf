"""Every answer of the app carries the security headers of handoff/web/headers.py (nosniff, a referrer
policy, HSTS behind https; each HTML page a Content-Security-Policy without inline script or style, whose
frame-ancestors follow widget_origins), and every page works under its policy in a real browser: no
violation is reported while the demo page's widget chats, the panel, the reports and the editor are
signed in to, an article is read and a survey link is opened."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import aiohttp
from playwright.async_api import Browser, Page, expect

from handoff.settings import Settings
from handoff.web.headers import headers_for
from harness.servers import AppProcess, RasaProcess, free_port, served_app
from tests import test_survey as survey
from tests.browser import WAIT_MS, sign_in_staff

STAFF_PAGES = ("/panel", "/panel/reports", "/panel/editor", "/panel/staff", "/panel/audit")
CUSTOMER_PAGES = ("/", "/kb/bike-returns")
OTHER_ANSWERS = ("/static/widget/widget.js", "/static/panel/panel.css", "/static/vendor/socket.io.min.js",
                 "/healthz", "/api/openapi.json", "/api/no/such/route", "/static/widget/nothing-here.js",
                 "/socket.io/?EIO=4&transport=polling")
# What a violation is reported as, to the page (the event) and on the console.
LISTEN = """document.addEventListener("securitypolicyviolation", (e) => {
  (window.__violations = window.__violations || []).push(e.violatedDirective + " " + e.blockedURI);
});"""


async def get(url: str) -> tuple[int, Any]:
    async with aiohttp.ClientSession() as http, http.get(url) as response:
        return response.status, response.headers


def policy(headers: Any) -> dict[str, str]:
    csp = headers["Content-Security-Policy"]
    return {part.split(" ", 1)[0]: part.split(" ", 1)[1] for part in csp.split("; ")}


async def test_every_answer_carries_the_headers(stack: tuple[AppProcess, RasaProcess], host_origin: str) -> None:
    app = stack[0]
    case = await survey.resolved_case(app.url, "I want to talk to a person")
    await case.close()
    pages = (*STAFF_PAGES, *CUSTOMER_PAGES, case.survey_url)
    for path in (*pages, *OTHER_ANSWERS):
        status, headers = await get(app.url + path)
        assert headers["X-Content-Type-Options"] == "nosniff", path
        referrer = "no-referrer" if path.startswith("/survey/") else "strict-origin-when-cross-origin"
        assert headers["Referrer-Policy"] == referrer, path
        assert "Strict-Transport-Security" not in headers  # public_url is http here
        if path in pages:
            assert status == 200 and headers["Content-Type"].startswith("text/html"), path
            directives = policy(headers)
            assert directives["script-src"] == "'self'" and directives["style-src"] == "'self'", path
            assert "unsafe" not in headers["Content-Security-Policy"], path
            ancestors = f"'self' {host_origin}" if path in CUSTOMER_PAGES else "'none'"
            assert directives["frame-ancestors"] == ancestors, path
        else:
            assert "Content-Security-Policy" not in headers, path
    _, survey_headers = await get(app.url + case.survey_url)
    assert survey_headers["Cache-Control"] == "no-store"


async def test_hsts_behind_https(tmp_path: Path) -> None:
    """An app whose public_url is https (behind a TLS proxy) sends HSTS with every answer."""
    with served_app(tmp_path, f"http://127.0.0.1:{free_port()}",
                    {"CASEDESK_PUBLIC_URL": "https://help.example.com"}) as app:
        for path in ("/", "/healthz", "/static/widget/widget.css", "/api/no/such/route"):
            _, headers = await get(app.url + path)
            assert headers["Strict-Transport-Security"] == "max-age=31536000", path
            assert headers["X-Content-Type-Options"] == "nosniff", path


def test_hsts_follows_public_url() -> None:
    https = Settings(public_url="https://help.example.com")
    assert headers_for("/healthz", "application/json", https)["Strict-Transport-Security"] == "max-age=31536000"
    assert "Strict-Transport-Security" not in headers_for("/healthz", "application/json", Settings())
    html = headers_for("/", "text/html", Settings(widget_origins=("https://shop.example", "https://b.example")))
    assert "frame-ancestors 'self' https://shop.example https://b.example" in html["Content-Security-Policy"]


async def open_listening(browser: Browser, url: str, errors: list[str], console: list[str]) -> Page:
    """A page at ``url`` in a fresh context that records policy violations (`violations`), page errors and
    the console's errors."""
    context = await browser.new_context(viewport={"width": 1100, "height": 800})
    context.set_default_timeout(WAIT_MS)
    await context.add_init_script(LISTEN)
    page = await context.new_page()
    page.on("pageerror", lambda exc: errors.append(f"{url}: {exc}"))
    page.on("console", lambda message: console.append(f"{url}: {message.text}") if message.type == "error" else None)
    await page.goto(url)
    return page


async def violations(page: Page) -> list[str]:
    return await page.evaluate("window.__violations || []")  # type: ignore[no-any-return]


async def test_every_page_works_under_its_policy(browser: Browser, stack: tuple[AppProcess, RasaProcess]) -> None:
    expect.set_options(timeout=WAIT_MS)
    app = stack[0]
    errors: list[str] = []
    console: list[str] = []
    seen: dict[str, list[str]] = {}

    # The demo page: the widget loads, connects its socket and gets the bot's answer.
    page = await open_listening(browser, app.url + "/", errors, console)
    await page.get_by_test_id("cdw-launcher").click()
    widget = page.get_by_test_id("cdw-panel")
    await widget.get_by_test_id("cdw-input").fill("how do I return a bike?")
    await widget.get_by_test_id("cdw-send").click()
    await expect(widget.get_by_test_id("cdw-article-link").first).to_be_visible()
    seen["/"] = await violations(page)
    await page.context.close()

    # The staff's pages, signed in: the panel's socket, the reports' charts, the editor's list.
    ready = {"/panel": ("connection-status", re.compile("Online")),
             "/panel/reports": ("report-status", re.compile(r"^Cases created from")),
             "/panel/editor": ("list-status", re.compile(r"\d+ articles")),
             "/panel/staff": ("accounts", re.compile(r"Username.*agent", re.S)),
             "/panel/audit": ("audit-status", re.compile(r"^\d+ entr"))}
    for path, (test_id, text) in ready.items():
        page = await open_listening(browser, app.url + path, errors, console)
        await sign_in_staff(page, "agent")
        await expect(page.get_by_test_id(test_id)).to_have_text(text)
        seen[path] = await violations(page)
        await page.context.close()

    # An article, and the survey of a one-time link.
    case = await survey.resolved_case(app.url, "I want to talk to a person")
    await case.close()
    for path, test_id in (("/kb/bike-returns", None), (case.survey_url, "survey-title")):
        page = await open_listening(browser, app.url + path, errors, console)
        if test_id:
            await expect(page.get_by_test_id(test_id)).to_have_text("Rate your conversation")
        else:
            assert await page.evaluate("getComputedStyle(document.querySelector('main p')).whiteSpace") == "pre-line"
        seen[path] = await violations(page)
        await page.context.close()

    assert all(not found for found in seen.values()), seen
    assert not [line for line in console if "Content Security Policy" in line], console
    assert not errors, errors
