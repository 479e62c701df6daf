"""The survey in a real browser (Debian's Chromium driven by playwright, tests/browser.py): the
page of the one-time link, and the widget asking the configured questions. Screenshots go to
test-artifacts/."""

from __future__ import annotations

import json

from playwright.async_api import Browser, Locator, Page, expect

from harness.clients import agent_socket, http_json
from harness.servers import AppProcess
from tests import test_survey as survey
from tests.browser import WAIT_MS, XSS, open_page, shot

survey_app = survey.survey_app  # the app that asks every question (an instance of its own for this module)


def point(page: Page, test_id: str, value: int) -> Locator:
    """One button of a numbered scale."""
    return page.locator(f"[data-testid={test_id}][data-value='{value}']")


async def pressed(page: Page, test_id: str, value: int) -> None:
    await expect(point(page, test_id, value)).to_have_attribute("aria-pressed", "true")


async def test_the_link_page_is_answered_once_with_the_keyboard(browser: Browser, survey_app: AppProcess) -> None:
    expect.set_options(timeout=WAIT_MS)
    errors: list[str] = []
    case = await survey.resolved_case(survey_app.url)
    token = case.link_token
    page = await open_page(browser, f"{survey_app.url}/survey/{token}", errors)
    try:
        await expect(page.get_by_test_id("survey-title")).to_have_text("Rate your conversation")
        await expect(page.get_by_test_id("survey-case")).to_have_text(f"Case #{case.view()['case_number']}")
        assert await page.evaluate("[document.documentElement.lang, document.documentElement.dir]") == ["en", "ltr"]
        stars = page.get_by_test_id("survey-satisfaction")
        await expect(stars).to_have_count(5)
        await expect(page.get_by_test_id("survey-nps")).to_have_count(11)
        await expect(page.get_by_test_id("survey-effort")).to_have_count(7)
        await expect(stars.nth(3)).to_have_attribute("aria-label", "4 out of 5")
        await expect(point(page, "survey-nps", 9)).to_have_attribute("aria-label", "9 out of 10")
        await expect(page.locator("fieldset[data-question=nps] legend")).to_have_text(
            "How likely are you to recommend us?")
        await expect(page.locator("fieldset[data-question=effort] legend")).to_have_text(
            "How easy was it to get your issue resolved?")

        # Submitting without a rating asks for one, and nothing is stored.
        await page.get_by_test_id("survey-submit").click()
        await expect(page.get_by_test_id("survey-error")).to_have_text("Please choose a rating.")
        await expect(stars.first).to_be_focused()
        assert survey.survey_row(survey_app.db_path, case.id) is None

        # The keyboard alone: Tab from the first star to the fourth, Space; Tab on through the NPS scale, Enter.
        for _ in range(3):
            await page.keyboard.press("Tab")
        await expect(stars.nth(3)).to_be_focused()
        await page.keyboard.press("Space")
        await pressed(page, "survey-satisfaction", 4)
        await expect(page.get_by_test_id("survey-error")).to_be_empty()
        for _ in range(11):  # past the fifth star, to NPS 9
            await page.keyboard.press("Tab")
        await expect(point(page, "survey-nps", 9)).to_be_focused()
        await page.keyboard.press("Enter")
        await pressed(page, "survey-nps", 9)
        await point(page, "survey-effort", 6).click()
        await pressed(page, "survey-effort", 6)
        await page.get_by_test_id("survey-comment").fill(XSS)
        await shot(page, "survey-link-page.png")
        await page.get_by_test_id("survey-submit").click()
        await expect(page.get_by_test_id("survey-notice")).to_have_text("Thank you for your feedback.")
        await shot(page, "survey-link-thanks.png")
        assert await page.evaluate("typeof window.__pwned") == "undefined"

        detail = await survey.case_detail(survey_app.url, case)
        answer = {k: detail["survey"][k] for k in ("rating", "nps", "effort", "comment", "answered_via")}
        assert answer == {"rating": 4, "nps": 9, "effort": 6, "comment": XSS, "answered_via": "link"}
        # The open chat is told; the link, opened again, says it was answered.
        await case.customer.wait_for("case_updated", lambda c: c["id"] == case.id and c["survey_answered"])
        await page.reload()
        await expect(page.get_by_test_id("survey-notice")).to_have_attribute("data-state", "answered")
        await expect(page.get_by_test_id("survey-form")).to_have_count(0)

        # A changed token: the page says the link is not valid.
        conversation_id, signature = token.split(".")
        await page.goto(f"{survey_app.url}/survey/{conversation_id}.{signature[::-1]}")
        await expect(page.get_by_test_id("survey-notice")).to_have_attribute("data-state", "invalid")
        await expect(page.get_by_test_id("survey-notice")).to_contain_text("This survey link is not valid")
    except BaseException:
        await shot(page, "failure-survey-link.png")
        raise
    finally:
        await case.close()
    assert errors == [], "uncaught errors on the page"


async def test_the_link_page_in_arabic_reads_right_to_left(browser: Browser, survey_app: AppProcess) -> None:
    expect.set_options(timeout=WAIT_MS)
    errors: list[str] = []
    case = await survey.resolved_case(survey_app.url, locale="ar")
    page = await open_page(browser, survey_app.url + case.survey_url, errors)
    try:
        await expect(page.get_by_test_id("survey-title")).to_have_text("قيّم محادثتك")
        assert await page.evaluate("[document.documentElement.lang, document.documentElement.dir]") == ["ar", "rtl"]
        await expect(page.get_by_test_id("survey-satisfaction").first).to_have_attribute("aria-label", "1 من 5")
        # Right to left: the NPS scale starts at the right.
        zero = await point(page, "survey-nps", 0).bounding_box()
        one = await point(page, "survey-nps", 1).bounding_box()
        assert zero and one and zero["x"] > one["x"]
        await page.get_by_test_id("survey-satisfaction").nth(4).click()
        await shot(page, "survey-link-page-ar.png")
        await page.get_by_test_id("survey-submit").click()
        await expect(page.get_by_test_id("survey-notice")).to_have_text("شكرًا لك على ملاحظاتك.")
        assert survey.survey_row(survey_app.db_path, case.id)["rating"] == 5
    finally:
        await case.close()
    assert errors == [], "uncaught errors on the page"


async def test_the_widget_asks_the_configured_questions_and_offers_the_link(
        browser: Browser, survey_app: AppProcess) -> None:
    expect.set_options(timeout=WAIT_MS)
    errors: list[str] = []
    page = await open_page(browser, f"{survey_app.url}/", errors)
    widget = page.get_by_test_id("cdw-panel")
    try:
        await page.get_by_test_id("cdw-launcher").click()
        await widget.get_by_test_id("cdw-input").fill("I would like to talk to someone")
        await widget.get_by_test_id("cdw-send").click()  # nobody listens where Rasa should be: handed over
        await expect(widget.get_by_test_id("cdw-status")).to_have_attribute("data-status", "queued")
        stored = json.loads(await page.evaluate("localStorage.getItem('casedesk.conversation')"))
        status, body = await http_json("POST", f"{survey_app.url}/api/agent/login",
                                       {"username": "agent", "password": "correct horse battery"})
        assert status == 200
        agent = await agent_socket(survey_app.url, body["token"])
        await agent.ok("accept_case", {"conversation_id": stored["id"]})
        await agent.ok("resolve_case", {"conversation_id": stored["id"], "category": "other"})
        await agent.close()

        block = widget.get_by_test_id("cdw-survey")
        await expect(block).to_be_visible()
        await expect(block.get_by_test_id("cdw-survey-rating")).to_have_count(5)
        await expect(block.get_by_test_id("cdw-survey-nps")).to_have_count(11)
        await expect(block.get_by_test_id("cdw-survey-effort")).to_have_count(7)
        await expect(block.locator("[data-question=effort] legend")).to_have_text(
            "How easy was it to get your issue resolved?")
        await expect(block.locator("[data-testid=cdw-survey-effort][data-value='7']")).to_have_attribute(
            "aria-label", "7 out of 7")
        # "Answer later": the one-time link of the customer's own case.
        later = block.get_by_test_id("cdw-survey-later")
        view = await survey.resumed_view(survey_app.url, stored["token"])
        await expect(later).to_have_attribute("href", survey_app.url + view["survey_url"])
        await expect(later).to_have_attribute("target", "_blank")

        await block.locator("[data-testid=cdw-survey-rating][data-rating='5']").click()
        ten = block.locator("[data-testid=cdw-survey-nps][data-value='10']")
        await ten.focus()
        await page.keyboard.press("Space")
        await expect(ten).to_have_attribute("aria-pressed", "true")
        await block.locator("[data-testid=cdw-survey-effort][data-value='2']").click()
        await later.scroll_into_view_if_needed()
        await shot(page, "widget-survey-questions.png")
        await block.get_by_test_id("cdw-survey-submit").click()
        await expect(block.get_by_test_id("cdw-survey-thanks")).to_be_visible()
        await expect(later).to_have_count(0)
        row = survey.survey_row(survey_app.db_path, stored["id"])
        assert (row["rating"], row["nps"], row["effort"], row["answered_via"]) == (5, 10, 2, "chat")
        status, state = await http_json("GET", survey_app.url + view["survey_url"].replace("/survey/", "/api/surveys/"))
        assert status == 200 and state["answered"] is True
    except BaseException:
        await shot(page, "failure-widget-survey.png")
        raise
    assert errors == [], "uncaught errors on the page"
