"""The survey after every resolution: the configured questions, answered once, in the chat or through
the one-time link, against the real app (a Rasa URL where nothing listens: every question is handed
over at once, and an agent resolves it)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from handoff.store.records import utcnow
from handoff.store.sql import SqlCaseStore
from harness.clients import Recorder, agent_socket, http_json, queued_customer, sign_in
from harness.servers import AppServer, free_port, serve_app
from tests.test_bad_input import assert_error, snapshot
from tests.test_journey import db_rows

QUESTIONS = ["satisfaction", "nps", "effort", "comment"]
SETTINGS = f"survey_questions = {json.dumps(QUESTIONS)}\nagent_capacity = 100\n"


@pytest.fixture(scope="module")
def survey_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppServer]:
    """An app that asks every question, NPS and effort included."""
    app = serve_app(tmp_path_factory.mktemp("survey"), f"http://127.0.0.1:{free_port()}", settings_file=SETTINGS)
    try:
        yield app
    finally:
        app.stop()


class Case:
    """A case an agent resolved: the customer's socket and conversation token, the agent's socket and sign-in."""

    def __init__(self, customer: Recorder, chat_token: str, agent: Recorder, conversation_id: str,
                 agent_token: str) -> None:
        self.customer, self.chat_token, self.agent = customer, chat_token, agent
        self.id, self.agent_token = conversation_id, agent_token

    def view(self) -> dict[str, Any]:
        """The customer's latest Conversation."""
        return [c for c in self.customer.received("case_updated") if c["id"] == self.id][-1]  # type: ignore[no-any-return]

    @property
    def survey_url(self) -> str:
        url = self.view()["survey_url"]
        assert isinstance(url, str) and url.startswith("/survey/"), url
        return url

    @property
    def link_token(self) -> str:
        return self.survey_url.removeprefix("/survey/")

    async def close(self) -> None:
        await self.customer.close()
        await self.agent.close()


async def resolved_case(url: str, text: str = "my fork leaks oil", **start: Any) -> Case:
    customer = Recorder(url, "/chat")
    await customer.connect()
    started = await customer.ok("start_conversation", {"channel": "web", **start})
    conversation_id = started["conversation"]["id"]
    await customer.ok("send_message", {"text": text})
    await customer.wait_for("case_updated", lambda c: c["status"] == "queued")
    token = await sign_in(url)
    agent = await agent_socket(url, token)
    await agent.ok("accept_case", {"conversation_id": conversation_id})
    await agent.ok("resolve_case", {"conversation_id": conversation_id, "category": "other"})
    await customer.wait_for("case_updated", lambda c: c["status"] == "resolved" and c["survey_url"])
    await customer.wait_for("message_created", lambda m: m["data"].get("kind") == "survey")
    return Case(customer, started["token"], agent, conversation_id, token)


async def resumed_view(url: str, chat_token: str) -> dict[str, Any]:
    """The Conversation a customer's new socket gets when it resumes."""
    customer = Recorder(url, "/chat")
    await customer.connect()
    try:
        return (await customer.ok("resume_conversation", {"token": chat_token, "after_seq": 0}))["conversation"]
    finally:
        await customer.close()


async def link(app_url: str, method: str, token: str, body: Any = None) -> tuple[int, Any]:
    return await http_json(method, f"{app_url}/api/surveys/{token}", body)


async def case_detail(app_url: str, case: Case) -> dict[str, Any]:
    status, body = await http_json("GET", f"{app_url}/api/cases/{case.id}", token=case.agent_token)
    assert status == 200, body
    return body["case"]  # type: ignore[no-any-return]


def survey_row(db_path: Path, conversation_id: str) -> Any:
    rows = db_rows(db_path, "SELECT * FROM surveys WHERE conversation_id = ?", conversation_id)
    return rows[0] if rows else None


def sign(db_path: Path, conversation_id: str) -> str:
    """A token as the app makes it (docs/protocol.md, "Survey links"), with the key it stored."""
    [key] = db_rows(db_path, "SELECT value FROM app_keys WHERE name = 'survey_links'")
    digest = hmac.new(key["value"].encode(), f"survey:{conversation_id}".encode(), hashlib.sha256).digest()
    return f"{conversation_id}.{base64.urlsafe_b64encode(digest).decode()[:22]}"


async def test_the_survey_request_asks_the_configured_questions_and_only_the_customer_gets_the_link(
        survey_app: AppServer) -> None:
    case = await resolved_case(survey_app.url)
    [request] = [m for m in case.customer.messages() if m["data"].get("kind") == "survey"]
    assert request["sender"] == "system"
    assert request["data"] == {"kind": "survey", "scale": [1, 5], "questions": [
        {"id": "satisfaction", "scale": [1, 5]}, {"id": "nps", "scale": [0, 10]}, {"id": "effort", "scale": [1, 7]},
        {"id": "comment"}]}
    token = case.link_token
    # Agents never get the link: not in their events, not in the case, not in the transcript.
    detail = await case_detail(survey_app.url, case)
    agent_saw = [data for _, data in case.agent.events] + [detail]
    assert all("survey_url" not in json.dumps(seen) and token not in json.dumps(seen) for seen in agent_saw)
    assert detail["survey_answered"] is False and detail["survey"] is None
    listed = await case.agent.ok("list_cases", {})
    assert token not in json.dumps(listed)
    # A customer coming back to the conversation gets it again.
    assert (await resumed_view(survey_app.url, case.chat_token))["survey_url"] == case.survey_url
    await case.close()


async def test_answered_in_the_chat_once_then_the_link_is_refused(survey_app: AppServer) -> None:
    case = await resolved_case(survey_app.url)
    token = case.link_token
    answered = await case.customer.ok("answer_survey", {"rating": 4, "nps": 9, "effort": 6, "comment": "Quick"})
    assert {k: v for k, v in answered["survey"].items() if k != "created_at"} == {
        "rating": 4, "nps": 9, "effort": 6, "comment": "Quick", "answered_via": "chat"}
    assert_error(await case.customer.call("answer_survey", {"rating": 1}), "conflict")
    # The customer's view and the agent's say so at once; the link is gone from the customer's view.
    after = await case.customer.wait_for("case_updated", lambda c: c["id"] == case.id and c["survey_answered"])
    assert after["survey_url"] is None
    await case.agent.wait_for("case_updated", lambda c: c["id"] == case.id and c["survey_answered"])

    status, body = await link(survey_app.url, "POST", token, {"rating": 1})
    assert (status, body["error"]["code"]) == (409, "conflict")
    status, state = await link(survey_app.url, "GET", token)
    assert status == 200 and state["answered"] is True

    row = survey_row(survey_app.db_path, case.id)
    [stored] = db_rows(survey_app.db_path, "SELECT agent_id FROM conversations WHERE id = ?", case.id)
    assert (row["rating"], row["nps"], row["effort"], row["comment"], row["answered_via"]) == (4, 9, 6, "Quick", "chat")
    assert row["agent_id"] == stored["agent_id"] is not None
    detail = await case_detail(survey_app.url, case)
    assert detail["survey_answered"] is True
    assert {k: v for k, v in detail["survey"].items() if k != "created_at"} == {
        "rating": 4, "nps": 9, "effort": 6, "comment": "Quick", "answered_via": "chat",
        "agent_id": stored["agent_id"], "article_ids": []}
    await case.close()


async def test_answered_through_the_link_once_then_the_chat_is_refused(survey_app: AppServer) -> None:
    case = await resolved_case(survey_app.url, locale="de-DE")
    token = case.link_token
    status, state = await link(survey_app.url, "GET", token)
    assert status == 200, state
    [row] = db_rows(survey_app.db_path, "SELECT number, closed_at FROM conversations WHERE id = ?", case.id)
    closed_at = datetime.fromisoformat(row["closed_at"]).replace(tzinfo=None)
    expires_at = datetime.fromisoformat(state.pop("expires_at").replace("Z", "+00:00")).replace(tzinfo=None)
    assert expires_at - closed_at == timedelta(days=14)  # survey_link_days' default
    assert state == {"case_number": row["number"], "locale": "de", "answered": False, "expired": False,
                     "questions": [{"id": "satisfaction", "scale": [1, 5]}, {"id": "nps", "scale": [0, 10]},
                                   {"id": "effort", "scale": [1, 7]}, {"id": "comment"}]}

    status, body = await link(survey_app.url, "POST", token, {"rating": 2, "nps": 0, "effort": 7, "comment": "Slow"})
    assert status == 200, body
    assert {k: v for k, v in body["survey"].items() if k != "created_at"} == {
        "rating": 2, "nps": 0, "effort": 7, "comment": "Slow", "answered_via": "link"}
    status, body = await link(survey_app.url, "POST", token, {"rating": 5})  # the link is used up
    assert (status, body["error"]["code"]) == (409, "conflict")
    status, state = await link(survey_app.url, "GET", token)
    assert status == 200 and state["answered"] is True
    assert_error(await case.customer.call("answer_survey", {"rating": 5}), "conflict")

    # The open chat learns it was answered; the agent too.
    after = await case.customer.wait_for("case_updated", lambda c: c["id"] == case.id and c["survey_answered"])
    assert after["survey_url"] is None
    await case.agent.wait_for("case_updated", lambda c: c["id"] == case.id and c["survey_answered"])
    stored = survey_row(survey_app.db_path, case.id)
    assert (stored["rating"], stored["nps"], stored["effort"], stored["answered_via"]) == (2, 0, 7, "link")
    assert stored["agent_id"] is not None
    detail = await case_detail(survey_app.url, case)
    assert (detail["survey"]["answered_via"], detail["survey"]["agent_id"]) == ("link", stored["agent_id"])
    await case.close()


async def test_tampered_unknown_and_open_case_tokens_are_refused(survey_app: AppServer) -> None:
    case = await resolved_case(survey_app.url)
    token = case.link_token
    other = await resolved_case(survey_app.url)
    conversation_id, signature = token.split(".")
    flipped = signature[:-1] + ("A" if signature[-1] != "A" else "B")
    open_customer, open_id = await queued_customer(survey_app.url)
    before = snapshot(survey_app.db_path)
    refused = [
        (f"{conversation_id}.{flipped}", 401, "unauthorized"),  # a changed signature
        (f"{other.id}.{signature}", 401, "unauthorized"),  # another case's id with this signature
        (conversation_id, 401, "unauthorized"),  # no signature
        (f"{token}x", 401, "unauthorized"),
        ("x" * 300, 401, "unauthorized"),
        (sign(survey_app.db_path, "c_0000000000000000"), 404, "not_found"),  # signed, but no such case
        (sign(survey_app.db_path, open_id), 409, "conflict"),  # the case is still open
    ]
    for bad, status, code in refused:
        for method, body in (("GET", None), ("POST", {"rating": 5})):
            got_status, got = await link(survey_app.url, method, bad, body)
            assert (got_status, got["error"]["code"]) == (status, code), (bad, method, got)
            assert set(got) == {"error"} and got["error"]["message"]
    assert snapshot(survey_app.db_path) == before
    assert sign(survey_app.db_path, case.id) == token  # the test signs as the app does
    status, _ = await link(survey_app.url, "GET", token)
    assert status == 200
    await open_customer.close()
    await case.close()
    await other.close()


async def test_an_expired_link_is_refused_and_no_longer_offered(survey_app: AppServer) -> None:
    case = await resolved_case(survey_app.url)
    token = case.link_token
    # The case closed 15 days ago (set through the store, as another app process would).
    store = await SqlCaseStore.open(f"sqlite+aiosqlite:///{survey_app.db_path}")
    try:
        await store.update_conversation(case.id, closed_at=utcnow() - timedelta(days=15))
    finally:
        await store.close()
    status, state = await link(survey_app.url, "GET", token)
    assert status == 200 and (state["expired"], state["answered"]) == (True, False)
    before = snapshot(survey_app.db_path)
    status, body = await link(survey_app.url, "POST", token, {"rating": 5})
    assert (status, body["error"]["code"]) == (409, "conflict") and "expired" in body["error"]["message"]
    assert snapshot(survey_app.db_path) == before
    # The customer's conversation no longer offers the link; the chat still takes the answer.
    assert (await resumed_view(survey_app.url, case.chat_token))["survey_url"] is None
    await case.customer.ok("answer_survey", {"rating": 5})
    assert survey_row(survey_app.db_path, case.id)["answered_via"] == "chat"
    await case.close()


@pytest.mark.parametrize("via", ["chat", "link"])
async def test_answers_out_of_range_or_of_the_wrong_type_are_refused(survey_app: AppServer, via: str) -> None:
    case = await resolved_case(survey_app.url)
    bad = [
        {"rating": 0}, {"rating": 6}, {"rating": "5"}, {"rating": True}, {"rating": None}, {},
        {"rating": 5, "nps": -1}, {"rating": 5, "nps": 11}, {"rating": 5, "nps": 9.5}, {"rating": 5, "nps": "9"},
        {"rating": 5, "effort": 0}, {"rating": 5, "effort": 8}, {"rating": 5, "effort": False},
        {"rating": 5, "comment": "x" * 2001}, {"rating": 5, "comment": 7}, {"rating": 5, "mood": "happy"},
        [5], "five",
    ]
    before = snapshot(survey_app.db_path)
    for payload in bad:
        if via == "chat":
            assert_error(await case.customer.call("answer_survey", payload), "invalid_payload")
        else:
            status, body = await link(survey_app.url, "POST", case.link_token, payload)
            assert (status, body["error"]["code"]) == (400, "invalid_payload"), (payload, body)
    if via == "link":
        status, body = await http_json("POST", f"{survey_app.url}/api/surveys/{case.link_token}", raw=b"{not json")
        assert (status, body["error"]["code"]) == (400, "invalid_payload")
    assert snapshot(survey_app.db_path) == before
    # The ends of each scale are answers; a question left out (or null) is unanswered.
    good = {"rating": 1, "nps": 10, "effort": 1, "comment": None}
    if via == "chat":
        await case.customer.ok("answer_survey", good)
    else:
        status, body = await link(survey_app.url, "POST", case.link_token, good)
        assert status == 200, body
    row = survey_row(survey_app.db_path, case.id)
    assert (row["rating"], row["nps"], row["effort"], row["comment"], row["answered_via"]) == (1, 10, 1, None, via)
    await case.close()


async def test_questions_the_settings_do_not_ask_are_refused(app_url: str, db_path: Path) -> None:
    """The default survey (satisfaction and a comment), on the app with Rasa: asking for a person is
    handed over, an agent resolves it."""
    case = await resolved_case(app_url, "I want to talk to a person")
    [request] = [m for m in case.customer.messages() if m["data"].get("kind") == "survey"]
    assert request["data"] == {"kind": "survey", "scale": [1, 5],
                               "questions": [{"id": "satisfaction", "scale": [1, 5]}, {"id": "comment"}]}
    before = snapshot(db_path)
    for extra in ({"nps": 9}, {"effort": 3}):
        refused = await case.customer.call("answer_survey", {"rating": 5, **extra})
        assert_error(refused, "invalid_payload")
        assert next(iter(extra)) in refused["error"]["message"]
        status, body = await link(app_url, "POST", case.link_token, {"rating": 5, **extra})
        assert (status, body["error"]["code"]) == (400, "invalid_payload"), body
    assert snapshot(db_path) == before
    status, state = await link(app_url, "GET", case.link_token)
    assert state["questions"] == [{"id": "satisfaction", "scale": [1, 5]}, {"id": "comment"}]
    status, body = await link(app_url, "POST", case.link_token, {"rating": 5, "comment": "Thanks"})
    assert status == 200 and (body["survey"]["nps"], body["survey"]["effort"]) == (None, None)
    await case.close()
