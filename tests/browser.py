"""Debian's Chromium driven by playwright, for the tests that use a page (the `browser` fixture in
conftest.py). Playwright's own browser downloads are never used; scripts/test installs /usr/bin/chromium.
Screenshots go to test-artifacts/ (git-ignored)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

from playwright.async_api import Browser, Locator, Page, async_playwright

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
WAIT_MS = 20_000
# A message that would run script if a page inserted it as HTML.
XSS = '<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script><b>bold</b>'


@contextlib.asynccontextmanager
async def chromium() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            headless=True,
            # Pages a test serves through playwright's routing have no address, which Chromium's local
            # network access checks treat as public and then refuse their sockets to loopback.
            args=["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--disable-features=LocalNetworkAccessChecks"],
        )
        try:
            yield browser
        finally:
            await browser.close()


async def open_page(browser: Browser, url: str, errors: list[str]) -> Page:
    """A page at ``url`` in a fresh context; uncaught page errors are appended to ``errors``."""
    context = await browser.new_context(viewport={"width": 1100, "height": 800})
    context.set_default_timeout(WAIT_MS)
    page = await context.new_page()
    page.on("pageerror", lambda exc: errors.append(f"{url}: {exc}"))
    await page.goto(url)
    return page


async def sign_in_staff(page: Page, username: str, password: str = "correct horse battery") -> None:
    """Sign in on a staff page (panel, reports, editor: staff.js's form)."""
    await page.get_by_test_id("login-username").fill(username)
    await page.get_by_test_id("login-password").fill(password)
    await page.get_by_test_id("login-submit").click()


async def shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / name))


async def seqs(items: Locator) -> list[str]:
    """The messages' sequence numbers, in the order the page shows them."""
    return await items.evaluate_all("els => els.map(e => e.getAttribute('data-seq'))")
