"""Customers' tokens through the real app (socket.io ``/chat`` and the REST API for apps): identity tokens
that are expired, for another audience, too old, without a jti or replayed start nothing; a known
customer's conversation opens only under their identity; a conversation token past its time opens
nothing; and a shared computer in the real browser, where the next person never sees the previous one's
chat (docs/contacts.md, docs/widget.md)."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
import jwt
import pytest
from playwright.async_api import Browser, Page, expect

from handoff.cases.identity import sign
from handoff.store.records import utcnow
from handoff.store.sql import SqlCaseStore
from harness.clients import Recorder, http_json, sign_in
from harness.servers import AppServer, free_port, serve_app
from tests.browser import WAIT_MS, shot
from tests.host_site import host_page, host_site
from tests.test_bad_input import snapshot

SECRET = secrets.token_urlsafe(40)
AUDIENCE = "https://help.shop.test"
MAX_AGE = 600


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[AppServer, str]]:
    """An app without Rasa (every question goes to a person) that takes identity tokens for AUDIENCE, and
    the origin of a shop that embeds its widget."""
    origin = f"http://127.0.0.1:{free_port()}"
    server = serve_app(tmp_path_factory.mktemp("customers"), f"http://127.0.0.1:{free_port()}",
                       {"CASEDESK_IDENTITY_SECRET": SECRET, "CASEDESK_IDENTITY_MAX_AGE_SECONDS": str(MAX_AGE)},
                       settings_file=f'widget_origins = ["{origin}"]\nidentity_audience = "{AUDIENCE}"\n')
    yield server, origin
    server.stop()


def identity(sub: str, **options: Any) -> str:
    return sign(sub, SECRET, audience=AUDIENCE, **options)


async def chat(url: str) -> Recorder:
    client = Recorder(url, "/chat")
    await client.connect()
    return client


async def rest(method: str, url: str, body: Any = None, token: str | None = None,
               identity_token: str | None = None) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    if identity_token:
        headers["X-Casedesk-Identity"] = identity_token
    async with aiohttp.ClientSession() as http, http.request(method, url, json=body, headers=headers) as response:
        return response.status, await response.json()


def refused(reply: dict[str, Any], code: str = "unauthorized", says: str = "") -> bool:
    return reply.get("ok") is False and reply["error"]["code"] == code and says in reply["error"]["message"]


async def test_bad_and_replayed_identity_tokens_start_nothing(app: tuple[AppServer, str]) -> None:
    server = app[0]
    now = time.time()
    unsigned = {"sub": "shop-1", "aud": AUDIENCE, "iat": int(now), "exp": int(now) + 600}
    bad = {
        "expired": (identity("shop-1", expires_in=-120), "expired"),
        "another audience": (sign("shop-1", SECRET), "not for this server"),
        "too old": (identity("shop-1", issued_at=now - MAX_AGE - 120, expires_in=86400), "older than 600 s"),
        "no jti": (jwt.encode(unsigned, SECRET, algorithm="HS256"), "jti"),
        "no aud": (jwt.encode({**unsigned, "jti": "x1"} | {"aud": None}, SECRET, algorithm="HS256"), "aud"),
        "no iat": (jwt.encode({k: v for k, v in unsigned.items() if k != "iat"} | {"jti": "x2"}, SECRET,
                              algorithm="HS256"), "iat"),
    }
    before = snapshot(server.db_path)
    client = await chat(server.url)
    for name, (token, says) in bad.items():
        reply = await client.call("start_conversation", {"identity": token})
        assert refused(reply, says=says), (name, reply)
        status, body = await rest("POST", f"{server.url}/api/conversations", {"identity": token})
        assert (status, body["error"]["code"]) == (401, "unauthorized") and says in body["error"]["message"], name
    assert snapshot(server.db_path) == before  # nothing started

    # a good token starts one conversation; replayed, on the socket or over REST, it starts no other
    token = identity("shop-1")
    await client.ok("start_conversation", {"identity": token})
    guest = await chat(server.url)
    guest_token = (await guest.ok("start_conversation", {"name": "Guest"}))["token"]
    before = snapshot(server.db_path)
    replay = await chat(server.url)
    assert refused(await replay.call("start_conversation", {"identity": token, "earlier_token": guest_token}),
                   says="started a conversation already")
    status, body = await rest("POST", f"{server.url}/api/conversations", {"identity": token})
    assert (status, body["error"]["code"]) == (401, "unauthorized")
    assert snapshot(server.db_path) == before  # and the guest was not merged into shop-1
    for c in (client, guest, replay):
        await c.close()


async def test_a_known_customers_conversation_opens_only_under_their_identity(app: tuple[AppServer, str]) -> None:
    server = app[0]
    first = await chat(server.url)
    dana = identity("shop-dana")
    started = await first.ok("start_conversation", {"identity": dana})
    token, conversation_id = started["token"], started["conversation"]["id"]
    await first.ok("send_message", {"text": "my address is Hauptstr. 1"})
    path = f"{server.url}/api/conversations/{conversation_id}/messages"

    other = await chat(server.url)
    for given, says in ((None, "send the customer's current identity token"),
                        (identity("shop-eve"), "another customer's"),
                        (identity("shop-dana", expires_in=-120), "expired"),
                        (sign("shop-dana", SECRET), "not for this server")):
        payload = {"token": token, **({"identity": given} if given else {})}
        assert refused(await other.call("resume_conversation", payload), says=says), says
        status, body = await rest("GET", path, token=token, identity_token=given)
        assert (status, body["error"]["code"]) == (401, "unauthorized") and says in body["error"]["message"], says
    assert other.messages() == []

    # the page's token again (used to start it: resuming does not use it up), or a fresh one of the same sub
    for given in (dana, identity("shop-dana")):
        resumed = await other.ok("resume_conversation", {"token": token, "identity": given})
        assert resumed["messages"][0]["text"] == "my address is Hauptstr. 1"
        status, body = await rest("GET", path, token=token, identity_token=given)
        assert status == 200 and body["messages"][0]["text"] == "my address is Hauptstr. 1"

    # the OpenAPI document says so: the conversation's token, with the identity where it is needed
    _, document = await rest("GET", f"{server.url}/api/openapi.json")
    assert document["paths"]["/api/conversations/{conversation_id}/messages"]["get"]["security"] == [
        {"conversationToken": []}, {"conversationToken": [], "identityToken": []}]
    assert document["components"]["securitySchemes"]["identityToken"]["name"] == "X-Casedesk-Identity"

    # an anonymous customer's conversation needs no identity, and one given is not asked for
    anonymous = (await first.ok("start_conversation", {}))["token"]
    await other.ok("resume_conversation", {"token": anonymous})
    await other.ok("resume_conversation", {"token": anonymous, "identity": identity("shop-eve")})
    for c in (first, other):
        await c.close()


async def test_a_conversation_token_past_its_time_opens_nothing(app: tuple[AppServer, str]) -> None:
    server = app[0]
    client = await chat(server.url)
    started = await client.ok("start_conversation", {})
    token, conversation_id = started["token"], started["conversation"]["id"]
    await age(server.db_path, conversation_id, 30.05)  # conversation_token_days, the default, and an hour
    again = await chat(server.url)
    assert refused(await again.call("resume_conversation", {"token": token}), says="expired")
    assert refused(await again.call("start_conversation", {"earlier_token": token}), says="expired")
    for method, suffix in (("GET", ""), ("GET", "/messages"), ("POST", "/messages")):
        status, body = await rest(method, f"{server.url}/api/conversations/{conversation_id}{suffix}",
                                  {"text": "hi"} if method == "POST" else None, token=token)
        assert (status, body["error"]["code"]) == (401, "unauthorized") and "expired" in body["error"]["message"]
    for c in (client, again):
        await c.close()


async def age(db_path: Path, conversation_id: str, days: float) -> None:
    """The conversation's last message was ``days`` ago."""
    store = await SqlCaseStore.open(f"sqlite+aiosqlite:///{db_path}")
    try:
        await store.update_conversation(conversation_id, last_activity_at=utcnow() - timedelta(days=days))
    finally:
        await store.close()


async def test_the_widget_starts_afresh_when_its_conversation_token_has_expired(
    app: tuple[AppServer, str], browser: Browser
) -> None:
    server, origin = app
    expect.set_options(timeout=WAIT_MS)
    errors: list[str] = []
    async with host_site(origin, {"/de": host_page(server.url, "Laden", server=server.url, locale="de")}):
        context = await browser.new_context()
        context.set_default_timeout(WAIT_MS)
        page = await context.new_page()
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        first = await ask(page, f"{origin}/de", "Wo bleibt meine Bestellung 4711?")
        await age(server.db_path, first, 30.1)  # conversation_token_days, the default, and a bit
        await page.reload()
        widget = page.get_by_test_id("cdw-panel")
        await page.get_by_test_id("cdw-launcher").click()
        # the catalogue's words, in the customer's language, and nothing of the expired chat
        await expect(widget.get_by_test_id("cdw-error")).to_have_text(
            "Ihre frühere Unterhaltung ist hier nicht mehr verfügbar. Schreiben Sie, um eine neue zu beginnen.")
        await expect(widget.get_by_test_id("cdw-message")).to_have_count(0)
        assert await page.evaluate("localStorage.getItem('casedesk.conversation')") is None
        await shot(page, "widget-expired-token.png")
        second = await ask(page, f"{origin}/de", "Noch einmal: Bestellung 4711")
        assert second != first
        await expect(widget.get_by_test_id("cdw-error")).to_be_hidden()
        await context.close()
    assert errors == []
    agent = await sign_in(server.url)
    assert await contact_of(server.url, agent, second) == (None, {second})  # a new customer as far as we know


async def contact_of(url: str, agent_token: str, conversation_id: str) -> tuple[str | None, set[str]]:
    """The external id of a case's contact, and the ids of all that contact's cases."""
    _, case = await http_json("GET", f"{url}/api/cases/{conversation_id}", token=agent_token)
    _, contact = await http_json("GET", f"{url}/api/contacts/{case['case']['customer_id']}", token=agent_token)
    return contact["contact"]["external_id"], {c["id"] for c in contact["contact"]["cases"]}


async def test_on_a_shared_computer_the_next_person_never_sees_the_previous_ones_chat(
    app: tuple[AppServer, str], browser: Browser
) -> None:
    server, origin = app
    expect.set_options(timeout=WAIT_MS)
    def signed_in(sub: str, name: str) -> Callable[[], str]:
        """The shop's page for a signed-in customer: a fresh identity token on every load."""
        return lambda: host_page(server.url, "Shop", server=server.url, locale="en", identity=identity(sub, name=name))

    pages = {"/alice": signed_in("shop-alice", "Alice"), "/bob": signed_in("shop-bob", "Bob"),
             "/signed-out": host_page(server.url, "Shop", server=server.url, locale="en")}
    errors: list[str] = []
    async with host_site(origin, pages):
        context = await browser.new_context()  # one browser: the same localStorage for everyone
        context.set_default_timeout(WAIT_MS)
        page = await context.new_page()
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        widget = page.get_by_test_id("cdw-panel")
        messages = widget.get_by_test_id("cdw-message")
        stored = "JSON.parse(localStorage.getItem('casedesk.conversation'))"

        await page.goto(f"{origin}/alice")
        await page.get_by_test_id("cdw-launcher").click()
        await widget.get_by_test_id("cdw-input").fill("Alice here, my order 4711 has not arrived")
        await widget.get_by_test_id("cdw-input").press("Enter")
        await expect(widget.get_by_test_id("cdw-status")).to_have_attribute("data-status", "queued")
        alices = (await page.evaluate(stored))["id"]

        # Bob on the same computer: the widget starts afresh, and nothing of Alice's reaches the page
        await page.goto(f"{origin}/bob")
        assert await page.evaluate(stored) is None  # dropped before anything was asked
        await page.get_by_test_id("cdw-launcher").click()
        await widget.get_by_test_id("cdw-input").fill("Bob here, I need a bell")
        await widget.get_by_test_id("cdw-input").press("Enter")
        await expect(widget.get_by_test_id("cdw-status")).to_have_attribute("data-status", "queued")
        bobs = (await page.evaluate(stored))["id"]
        assert bobs != alices
        await expect(messages.filter(has_text="4711")).to_have_count(0)
        await expect(messages.filter(has_text="Alice")).to_have_count(0)
        await page.reload()  # Bob's own chat is resumed under his identity: his message, once, and none of Alice's
        await page.get_by_test_id("cdw-launcher").click()
        await expect(messages.filter(has_text="Bob here, I need a bell")).to_have_count(1)
        await expect(widget.get_by_test_id("cdw-status")).to_have_attribute("data-status", "queued")
        assert "4711" not in await widget.inner_text()
        await shot(page, "shared-computer-bob.png")

        # signed out: neither chat; what they write starts an anonymous conversation of its own
        await page.goto(f"{origin}/signed-out")
        assert await page.evaluate(stored) is None
        await page.get_by_test_id("cdw-launcher").click()
        await widget.get_by_test_id("cdw-input").fill("a question, signed out")
        await widget.get_by_test_id("cdw-input").press("Enter")
        await expect(widget.get_by_test_id("cdw-status")).to_have_attribute("data-status", "queued")
        await expect(messages.filter(has_text="Bob here")).to_have_count(0)
        await expect(messages.filter(has_text="4711")).to_have_count(0)
        signed_out = (await page.evaluate(stored))["id"]

        # Bob in another tab: the anonymous chat of the first tab (maybe someone else's) is not his either
        page = await context.new_page()
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        widget = page.get_by_test_id("cdw-panel")
        messages = widget.get_by_test_id("cdw-message")
        bobs_again = await ask(page, f"{origin}/bob", "Bob again")
        await expect(messages.filter(has_text="signed out")).to_have_count(0)
        # in this tab, he asks signed out, then signs in: that anonymous chat becomes his
        his_anonymous = await ask(page, f"{origin}/signed-out", "Bob, signed out for a moment")
        await expect(messages.filter(has_text="Bob again")).to_have_count(0)
        bobs_last = await ask(page, f"{origin}/bob", "Bob, signed in again")
        await expect(messages.filter(has_text="signed out for a moment")).to_have_count(0)
        await context.close()
    assert errors == []

    agent = await sign_in(server.url)
    assert await contact_of(server.url, agent, alices) == ("shop-alice", {alices})
    bobs_cases = {bobs, bobs_again, his_anonymous, bobs_last}  # not Alice's, nor the first tab's anonymous one
    for case in (bobs, bobs_again, bobs_last):
        assert await contact_of(server.url, agent, case) == ("shop-bob", bobs_cases)
    assert await contact_of(server.url, agent, signed_out) == (None, {signed_out})


async def ask(page: Page, url: str, text: str) -> str:
    """Open the widget on ``url``, ask ``text`` (handed over: there is no bot) and return the conversation's id."""
    await page.goto(url)
    widget = page.get_by_test_id("cdw-panel")
    await page.get_by_test_id("cdw-launcher").click()
    await widget.get_by_test_id("cdw-input").fill(text)
    await widget.get_by_test_id("cdw-input").press("Enter")
    await expect(widget.locator("[data-testid=cdw-message][data-sender=customer] .cdw-text")).to_have_text([text])
    await expect(widget.get_by_test_id("cdw-status")).to_have_attribute("data-status", "queued")
    return str(await page.evaluate("JSON.parse(localStorage.getItem('casedesk.conversation')).id"))
