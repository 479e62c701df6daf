"""The widget embedded in a shop on another origin (tests/host_site.py: a real server on its own loopback
port) with one script tag: chatting across origins, navigating the shop, the keyboard alone, its options
and length limit, German and Arabic on a phone, and an origin the app does not list. Screenshots go to
test-artifacts/."""

from __future__ import annotations

import gzip
import json
import re
import secrets
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest
import socketio
from playwright.async_api import Browser, Page, expect

from harness.clients import agent_socket, sign_in
from harness.servers import AppProcess, AppServer, RasaProcess, free_port, serve_app
from tests.browser import WAIT_MS, XSS, open_page, seqs, shot
from tests.host_site import host_page, host_site

LIMIT = 120
ROOT = Path(__file__).resolve().parent.parent
BUDGET = 16 * 1024  # widget.js and widget.css, gzipped (docs/widget.md, "Size")


def test_the_widget_stays_small() -> None:
    files = [ROOT / "connectors" / "static" / name for name in ("widget.js", "widget.css")]
    compressed = sum(len(gzip.compress(f.read_bytes(), compresslevel=9)) for f in files)
    assert compressed < BUDGET, f"the widget is {compressed} bytes gzipped, over its budget of {BUDGET}"
    assert "under 16 KiB gzipped" in (ROOT / "docs" / "widget.md").read_text()


async def stored_conversation(page: Page) -> str:
    return str(json.loads(await page.evaluate("localStorage.getItem('casedesk.conversation')"))["id"])


async def focused(page: Page) -> str | None:
    return await page.evaluate("document.activeElement && document.activeElement.getAttribute('data-testid')")


async def test_a_shop_on_another_origin_chats_and_keeps_the_history_across_its_pages(
    browser: Browser, app_url: str, host_origin: str, stack: tuple[AppProcess, RasaProcess]
) -> None:
    expect.set_options(timeout=WAIT_MS)
    username = f"embed-{secrets.token_hex(4)}"
    stack[0].add_agent(username)
    pages = {
        "/": host_page(app_url, "Shop", {"/delivery": "Delivery"}, server=app_url, locale="en",
                       greeting="Hi! Ask us anything."),
        # no data-server: the widget finds its server from its script's address
        "/delivery": host_page(app_url, "Delivery", {"/": "Shop"}, locale="en"),
    }
    errors: list[str] = []
    async with host_site(host_origin, pages):
        page = await open_page(browser, f"{host_origin}/", errors)
        try:
            await cross_origin_journey(page, app_url, username)
        except BaseException:
            await shot(page, "failure-embed.png")
            raise
    assert errors == [], "uncaught errors on the host page"


async def cross_origin_journey(page: Page, app_url: str, username: str) -> None:
    widget = page.get_by_test_id("cdw-panel")
    messages = widget.get_by_test_id("cdw-message")
    status = widget.get_by_test_id("cdw-status-text")
    await page.get_by_test_id("cdw-launcher").click()
    await expect(widget.get_by_test_id("cdw-greeting")).to_have_text("Hi! Ask us anything.")
    await widget.get_by_test_id("cdw-input").fill("how do I return a bike?")
    await widget.get_by_test_id("cdw-input").press("Enter")
    answer = widget.locator("[data-testid=cdw-message][data-sender=bot][data-kind=answer]")
    await expect(answer.get_by_test_id("cdw-article-link")).to_have_text("Returning a bike")
    await shot(page, "embed-answer.png")
    await answer.get_by_test_id("cdw-quick-reply").filter(has_text="No").click()
    await expect(widget.get_by_test_id("cdw-status")).to_have_attribute("data-status", "queued")
    conversation_id = await stored_conversation(page)

    # an agent takes it; what they write, markup included, reaches the shop's page as text
    agent = await agent_socket(app_url, await sign_in(app_url, username))
    try:
        await agent.ok("accept_case", {"conversation_id": conversation_id})
        await expect(status).to_have_text(f"You are chatting with {username}")
        await agent.ok("send_message", {"conversation_id": conversation_id, "text": XSS})
        theirs = messages.filter(has_text="<b>bold</b>")
        await expect(theirs).to_have_attribute("data-sender", "agent")
        await expect(theirs.locator(".cdw-text")).to_have_text(XSS)
        for tag in ("b", "img", "script"):
            await expect(theirs.locator(tag)).to_have_count(0)
        assert await page.evaluate("typeof window.__pwned") == "undefined"
        await shot(page, "embed-markup-as-text.png")

        # to another page of the shop and back: the whole history, each message once, in order
        before = await seqs(messages)
        texts = await messages.all_inner_texts()
        assert before == sorted(before, key=int) and len(set(before)) == len(before) >= 5
        for step in ("Delivery", "back"):
            if step == "back":
                await page.go_back()
            else:
                await page.get_by_role("link", name=step).click()
                await expect(page).to_have_title(step)
            if await widget.is_hidden():  # a page the browser kept (back/forward cache) may still show it
                await page.get_by_test_id("cdw-launcher").click()
            await expect(widget).to_be_visible()
            await expect(messages).to_have_count(len(before))
            assert await seqs(messages) == before
            assert await messages.all_inner_texts() == texts
            await expect(status).to_have_text(f"You are chatting with {username}")
        await expect(page).to_have_title("Shop")
        await shot(page, "embed-after-navigation.png")

        # the customer answers from the shop; the agent resolves; the customer answers the survey
        await widget.get_by_test_id("cdw-input").fill("the blue one")
        await widget.get_by_test_id("cdw-input").press("Enter")
        await agent.wait_for("message_created", lambda m: m["text"] == "the blue one")
        await agent.ok("resolve_case", {"conversation_id": conversation_id, "category": "question_answered"})
    finally:
        await agent.close()
    survey = widget.get_by_test_id("cdw-survey")
    await survey.locator("[data-testid=cdw-survey-rating][data-rating='5']").click()
    await survey.get_by_test_id("cdw-survey-submit").click()
    await expect(survey.get_by_test_id("cdw-survey-thanks")).to_have_text("Thank you for your feedback")
    await shot(page, "embed-survey-thanks.png")


async def test_the_widget_with_the_keyboard_alone(browser: Browser, app_url: str, host_origin: str) -> None:
    expect.set_options(timeout=WAIT_MS)
    errors: list[str] = []
    async with host_site(host_origin, {"/": host_page(app_url, "Shop", {"/": "Home"}, server=app_url)}):
        page = await open_page(browser, f"{host_origin}/", errors)
        launcher = page.get_by_test_id("cdw-launcher")
        widget = page.get_by_test_id("cdw-panel")
        await expect(launcher).to_have_attribute("aria-label", "Open chat")
        await expect(launcher).to_have_attribute("aria-expanded", "false")
        await page.keyboard.press("Tab")  # the shop's link
        await page.keyboard.press("Tab")
        assert await focused(page) == "cdw-launcher"
        await page.keyboard.press("Enter")
        await expect(widget).to_be_visible()
        await expect(launcher).to_have_attribute("aria-expanded", "true")
        assert await focused(page) == "cdw-input"
        await expect(widget.get_by_test_id("cdw-messages")).to_have_attribute("aria-live", "polite")
        await expect(widget.get_by_test_id("cdw-messages")).to_have_attribute("role", "log")
        await expect(widget.get_by_test_id("cdw-close")).to_have_attribute("aria-label", "Close chat")
        await expect(widget.get_by_label("Your message")).to_be_visible()
        await page.keyboard.type("how do I return a bike?")
        await page.keyboard.press("Enter")
        answer = widget.locator("[data-testid=cdw-message][data-sender=bot][data-kind=answer]")
        await expect(answer.get_by_test_id("cdw-quick-reply")).to_have_count(2)
        assert await focused(page) == "cdw-input"
        # back through the conversation to the answer's quick replies: No, then Yes
        for expected in ("No", "Yes"):
            await page.keyboard.press("Shift+Tab")
            assert await focused(page) == "cdw-quick-reply"
            assert await page.evaluate("document.activeElement.textContent") == expected
        await page.keyboard.press("Enter")
        await expect(widget.locator("[data-testid=cdw-message][data-sender=customer]").last).to_contain_text("Yes")
        await expect(widget.get_by_test_id("cdw-survey")).to_be_visible()
        await shot(page, "embed-keyboard.png")
        await page.keyboard.press("Escape")
        await expect(widget).to_be_hidden()
        assert await focused(page) == "cdw-launcher"
        await expect(launcher).to_have_attribute("aria-expanded", "false")
    assert errors == []


@pytest.fixture
def lone_app(tmp_path: Path) -> Iterator[tuple[AppServer, str]]:
    """An app without Rasa (every question goes to a person) that lets one shop origin embed the widget and
    takes messages of at most LIMIT characters."""
    origin = f"http://127.0.0.1:{free_port()}"
    app = serve_app(tmp_path, f"http://127.0.0.1:{free_port()}", {"CASEDESK_MAX_MESSAGE_LENGTH": str(LIMIT)},
                    settings_file=f'widget_origins = ["{origin}"]\n')
    try:
        yield app, origin
    finally:
        app.stop()


async def test_an_origin_not_listed_is_refused(lone_app: tuple[AppServer, str], browser: Browser) -> None:
    app, listed = lone_app
    refused = f"http://127.0.0.1:{free_port()}"
    async with aiohttp.ClientSession() as http:
        for origin, expected, allow in ((listed, 200, listed), (app.url, 200, None), (None, 200, None),
                                        (refused, 403, None)):
            headers = {"Origin": origin} if origin else {}
            async with http.get(f"{app.url}/api/widget/config", headers=headers) as response:
                body = await response.json()
                assert (response.status, response.headers.get("Access-Control-Allow-Origin")) == (expected, allow)
                if expected == 200:
                    assert body == {"max_message_length": LIMIT}
                else:
                    assert body["error"]["code"] == "forbidden" and refused in body["error"]["message"]
    for origin, accepted in ((listed, True), (app.url, True), (refused, False)):
        client = socketio.AsyncClient(reconnection=False)
        try:
            await client.connect(app.url, namespaces=["/chat"], transports=["websocket"], headers={"Origin": origin},
                                 wait_timeout=10)
            connected = True
        except socketio.exceptions.ConnectionError:
            connected = False
        finally:
            await client.disconnect()
        assert connected is accepted, origin

    expect.set_options(timeout=WAIT_MS)
    errors: list[str] = []
    async with host_site(refused, {"/": host_page(app.url, "Other shop", server=app.url)}):
        page = await open_page(browser, f"{refused}/", errors)
        await page.get_by_test_id("cdw-launcher").click()
        error = page.get_by_test_id("cdw-error")
        await expect(error).to_have_text("The chat is not available on this page right now.")
        await page.get_by_test_id("cdw-input").fill("hello?")
        await page.get_by_test_id("cdw-input").press("Enter")
        await expect(error).to_have_text("The chat is not available on this page right now.")
        await expect(page.get_by_test_id("cdw-message")).to_have_count(0)
        await expect(page.get_by_test_id("cdw-input")).to_have_value("hello?")  # kept, to send later
        await shot(page, "embed-refused-origin.png")
        assert await page.evaluate("localStorage.getItem('casedesk.conversation')") is None
    assert errors == []


async def test_options_and_the_servers_length_limit(lone_app: tuple[AppServer, str], browser: Browser) -> None:
    app, origin = lone_app
    expect.set_options(timeout=WAIT_MS)
    errors: list[str] = []
    pages = {"/": host_page(app.url, "Shop", server=app.url, accent="#aa3300", accent_text="#ffffee", position="left",
                            title="Velora help", greeting="Hello from the shop"),
             "/plain": host_page(app.url, "Shop", server=app.url, accent="red; background: url(x)",
                                 accent_text="expression(1)", title="<i>Help</i>")}
    async with host_site(origin, pages):
        page = await open_page(browser, f"{origin}/plain", errors)
        launcher = page.get_by_test_id("cdw-launcher")
        await expect(launcher).to_have_css("background-color", "rgb(31, 95, 139)")  # not colours: the defaults
        await expect(launcher).to_have_css("color", "rgb(255, 255, 255)")
        assert (await launcher.bounding_box() or {"x": 0})["x"] > 900  # on the right by default
        await launcher.click()
        await expect(page.get_by_test_id("cdw-panel").locator("h2")).to_have_text("<i>Help</i>")
        await expect(page.locator(".cdw-title i")).to_have_count(0)

        await page.goto(f"{origin}/")
        await expect(launcher).to_have_css("background-color", "rgb(170, 51, 0)")
        await expect(launcher).to_have_css("color", "rgb(255, 255, 238)")
        assert (await launcher.bounding_box() or {"x": 999})["x"] < 100
        await launcher.click()
        widget = page.get_by_test_id("cdw-panel")
        assert (await widget.bounding_box() or {"x": 999})["x"] < 100
        await expect(widget.locator("h2")).to_have_text("Velora help")
        await expect(widget.get_by_test_id("cdw-greeting")).to_have_text("Hello from the shop")

        # the text box follows the server's max_message_length, with a counter near it
        box, count = widget.get_by_test_id("cdw-input"), widget.get_by_test_id("cdw-count")
        await expect(box).to_have_attribute("maxlength", str(LIMIT))
        await box.press_sequentially("a" * 90)
        await expect(count).to_be_hidden()
        await box.press_sequentially("b" * 10)
        await expect(count).to_have_text("20 characters left")
        await box.press_sequentially("c" * 30)
        await expect(box).to_have_value("a" * 90 + "b" * 10 + "c" * 20)
        await expect(count).to_have_text("0 characters left")
        await expect(count).to_have_class(re.compile(r"cdw-count-full"))
        await shot(page, "embed-options-limit.png")
        await box.press("Enter")
        mine = widget.locator("[data-testid=cdw-message][data-sender=customer]")
        await expect(mine.locator(".cdw-text")).to_have_text("a" * 90 + "b" * 10 + "c" * 20)
        await expect(count).to_be_hidden()
        await expect(widget.get_by_test_id("cdw-status")).to_have_attribute("data-status", "queued")
    assert errors == []


async def test_german_and_arabic_on_a_phone(lone_app: tuple[AppServer, str], browser: Browser) -> None:
    app, origin = lone_app
    expect.set_options(timeout=WAIT_MS)
    errors: list[str] = []
    pages = {"/de": host_page(app.url, "Laden", server=app.url, locale="de"),
             "/ar": host_page(app.url, "متجر", server=app.url, locale="ar")}
    cases = (("de", "Chat öffnen", "Senden", "Hilfe", "Ich möchte mit einem Menschen sprechen",
              r"^Gerade ist niemand aus unserem Team erreichbar", "ltr"),
             ("ar", "افتح المحادثة", "إرسال", "المساعدة", "أريد التحدث مع موظف",
              r"^لا يوجد أحد من فريقنا متاح الآن", "rtl"))
    async with host_site(origin, pages):
        for locale, open_label, send, title, question, nobody, direction in cases:
            context = await browser.new_context(viewport={"width": 375, "height": 667}, is_mobile=True, has_touch=True)
            context.set_default_timeout(WAIT_MS)
            page = await context.new_page()
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            await page.goto(f"{origin}/{locale}")
            root, launcher = page.get_by_test_id("cdw-root"), page.get_by_test_id("cdw-launcher")
            await expect(root).to_have_attribute("dir", direction)
            await expect(root).to_have_attribute("lang", locale)
            await expect(launcher).to_have_attribute("aria-label", open_label)
            box = await launcher.bounding_box()
            assert box is not None and (box["x"] < 100) is (direction == "rtl")  # the end of a line
            await launcher.click()
            widget = page.get_by_test_id("cdw-panel")
            await expect(widget.get_by_test_id("cdw-send")).to_have_text(send)
            await expect(widget.locator("h2")).to_have_text(title)
            # the open widget fills the phone's screen, and the launcher makes way for it
            assert await widget.bounding_box() == {"x": 0, "y": 0, "width": 375, "height": 667}
            await expect(launcher).to_be_hidden()
            await widget.get_by_test_id("cdw-input").fill(question)
            await widget.get_by_test_id("cdw-send").click()
            await expect(widget.get_by_test_id("cdw-status-text")).to_have_text(re.compile(nobody))
            mine = widget.locator("[data-testid=cdw-message][data-sender=customer]")
            await expect(mine).to_have_css("direction", direction)
            if direction == "rtl":  # the customer's own messages sit at the end of the line: on the left
                mine_box, panel_box = await mine.bounding_box(), await widget.bounding_box()
                assert mine_box and panel_box and mine_box["x"] < panel_box["width"] / 2
            await shot(page, f"embed-{locale}-phone.png")
            await widget.get_by_test_id("cdw-close").click()
            await expect(launcher).to_be_focused()
            await context.close()
    assert errors == []
