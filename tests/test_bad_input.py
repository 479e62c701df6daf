"""Bad input at every boundary gets the documented error shape and changes nothing."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any

import pytest
import socketio

from harness.clients import Recorder, http_json, sign_in

ERROR_CODES = {"invalid_payload", "message_too_long", "unknown_event", "unauthorized", "forbidden",
               "not_found", "conflict", "internal"}


PRESENCE = ("nodes", "connections")  # who is connected now, not a record: sockets come and go


def snapshot(db_path: Path) -> dict[str, Any]:
    """Every row of every table but presence: what 'changes nothing' is checked against."""
    with sqlite3.connect(f"file:{db_path}?mode=ro", uri=True) as conn:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        return {t: conn.execute(f"SELECT * FROM {t} ORDER BY 1").fetchall() for t in tables if t not in PRESENCE}


def assert_error(reply: dict[str, Any], code: str) -> None:
    assert reply["ok"] is False, reply
    assert set(reply) == {"ok", "error"} and set(reply["error"]) == {"code", "message"}, reply
    assert reply["error"]["code"] == code, reply
    assert reply["error"]["code"] in ERROR_CODES and reply["error"]["message"]


@pytest.fixture
async def customer(app_url: str) -> Any:
    client = Recorder(app_url, "/chat")
    await client.connect()
    yield client
    await client.close()


async def test_customer_events_refused_without_changing_anything(
    app_url: str, db_path: Path, customer: Recorder
) -> None:
    before = snapshot(db_path)
    assert_error(await customer.call("no_such_event", {"x": 1}), "unknown_event")
    assert_error(await customer.call("send_message", {"text": "hi"}), "unauthorized")  # no conversation yet
    assert_error(await customer.call("start_conversation", "not an object"), "invalid_payload")
    assert_error(await customer.call("start_conversation", {"channel": "fax"}), "invalid_payload")
    assert_error(await customer.call("start_conversation", {"locale": "<script>"}), "invalid_payload")
    assert_error(await customer.call("start_conversation", {"surprise": True}), "invalid_payload")
    assert_error(await customer.call("resume_conversation", {"token": "forged", "after_seq": 0}), "unauthorized")
    assert_error(await customer.call("resume_conversation", {"token": 42}), "invalid_payload")
    assert snapshot(db_path) == before


async def test_bad_messages_in_a_conversation_store_nothing(app_url: str, db_path: Path, customer: Recorder) -> None:
    started = await customer.ok("start_conversation", {"channel": "web"})
    before = snapshot(db_path)

    too_long = await customer.call("send_message", {"text": "x" * 2001})
    assert_error(too_long, "message_too_long")
    assert "2000" in too_long["error"]["message"]
    assert_error(await customer.call("send_message", {"text": "   "}), "invalid_payload")
    assert_error(await customer.call("send_message", {"text": ["a list"]}), "invalid_payload")
    assert_error(await customer.call("send_message", {}), "invalid_payload")
    assert_error(await customer.call("send_message", None), "invalid_payload")
    assert_error(await customer.call("send_message", {"text": "hi", "extra": 1}), "invalid_payload")
    # A button payload the bot never offered (e.g. forcing an intent) is refused.
    assert_error(await customer.call("send_message", {"text": "x", "payload": "/request_human"}), "invalid_payload")
    assert_error(await customer.call("answer_survey", {"rating": 5}), "conflict")  # not resolved yet
    assert_error(await customer.call("answer_survey", {"rating": 9}), "invalid_payload")
    assert_error(await customer.call("answer_survey", {"rating": True}), "invalid_payload")
    assert_error(await customer.call("answer_survey", {"rating": 5, "nps": 9}), "invalid_payload")  # not asked
    assert_error(await customer.call("answer_survey", {"rating": 5, "effort": 3}), "invalid_payload")

    assert snapshot(db_path) == before
    assert started["conversation"]["last_seq"] == 0


async def test_agent_socket_needs_a_valid_sign_in(app_url: str, db_path: Path) -> None:
    before = snapshot(db_path)
    for auth in (None, {"token": "forged"}, {"token": 7}):
        agent = Recorder(app_url, "/agent")
        with pytest.raises(socketio.exceptions.ConnectionError):
            await agent.connect(auth=auth)
        assert not agent.client.connected
    assert snapshot(db_path) == before


async def test_agent_events_are_checked(app_url: str, db_path: Path, customer: Recorder) -> None:
    started = await customer.ok("start_conversation", {"channel": "web"})
    conversation_id = started["conversation"]["id"]
    token = await sign_in(app_url)
    agent = Recorder(app_url, "/agent")
    await agent.connect(auth={"token": token})
    before = snapshot(db_path)

    assert_error(await agent.call("accept_case", {"conversation_id": conversation_id}), "conflict")  # with the bot
    assert_error(await agent.call("accept_case", {"conversation_id": "c_missing"}), "not_found")
    assert_error(await agent.call("accept_case", {}), "invalid_payload")
    assert_error(await agent.call("send_message", {"conversation_id": conversation_id, "text": "hi"}), "forbidden")
    resolve = {"conversation_id": conversation_id, "category": "other"}
    assert_error(await agent.call("resolve_case", resolve), "forbidden")
    assert_error(await agent.call("delete_everything", {}), "unknown_event")
    assert snapshot(db_path) == before

    # Signing out ends the socket: it hears why, then the server disconnects it (no more events).
    status, _ = await http_json("POST", f"{app_url}/api/agent/logout", token=token)
    assert status == 200
    await asyncio.wait_for(agent.disconnected.wait(), 1)
    assert agent.received("session_ended") == [{"reason": "signed_out"}]
    await agent.close()


async def test_rest_errors_have_one_shape(app_url: str, db_path: Path) -> None:
    before = snapshot(db_path)
    cases = [
        ("POST", "/api/agent/login", {"username": "agent", "password": "wrong password"}, None, 401, "unauthorized"),
        ("POST", "/api/agent/login", {"username": "nobody", "password": "x"}, None, 401, "unauthorized"),
        ("POST", "/api/agent/login", {"username": "agent"}, None, 400, "invalid_payload"),
        ("POST", "/api/agent/login", ["a", "list"], None, 400, "invalid_payload"),
        ("GET", "/api/cases/c_missing", None, None, 401, "unauthorized"),
        ("GET", "/api/cases/c_missing", None, "forged", 401, "unauthorized"),
        ("GET", "/api/kb/search?q=bike", None, None, 401, "unauthorized"),
        ("GET", "/api/no/such/route", None, None, 404, "not_found"),
        ("GET", "/api/agent/login", None, None, 404, "not_found"),  # wrong method
        ("GET", "/api/surveys/forged", None, None, 401, "unauthorized"),
        ("POST", "/api/surveys/c_0000000000000000.AAAAAAAAAAAAAAAAAAAAAA", {"rating": 5}, None, 401, "unauthorized"),
        ("PUT", "/api/surveys/forged", {"rating": 5}, None, 404, "not_found"),
    ]
    for method, path, body, token, status, code in cases:
        got_status, got = await http_json(method, app_url + path, body, token=token)
        assert (got_status, got["error"]["code"]) == (status, code), (method, path, got)
        assert set(got) == {"error"} and got["error"]["message"]
    status, got = await http_json("POST", f"{app_url}/api/agent/login", raw=b"{not json")
    assert (status, got["error"]["code"]) == (400, "invalid_payload")
    # Sign-ins create sessions; nothing else may change.
    after = snapshot(db_path)
    assert after == before

    token = await sign_in(app_url)
    status, got = await http_json("GET", f"{app_url}/api/cases/c_missing", token=token)
    assert (status, got["error"]["code"]) == (404, "not_found")
    status, got = await http_json("GET", f"{app_url}/api/kb/search?q=", token=token)
    assert (status, got["error"]["code"]) == (400, "invalid_payload")
    status, got = await http_json("GET", f"{app_url}/api/kb/search?q=bike+returns&k=2", token=token)
    assert status == 200 and got["hits"][0]["article_id"] == "bike-returns" and len(got["hits"]) == 2
