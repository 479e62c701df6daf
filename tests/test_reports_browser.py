"""The reports page in a real browser (Debian's Chromium driven by playwright) against a real app on
the seeded cases of tests/report_seed.py: the sign-in and its role check, the charts and their
tables with the seeded figures, the CSV download, and the link from the panel.

The browser is the suite's (the `browser` fixture, tests/browser.py). Screenshots go to test-artifacts/ (git-ignored):
reports-dashboard.png (the whole page), reports-overview.png (its top), reports-gaps.png and
reports-topics.png.
"""

from __future__ import annotations

import asyncio
import csv
import io
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, Page, expect

from harness.servers import AppServer, free_port, serve_app
from tests import report_seed
from tests.browser import ARTIFACTS, WAIT_MS, open_page, sign_in_staff


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppServer]:
    workdir = tmp_path_factory.mktemp("reports-browser")
    asyncio.run(report_seed.seed(f"sqlite+aiosqlite:///{workdir / 'casedesk.db'}"))
    started = serve_app(workdir, f"http://127.0.0.1:{free_port()}", settings_file=report_seed.SETTINGS_FILE)
    try:
        yield started
    finally:
        started.stop()


async def chart_data(page: Page, testid: str) -> dict[str, Any]:
    """What the chart on ``testid``'s canvas draws: its labels and each dataset's label and numbers."""
    return await page.evaluate(  # type: ignore[no-any-return]
        """id => { const c = Chart.getChart(document.querySelector(`[data-testid="${id}"]`));
                  return {labels: c.data.labels, datasets: c.data.datasets.map(d => [d.label, d.data])}; }""",
        testid)


def row(page: Page, table: str, first_cell: str) -> Any:
    return page.get_by_test_id(table).locator("tbody tr").filter(
        has=page.locator("th", has_text=re.compile(f"^{re.escape(first_cell)}$")))


async def cells(page: Page, table: str, first_cell: str) -> list[str]:
    return await row(page, table, first_cell).locator("th, td").all_inner_texts()


async def test_the_reports_dashboard_in_the_browser(browser: Browser, app: AppServer) -> None:
    expect.set_options(timeout=WAIT_MS)
    errors: list[str] = []
    page = await open_page(browser, f"{app.url}/panel/reports", errors)
    await page.set_viewport_size({"width": 1280, "height": 900})
    try:
        await dashboard(page, app)
    except BaseException:
        ARTIFACTS.mkdir(exist_ok=True)
        await page.screenshot(path=str(ARTIFACTS / "failure-reports.png"), full_page=True)
        raise
    assert errors == [], "uncaught errors on the page"


async def dashboard(page: Page, app: AppServer) -> None:
    # -- an agent without the supervisor role is told so, plainly
    await sign_in_staff(page, "ann")
    await expect(page.get_by_test_id("denied-view")).to_be_visible()
    await expect(page.get_by_test_id("denied-message")).to_contain_text("does not have the supervisor role")
    await expect(page.get_by_test_id("reports-view")).to_be_hidden()
    await page.get_by_test_id("signout").click()
    await expect(page.get_by_test_id("login-view")).to_be_visible()

    # -- a supervisor picks the seeded period
    await sign_in_staff(page, report_seed.SUPERVISOR_NAME)
    await expect(page.get_by_test_id("reports-view")).to_be_visible()
    await expect(page.get_by_test_id("report-status")).to_have_text(re.compile(r"^Cases created from"))
    await page.get_by_test_id("filter-from").fill("2025-06-02")
    await page.get_by_test_id("filter-to").fill("2025-06-04")
    await page.get_by_test_id("filter-apply").click()
    await expect(page.get_by_test_id("report-status")).to_have_text(
        "Cases created from 2025-06-02 to 2025-06-04 (UTC).")

    # -- the key figures
    for testid, text in (("kpi-cases", "12"), ("kpi-bot-share", "25.0 %"), ("kpi-csat", "66.7 %"),
                         ("kpi-nps", "+20.0"), ("kpi-first-response", "90 s")):
        await expect(page.get_by_test_id(testid)).to_have_text(text)

    # -- each chart draws the report's numbers, and its table shows them
    assert await chart_data(page, "chart-volume") == {
        "labels": ["2025-06-02", "2025-06-03", "2025-06-04"],
        "datasets": [["mobile", [1, 0, 2]], ["telegram", [0, 0, 0]], ["web", [2, 4, 3]]]}
    assert await cells(page, "volume-table", "2025-06-04") == ["2025-06-04", "2", "0", "3", "5"]
    outcomes = await chart_data(page, "chart-outcomes")
    assert outcomes["datasets"][0][1] == [2, 4, 2, 1, 3]
    assert await cells(page, "outcomes-table", "Resolved by the bot") == ["Resolved by the bot", "2"]
    await expect(page.get_by_test_id("outcomes-table").locator("caption")).to_have_text(
        "Bot's share of the cases that ended: 25.0 %")
    assert (await chart_data(page, "chart-reasons"))["datasets"][0][1] == [4, 2, 1, 1]
    assert await cells(page, "reasons-table", "Bot was not confident") == ["Bot was not confident", "4"]

    assert await cells(page, "satisfaction-queue", "general") == ["general", "3", "3.67", "66.7 %", "+33.3", "3.67"]
    assert await cells(page, "satisfaction-agent", "Ann") == ["Ann", "2", "2.50", "50.0 %", "0.0", "3.50"]
    assert await cells(page, "satisfaction-article", "Assembling your dining table") == [
        "Assembling your dining table", "3", "4.67", "100.0 %", "+100.0", "2.33"]
    assert await cells(page, "satisfaction-topic", "bikes") == ["bikes", "2", "2.50", "50.0 %", "-100.0", "4.00"]
    assert await chart_data(page, "chart-satisfaction") == {
        "labels": ["general", "no queue (bot)", "workshop"], "datasets": [["Mean rating", [3.67, 4.5, 1.0]]]}
    await page.get_by_test_id("satisfaction-by").select_option("by_agent")
    assert await chart_data(page, "chart-satisfaction") == {
        "labels": ["no agent (bot)", "Ann", "Ben"], "datasets": [["Mean rating", [4.5, 2.5, 3.5]]]}

    assert await cells(page, "times-table", "general") == [
        "general", "7", "75 s", "5.1 min", "2.4 min", "3 (42.9 %)", "15.0 min", "27.0 min", "18.3 min", "0 (0.0 %)"]
    assert await cells(page, "times-table", "workshop") == [
        "workshop", "1", "2.0 min", "2.0 min", "2.0 min", "0 (0.0 %)", "2.2 h", "2.2 h", "2.2 h", "1 (100.0 %)"]
    assert await chart_data(page, "chart-first-response") == {
        "labels": ["general", "workshop"], "datasets": [["median", [1.3, 2.0]], ["90th percentile", [5.1, 2.0]]]}

    await expect(page.get_by_test_id("gaps-summary")).to_have_text(re.compile(r"^7 unanswered questions in 4 groups"))
    gaps = page.get_by_test_id("gaps-table").locator("tbody tr")
    await expect(gaps).to_have_count(4)
    assert (await gaps.nth(0).locator("td").all_inner_texts())[:2] == ["3", "3"]
    assert (await chart_data(page, "chart-gaps"))["datasets"][0][1] == [3, 2, 1, 1]
    # A customer's markup is shown as text, never run.
    markup = gaps.filter(has_text="monthly instalments")
    await expect(markup.locator("th")).to_have_text(report_seed.XSS_QUESTION)
    await expect(page.get_by_test_id("report-gaps").locator("img")).to_have_count(0)
    assert await page.evaluate("typeof window.__pwned") == "undefined"

    assert await cells(page, "topics-tags", "furniture") == ["furniture", "5", "3", "60.0 %", "3", "4.67"]
    assert (await chart_data(page, "chart-tags"))["labels"][:3] == ["furniture", "assembly", "dining-table"]
    ARTIFACTS.mkdir(exist_ok=True)
    await page.get_by_test_id("satisfaction-by").select_option("by_queue")
    await page.screenshot(path=str(ARTIFACTS / "reports-dashboard.png"), full_page=True)
    await page.screenshot(path=str(ARTIFACTS / "reports-overview.png"))  # the top of the page
    for section in ("gaps", "topics"):
        await page.get_by_test_id(f"report-{section}").screenshot(path=str(ARTIFACTS / f"reports-{section}.png"))

    # -- the product manager: which furniture is hardest to assemble?
    await page.get_by_test_id("topic-tag").fill("assembly")
    await page.get_by_test_id("topic-apply").click()
    articles = page.get_by_test_id("topics-articles").locator("tbody tr")
    await expect(articles).to_have_count(2)
    await expect(articles.nth(0).locator("th")).to_have_text("Assembling your dining table")
    assert (await chart_data(page, "chart-articles"))["labels"] == [
        "Assembling your dining table", "Assembling dining chairs"]

    # -- the cases as CSV, with the supervisor's sign-in
    async with page.expect_download() as download_info:
        await page.get_by_test_id("export-cases").click()
    download = await download_info.value
    assert download.suggested_filename == "cases-2025-06-02-2025-06-04.csv"
    saved = Path(await download.path())
    [header, *rows] = list(csv.reader(io.StringIO(saved.read_text(encoding="utf-8"))))
    assert len(rows) == 12 and header[-1] == "title"
    assert "'" + report_seed.SPAM in [r[-1] for r in rows]

    # -- the panel links supervisors to the reports (and keeps the sign-in)
    await page.goto(f"{app.url}/panel")
    await expect(page.get_by_test_id("app-view")).to_be_visible()
    await page.get_by_test_id("reports-link").click()
    await expect(page.get_by_test_id("reports-view")).to_be_visible()
