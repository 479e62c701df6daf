"""The supervisors' staff page in a real browser (tests/browser.py) against a real app: a supervisor adds
an account, and disabling it or ending its sessions takes its open panel, in another browser, back to the
sign-in at once; what accounts are called is shown as text, never as HTML. Screenshot:
test-artifacts/staff-page.png."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.async_api import Browser, Page, expect

from harness.servers import PASSWORD, AppServer, free_port, serve_app
from tests.browser import ARTIFACTS, WAIT_MS, XSS, open_page, shot, sign_in_staff


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppServer]:
    started = serve_app(tmp_path_factory.mktemp("staff-browser"), f"http://127.0.0.1:{free_port()}")
    try:
        yield started
    finally:
        started.stop()


def row(page: Page, username: str):  # type: ignore[no-untyped-def]
    return page.locator(f'[data-testid="account-row"][data-username="{username}"]')


async def panel_signed_in(browser: Browser, app: AppServer, username: str, errors: list[str]) -> Page:
    panel = await open_page(browser, f"{app.url}/panel", errors)
    await sign_in_staff(panel, username)
    await expect(panel.get_by_test_id("connection-status")).to_have_text("Online")
    return panel


async def test_disable_and_end_sessions_from_the_staff_page(browser: Browser, app: AppServer) -> None:
    expect.set_options(timeout=WAIT_MS)
    errors: list[str] = []
    page = await open_page(browser, f"{app.url}/panel/staff", errors)
    try:
        await staff_page(browser, app, page, errors)
    except BaseException:
        ARTIFACTS.mkdir(exist_ok=True)
        await page.screenshot(path=str(ARTIFACTS / "failure-staff-page.png"), full_page=True)
        raise
    assert errors == [], "uncaught errors on the pages"


async def staff_page(browser: Browser, app: AppServer, page: Page, errors: list[str]) -> None:
    await sign_in_staff(page, "agent")  # the first account: every role
    await expect(page.get_by_test_id("staff-view")).to_be_visible()
    await expect(row(page, "agent").get_by_test_id("account-disable")).to_have_count(0)  # not yourself

    # -- add an account; a weak password is refused with the rule it breaks
    await page.get_by_test_id("add-username").fill("kim")
    await page.get_by_test_id("add-display-name").fill(XSS)
    await page.get_by_test_id("add-password").fill("kim-password")
    await page.get_by_test_id("add-submit").click()
    await expect(page.get_by_test_id("staff-error")).to_have_text("password: must not be or contain the user name")
    await page.get_by_test_id("add-password").fill(PASSWORD)
    await page.get_by_test_id("add-submit").click()
    await expect(page.get_by_test_id("staff-status")).to_have_text("kim added.")
    await expect(row(page, "kim").locator("td").first).to_have_text(XSS)
    assert await page.evaluate("window.__pwned") is None

    # -- kim's panel, in another browser context, goes back to the sign-in when a supervisor disables kim
    panel = await panel_signed_in(browser, app, "kim", errors)
    await page.reload()
    await expect(row(page, "kim").get_by_test_id("account-sessions")).to_have_text("1")
    await row(page, "kim").get_by_test_id("account-disable").click()
    await expect(page.get_by_test_id("staff-status")).to_have_text("kim is disabled: its sessions have ended.")
    await expect(row(page, "kim").get_by_test_id("account-state")).to_have_text("Disabled")
    await expect(panel.get_by_test_id("login-view")).to_be_visible(timeout=2000)
    await expect(panel.get_by_test_id("login-error")).to_have_text(
        "Your account was disabled. Please sign in again.")
    await sign_in_staff(panel, "kim")
    await expect(panel.get_by_test_id("login-error")).to_have_text("this account is disabled; ask a supervisor")

    # -- enabled, signed in again; ending its sessions takes the panel back to the sign-in
    await row(page, "kim").get_by_test_id("account-enable").click()
    await expect(row(page, "kim").get_by_test_id("account-state")).to_have_text("Active")
    await sign_in_staff(panel, "kim")
    await expect(panel.get_by_test_id("connection-status")).to_have_text("Online")
    await row(page, "kim").get_by_test_id("account-revoke").click()
    await expect(page.get_by_test_id("staff-status")).to_have_text("1 session(s) of kim ended.")
    await expect(panel.get_by_test_id("login-view")).to_be_visible(timeout=2000)
    await expect(panel.get_by_test_id("login-error")).to_have_text(
        "A supervisor ended your sessions. Please sign in again.")

    # -- an agent without the supervisor role is told so on the staff page
    await sign_in_staff(panel, "kim")
    await expect(panel.get_by_test_id("connection-status")).to_have_text("Online")
    await expect(panel.get_by_test_id("staff-link")).to_be_hidden()
    await panel.goto(f"{app.url}/panel/staff")
    await expect(panel.get_by_test_id("denied-view")).to_be_visible()

    # -- the last supervisor cannot lose the role: the page says why
    await page.get_by_test_id("change-account").select_option(label="agent")
    await page.get_by_test_id("change-role-supervisor").uncheck()
    await page.get_by_test_id("change-roles").click()
    await expect(page.get_by_test_id("staff-error")).to_contain_text("cannot take the supervisor role from yourself")
    await page.reload()
    await shot(page, "staff-page.png")
