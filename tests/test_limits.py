"""The limits of the public entries (handoff/limits/, docs/settings.md "Limits") on a real app with tight limits
and short windows: each one answers 429 with Retry-After (or the socket's error with ``retry_after``) and
recovers after its window; hand-overs past their limit stay with the bot; sign-in slows, then locks one
username while others still sign in; X-Forwarded-For is believed only from trusted proxies. The same limits
hold across two nodes sharing one Redis."""

from __future__ import annotations

import asyncio
import ipaddress
import itertools
import re
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import socketio
from playwright.async_api import Browser, expect

from handoff import catalogue
from handoff.cases import identity
from handoff.limits.addresses import client_address, networks
from harness.clients import Recorder
from harness.servers import PASSWORD, AppProcess, AppServer, free_port, serve_app, two_nodes
from tests.browser import open_page

SECRET = "limits-test-identity-secret-of-32-chars!"
TIGHT = {
    "CASEDESK_LIMITS_STARTS_PER_ADDRESS": "3/2 seconds",
    "CASEDESK_LIMITS_STARTS_PER_IDENTITY": "2/2 seconds",
    "CASEDESK_LIMITS_MESSAGES_PER_CONVERSATION": "3/2 seconds",
    "CASEDESK_LIMITS_MESSAGES_PER_ADDRESS": "5/2 seconds",
    "CASEDESK_LIMITS_HANDOVERS_PER_CONTACT": "1/2 seconds",
    "CASEDESK_LIMITS_HANDOVERS_PER_ADDRESS": "2/2 seconds",
    "CASEDESK_LIMITS_LONG_POLLS_PER_CONVERSATION": "2/2 seconds",
    "CASEDESK_LIMITS_CONNECTIONS_PER_ADDRESS": "3/2 seconds",
    "CASEDESK_LIMITS_SIGN_INS_PER_ADDRESS": "6/2 seconds",
    "CASEDESK_LIMITS_SIGN_IN_FAILURES_PER_USERNAME": "3/3 seconds",
    "CASEDESK_SIGN_IN_DELAY_SECONDS": "0.3",
}
_addresses = (f"203.0.113.{i}" for i in itertools.count(1))


def new_address() -> dict[str, str]:
    """A client address of its own for one test (the app trusts 127.0.0.1 as its proxy)."""
    return {"X-Forwarded-For": next(_addresses)}


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppServer]:
    """Tight limits; 127.0.0.1 is a trusted proxy, so each test is a client of its own by X-Forwarded-For;
    nothing listens where Rasa should be, so every first message is handed over."""
    server = serve_app(tmp_path_factory.mktemp("limits"), f"http://127.0.0.1:{free_port()}",
                       {**TIGHT, "CASEDESK_TRUSTED_PROXIES": "127.0.0.1", "CASEDESK_IDENTITY_SECRET": SECRET})
    server.add_agent("alice")
    yield server
    server.stop()


async def call(method: str, url: str, body: Any = None, headers: dict[str, str] | None = None,
               token: str | None = None) -> tuple[int, dict[str, str], Any]:
    """One REST call: its status, headers and JSON body."""
    sent = {**(headers or {}), **({"Authorization": f"Bearer {token}"} if token else {})}
    async with aiohttp.ClientSession() as http, http.request(method, url, json=body, headers=sent) as answer:
        return answer.status, dict(answer.headers), await answer.json()


def assert_limited(status: int, headers: dict[str, str], body: Any) -> int:
    """A 429 in the one error shape, with Retry-After and the same seconds in the body."""
    assert status == 429, body
    assert body["error"]["code"] == "rate_limited"
    seconds = body["error"]["retry_after"]
    assert isinstance(seconds, int) and 1 <= seconds <= 3
    assert headers["Retry-After"] == str(seconds)
    return seconds


def assert_limited_ack(ack: dict[str, Any]) -> None:
    assert ack["ok"] is False and ack["error"]["code"] == "rate_limited", ack
    assert 1 <= ack["error"]["retry_after"] <= 3


async def recovers(attempt: Callable[[], Awaitable[bool]], within: float = 6.0) -> float:
    """Poll ``attempt`` until it is let through; the seconds that took (it must within ``within``)."""
    began = time.monotonic()
    while not await attempt():
        assert time.monotonic() - began < within, "the limit did not recover after its window"
        await asyncio.sleep(0.1)
    return time.monotonic() - began


async def rest_start(url: str, headers: dict[str, str], **body: Any) -> tuple[int, dict[str, str], Any]:
    return await call("POST", f"{url}/api/conversations", body, headers)


async def customer(url: str, headers: dict[str, str]) -> Recorder:
    socket = Recorder(url, "/chat")
    await socket.connect(headers=headers)
    return socket


async def test_starts_per_address_on_rest_and_socket(app: AppServer) -> None:
    client, other = new_address(), new_address()
    for _ in range(3):
        status, _, reply = await rest_start(app.url, client)
        assert status == 201, reply
    assert_limited(*await rest_start(app.url, client))
    socket = await customer(app.url, client)
    assert_limited_ack(await socket.call("start_conversation", {}))
    assert (await rest_start(app.url, other))[0] == 201  # another address is not limited

    async def starts() -> bool:
        return (await socket.call("start_conversation", {}))["ok"] is True

    await recovers(starts)
    await socket.close()


async def test_starts_per_signed_identity(app: AppServer) -> None:
    for _ in range(2):  # from two addresses, each with a token of its own: the identity is what counts
        status, _, reply = await rest_start(app.url, new_address(), identity=identity.sign("host-user-1", SECRET))
        assert status == 201, reply
    assert_limited(*await rest_start(app.url, new_address(), identity=identity.sign("host-user-1", SECRET)))
    assert (await rest_start(app.url, new_address(), identity=identity.sign("host-user-2", SECRET)))[0] == 201

    async def starts() -> bool:
        return (await rest_start(app.url, new_address(), identity=identity.sign("host-user-1", SECRET)))[0] == 201

    await recovers(starts)


async def test_messages_per_conversation(app: AppServer) -> None:
    client = new_address()
    socket = await customer(app.url, client)
    started = await socket.ok("start_conversation", {})
    conversation_id, token = started["conversation"]["id"], started["token"]
    for i in range(3):
        await socket.ok("send_message", {"text": f"question {i}"})
    assert_limited_ack(await socket.call("send_message", {"text": "one too many"}))
    url = f"{app.url}/api/conversations/{conversation_id}/messages"
    assert_limited(*await call("POST", url, {"text": "over REST too"}, client, token))

    async def sends() -> bool:
        return (await socket.call("send_message", {"text": "after the window"}))["ok"] is True

    await recovers(sends)
    texts = [m["text"] for m in socket.messages() if m["sender"] == "customer"]
    assert "one too many" not in texts and "over REST too" not in texts  # a refused message is not stored
    await socket.close()


async def test_messages_per_address_in_all_its_conversations(app: AppServer) -> None:
    client = new_address()
    first, second = await customer(app.url, client), await customer(app.url, client)
    await first.ok("start_conversation", {})
    started = await second.ok("start_conversation", {})
    for i in range(3):
        await first.ok("send_message", {"text": f"question {i}"})
    for i in range(2):
        await second.ok("send_message", {"text": f"question {i}"})
    assert_limited_ack(await second.call("send_message", {"text": "its third"}))  # its conversation had room
    url = f"{app.url}/api/conversations/{started['conversation']['id']}/messages"
    assert_limited(*await call("POST", url, {"text": "over REST"}, client, started["token"]))
    assert (await call("POST", url, {"text": "from elsewhere"}, new_address(), started["token"]))[0] == 201

    async def sends() -> bool:
        return (await second.call("send_message", {"text": "after the window"}))["ok"] is True

    await recovers(sends)
    for socket in (first, second):
        await socket.close()


async def handed_over(url: str, headers: dict[str, str], **start: Any) -> tuple[Recorder, dict[str, Any]]:
    """A customer who asked their first question: a hand-over, allowed or not."""
    socket = await customer(url, headers)
    started = await socket.ok("start_conversation", start)
    await socket.ok("send_message", {"text": "my fork leaks oil"})
    await socket.wait_for("message_created", lambda m: m["sender"] in ("bot", "system"))
    return socket, started


def queued(socket: Recorder) -> bool:
    return any(c["status"] == "queued" for c in socket.received("case_updated"))


def refused_hand_over(socket: Recorder) -> bool:
    return any(m["data"].get("kind") == "handover_limited" for m in socket.messages())


async def test_hand_overs_per_contact_and_per_address(app: AppServer) -> None:
    # Per contact: their second case within the window is not queued; they are told so, in their language.
    first, started = await handed_over(app.url, new_address())
    await first.wait_for("case_updated", lambda c: c["status"] == "queued")
    again, _ = await handed_over(app.url, new_address(), earlier_token=started["token"], locale="de")
    told = await again.wait_for("message_created", lambda m: m["data"].get("kind") == "handover_limited")
    assert told["text"] == catalogue.text("de", "system.handover_limited") and told["sender"] == "system"
    assert not queued(again)

    # Per address: two new contacts from one address are queued, the third is not.
    client = new_address()
    sockets = [(await handed_over(app.url, client))[0] for _ in range(3)]
    for socket in sockets[:2]:
        await socket.wait_for("case_updated", lambda c: c["status"] == "queued")
    third = sockets[2]
    await third.wait_for("message_created", lambda m: m["data"].get("kind") == "handover_limited")
    assert not queued(third)

    async def hands_over() -> bool:  # after the window, asking again hands the case over
        await third.call("send_message", {"text": "I want a person"})  # (or is past the message limit)
        await asyncio.sleep(0.2)
        return queued(third)

    await recovers(hands_over, within=8)
    for socket in (first, again, *sockets):
        await socket.close()


async def test_long_polls_per_conversation(app: AppServer) -> None:
    client = new_address()
    status, _, started = await rest_start(app.url, client)
    assert status == 201
    url = f"{app.url}/api/conversations/{started['conversation']['id']}/messages"
    token = started["token"]
    for _ in range(2):
        assert (await call("GET", f"{url}?wait=0.1", None, client, token))[0] == 200
    assert_limited(*await call("GET", f"{url}?wait=0.1", None, client, token))
    assert (await call("GET", url, None, client, token))[0] == 200  # a read that does not wait is not limited

    async def polls() -> bool:
        return (await call("GET", f"{url}?wait=0.1", None, client, token))[0] == 200

    await recovers(polls)


async def test_socket_connections_per_address(app: AppServer) -> None:
    client = new_address()
    sockets = [await customer(app.url, client) for _ in range(3)]
    refused = socketio.AsyncClient(reconnection=False)
    errors: list[Any] = []
    refused.on("connect_error", errors.append, namespace="/chat")
    with pytest.raises(socketio.exceptions.ConnectionError):
        await refused.connect(app.url, namespaces=["/chat"], transports=["websocket"], headers=client,
                              wait_timeout=10)
    assert errors and errors[0]["data"]["code"] == "rate_limited" and 1 <= errors[0]["data"]["retry_after"] <= 3
    other = await customer(app.url, new_address())  # another address still connects

    async def connects() -> bool:
        try:
            sockets.append(await customer(app.url, client))
        except socketio.exceptions.ConnectionError:
            return False
        return True

    await recovers(connects)
    for socket in (*sockets, other):
        await socket.close()


async def sign_in(url: str, username: str, password: str, headers: dict[str, str]) -> tuple[int, dict[str, str], Any]:
    return await call("POST", f"{url}/api/agent/login", {"username": username, "password": password}, headers)


async def test_sign_in_slows_then_locks_the_username_while_others_sign_in(app: AppServer) -> None:
    taken: list[float] = []
    for _ in range(3):  # wrong passwords, each from an address of its own: the username is what counts
        began = time.monotonic()
        status, _, body = await sign_in(app.url, "alice", "not her password", new_address())
        taken.append(time.monotonic() - began)
        assert status == 401, body
    assert taken[1] >= 0.3 and taken[2] >= 0.6 > taken[0]  # 0.3 s after the first wrong one, twice that after two
    assert_limited(*await sign_in(app.url, "Alice", PASSWORD, new_address()))  # locked: even the right password
    status, _, body = await sign_in(app.url, "agent", PASSWORD, new_address())  # another user signs in
    assert status == 200, body

    async def signs_in() -> bool:
        return (await sign_in(app.url, "alice", PASSWORD, new_address()))[0] == 200

    await recovers(signs_in)
    began = time.monotonic()  # a right password cleared her wrong ones: no delay now
    assert (await sign_in(app.url, "alice", PASSWORD, new_address()))[0] == 200
    assert time.monotonic() - began < 0.3


async def test_sign_ins_per_address(app: AppServer) -> None:
    client = new_address()
    for i in range(6):
        assert (await sign_in(app.url, f"nobody{i}", "wrong", client))[0] == 401
    assert_limited(*await sign_in(app.url, "agent", PASSWORD, client))

    async def signs_in() -> bool:
        return (await sign_in(app.url, "agent", PASSWORD, client))[0] == 200

    await recovers(signs_in)


async def test_the_widget_tells_a_customer_past_a_limit_how_long_to_wait(app: AppServer, browser: Browser) -> None:
    errors: list[str] = []
    page = await open_page(browser, f"{app.url}/", errors)  # from 127.0.0.1 itself: no X-Forwarded-For
    widget = page.get_by_test_id("cdw-panel")
    await page.get_by_test_id("cdw-launcher").click()
    await widget.get_by_test_id("cdw-input").fill("how do I return a bike?")
    for _ in range(3):  # this address's starts are spent just before the widget starts its conversation
        assert (await rest_start(app.url, {}))[0] == 201
    await widget.get_by_test_id("cdw-send").click()
    await expect(widget.get_by_test_id("cdw-error")).to_have_text(
        re.compile(r"That was too fast\. Please wait [1-3] seconds and try again\."))

    async def starts() -> bool:
        await widget.get_by_test_id("cdw-send").click()
        await asyncio.sleep(0.3)
        return await widget.get_by_test_id("cdw-message").filter(has_text="how do I return a bike?").count() > 0

    await recovers(starts)
    await expect(widget.get_by_test_id("cdw-error")).to_be_hidden()
    assert errors == []


def test_the_client_address_believes_forwarded_for_only_from_trusted_proxies() -> None:
    trusted = networks(("127.0.0.1/32", "10.0.0.0/8"))
    assert client_address("198.51.100.7", "1.2.3.4", trusted) == "198.51.100.7"  # not a proxy: its own address
    assert client_address("127.0.0.1", "1.2.3.4", trusted) == "1.2.3.4"
    # A client's own X-Forwarded-For is left of what the proxies appended: the right-most untrusted hop wins.
    assert client_address("127.0.0.1", "6.6.6.6, 1.2.3.4, 10.1.1.1", trusted) == "1.2.3.4"
    assert client_address("127.0.0.1", "10.2.2.2, 10.1.1.1", trusted) == "10.2.2.2"  # all trusted: the first
    assert client_address("127.0.0.1", "", trusted) == "127.0.0.1"
    assert client_address("127.0.0.1", "1.2.3.4", ()) == "127.0.0.1"  # no trusted proxies: never believed
    assert client_address(None, "1.2.3.4", trusted) == "unknown"
    assert client_address("127.0.0.1", "not-an-address", trusted) == "not-an-address"
    assert str(ipaddress.ip_address(client_address("::1", "2001:db8::1", networks(("::1",))))) == "2001:db8::1"


NODE_LIMITS = {
    "CASEDESK_LIMITS_STARTS_PER_ADDRESS": "3/2 seconds",
    "CASEDESK_LIMITS_SIGN_IN_FAILURES_PER_USERNAME": "3/3 seconds",
    "CASEDESK_SIGN_IN_DELAY_SECONDS": "0.1",
}


@pytest.fixture
def nodes(tmp_path: Path, redis_url: str) -> Iterator[tuple[AppProcess, AppProcess]]:
    """Two nodes sharing one Redis, with no trusted proxy: X-Forwarded-For is not believed."""
    with two_nodes(tmp_path, redis_url, NODE_LIMITS) as both:
        yield both


async def test_limits_hold_across_two_nodes_sharing_redis(nodes: tuple[AppProcess, AppProcess]) -> None:
    a, b = nodes
    # Starts from 127.0.0.1, on both nodes, whatever X-Forwarded-For claims: the fourth is refused.
    assert (await rest_start(a.url, new_address()))[0] == 201
    assert (await rest_start(b.url, new_address()))[0] == 201
    socket = await customer(a.url, new_address())
    await socket.ok("start_conversation", {})
    assert_limited(*await rest_start(b.url, new_address()))
    assert_limited_ack(await socket.call("start_conversation", {}))

    async def starts() -> bool:
        return (await rest_start(b.url, {}))[0] == 201

    await recovers(starts)
    await socket.close()

    # Wrong passwords on either node lock the username on both; another user still signs in.
    for node in (a, b, a):
        assert (await sign_in(node.url, "agent", "wrong", {}))[0] == 401
    assert_limited(*await sign_in(b.url, "agent", PASSWORD, {}))
    b.add_agent("bob")
    assert (await sign_in(a.url, "bob", PASSWORD, {}))[0] == 200

    async def signs_in() -> bool:
        return (await sign_in(b.url, "agent", PASSWORD, {}))[0] == 200

    await recovers(signs_in)
