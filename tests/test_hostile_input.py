"""Input no real client sends, from anyone on the internet: text that is not valid Unicode (a lone surrogate,
``"\\ud800"``, is valid JSON; bytes that are not UTF-8 in a header) is ``invalid_payload`` on REST and on the
sockets, never a 500 or an internal error; reserved event names (``disconnect``...) cannot be emitted by
clients; malformed socket.io and engine.io frames are counted and logged in one line, without a
traceback, and the server goes on serving."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp
import pytest
import socketio

from harness.clients import Recorder, http_json, sign_in
from harness.frames import RawSocket
from harness.servers import AppProcess, RasaProcess
from tests.test_bad_input import assert_error, snapshot

BAD = "\ud800"  # a lone surrogate: valid JSON ("\ud800"), not valid Unicode
MALFORMED_LINE = "malformed socket frames refused"


def app_of(stack: tuple[AppProcess, RasaProcess]) -> AppProcess:
    return stack[0]


def new_output(app: AppProcess, since: int) -> str:
    return "".join(app.output[since:])


async def test_undecodable_text_over_rest_is_invalid_payload(stack: tuple[AppProcess, RasaProcess]) -> None:
    app = app_of(stack)
    since = len(app.output)
    _, started = await http_json("POST", f"{app.url}/api/conversations", {"name": "Dana"})
    conversation_id, token = started["conversation"]["id"], started["token"]
    agent_token = await sign_in(app.url)
    before = snapshot(app.db_path)
    cases: list[tuple[str, str, Any, str | None]] = [
        ("POST", "/api/agent/login", {"username": BAD, "password": "x"}, None),
        ("POST", "/api/agent/login", {"username": "agent", "password": "a" + BAD}, None),
        ("POST", "/api/conversations", {"name": BAD}, None),
        ("POST", "/api/conversations", {"name": "Dana", "earlier_token": BAD}, None),
        ("POST", "/api/conversations", {"name": "Dana", "locale": BAD}, None),
        ("POST", f"/api/conversations/{conversation_id}/messages", {"text": "hello " + BAD}, token),
        ("POST", f"/api/conversations/{conversation_id}/messages", {"text": "hi", "payload": BAD}, token),
        ("GET", f"/api/conversations/{conversation_id}", None, "\xff\xfe"),  # not UTF-8: a surrogate to aiohttp
        ("GET", "/api/cases/c_missing", None, "\xc3("),
        ("GET", "/api/contacts?q=x", None, agent_token + "\xff"),
    ]
    for method, path, body, bearer in cases:
        status, got = await http_json(method, app.url + path, body, token=bearer)
        assert (status, got["error"]["code"]) == (400, "invalid_payload"), (method, path, got)
        assert "valid Unicode" in got["error"]["message"], got
    # Bytes that are not UTF-8 in a JSON body are no JSON text.
    status, got = await http_json("POST", f"{app.url}/api/agent/login", raw=b'{"username": "\xff", "password": "x"}')
    assert (status, got["error"]["code"]) == (400, "invalid_payload")
    assert snapshot(app.db_path) == before
    assert "Traceback" not in new_output(app, since)


async def test_undecodable_text_over_the_sockets_is_invalid_payload(stack: tuple[AppProcess, RasaProcess]) -> None:
    app = app_of(stack)
    since = len(app.output)
    customer = Recorder(app.url, "/chat")
    await customer.connect()
    assert_error(await customer.call("start_conversation", {"channel": "web", "name": BAD}), "invalid_payload")
    assert_error(await customer.call("resume_conversation", {"token": BAD, "after_seq": 0}), "invalid_payload")
    assert_error(await customer.call(BAD, {}), "invalid_payload")
    started = await customer.ok("start_conversation", {"channel": "web"})
    assert_error(await customer.call("send_message", {"text": "hi " + BAD}), "invalid_payload")
    assert_error(await customer.call("send_message", {"text": "hi", BAD: 1}), "invalid_payload")
    assert_error(await customer.call("set_typing", {"typing": True, "x": [BAD]}), "invalid_payload")
    await customer.close()

    refused = Recorder(app.url, "/agent")
    with pytest.raises(socketio.exceptions.ConnectionError):
        await refused.connect(auth={"token": BAD})
    agent = Recorder(app.url, "/agent")
    await agent.connect(auth={"token": await sign_in(app.url)})
    conversation_id = started["conversation"]["id"]
    assert_error(await agent.call("accept_case", {"conversation_id": BAD}), "invalid_payload")
    assert_error(await agent.call("add_note", {"conversation_id": conversation_id, "text": BAD}), "invalid_payload")
    await agent.close()
    assert "Traceback" not in new_output(app, since)


async def test_clients_cannot_emit_reserved_event_names(stack: tuple[AppProcess, RasaProcess]) -> None:
    app = app_of(stack)
    customer = Recorder(app.url, "/chat")
    await customer.connect()
    await customer.ok("start_conversation", {"channel": "web"})
    for name in ("disconnect", "connect", "connect_error", "disconnecting", "message"):
        assert_error(await customer.call(name, {}), "unknown_event")
    # The server's disconnect handler did not run: the socket still holds its conversation.
    await customer.ok("set_typing", {"typing": False})
    await customer.close()

    async with aiohttp.ClientSession() as http, RawSocket(app.url, http) as raw:
        assert (await raw.join("/chat")).startswith("40/chat,")
        await raw.send('42/chat,7["disconnect"]')
        reply = await raw.ack("/chat", 7, timeout=5)
        assert reply["error"]["code"] == "unknown_event", reply
        await raw.send('42/chat,8["connect",{"token":"x"}]')
        assert (await raw.ack("/chat", 8, timeout=5))["error"]["code"] == "unknown_event"
        await raw.send('42/chat,9[7,{}]')
        assert (await raw.ack("/chat", 9, timeout=5))["error"]["code"] == "invalid_payload"
        await raw.send('42/chat,10["start_conversation",{"channel":"web"}]')
        assert (await raw.ack("/chat", 10, timeout=10))["ok"] is True  # still connected and served


# Frames no socket.io client writes: bad JSON, bad packet types, empty, stray binary data, bad namespaces.
MALFORMED_FRAMES: list[str | bytes] = [
    "42/chat,[", "4", "4x", "4\u00e9", "9", "", "42/chat,1[\"x\"", "40/chat,{bad", "42/chat,\"str\"",
    '451-/chat,["start_conversation",{"_placeholder":true,"num":5}]', b"\x04\xff\xfe", "46/chat,[]",
    "42/chat,{}", "42/chat,[]", "43/chat,1[]", "44/chat,", "42/nowhere,[\"x\"]", "41/chat,", "2probe", "6",
    "42/chat,99999999999999999999999[\"x\"]", "42/chat,-1[\"x\"]", "4" + "[" * 5000,
]
POLLING_BODIES = [b"\xff\xfe", b"", b"42/chat,[", b"\x1e\x1e", "4\u00e9".encode()]


async def test_malformed_frames_are_counted_in_one_line_without_a_traceback(
        stack: tuple[AppProcess, RasaProcess]) -> None:
    app = app_of(stack)
    since = len(app.output)
    rounds = 2
    async with aiohttp.ClientSession() as http:
        for _ in range(rounds):
            for frame in MALFORMED_FRAMES:
                async with RawSocket(app.url, http) as raw:
                    await raw.join("/chat")
                    await raw.send(frame)
                    await raw.receive(0.05)
        async with http.get(f"{app.url}/socket.io/?EIO=4&transport=polling") as opened:
            sid = json.loads((await opened.text())[1:])["sid"]
        for body in POLLING_BODIES:
            async with http.post(f"{app.url}/socket.io/?EIO=4&transport=polling&sid={sid}", data=body) as posted:
                assert posted.status < 500

    # The server goes on serving.
    customer = Recorder(app.url, "/chat")
    await customer.connect()
    await customer.ok("start_conversation", {"channel": "web"})
    await customer.close()

    async def logged() -> str:
        for _ in range(100):
            if MALFORMED_LINE in "".join(app.output):
                break
            await asyncio.sleep(0.05)
        return new_output(app, since)

    output = await logged()
    assert "Traceback" not in output, output[-3000:]
    assert MALFORMED_LINE in "".join(app.output)  # in this test or an earlier one of the session
    lines = [line for line in output.splitlines() if "malformed" in line.lower() or "handler error" in line]
    assert len(lines) <= 2, lines  # at most one a minute, whatever the number of frames
    assert len(output.splitlines()) < len(MALFORMED_FRAMES), output[-3000:]
