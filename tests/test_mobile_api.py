"""The REST API for customers' apps (connectors/mobile_api.py) through a real app process: a token opens
its own conversation only, long-polling answers as soon as a message is stored, private notes never
reach the customer, the message limit holds; and the example client of docs/mobile.md runs against the
product with Rasa, answered by an agent through a real /agent socket."""

from __future__ import annotations

import asyncio
import re
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from handoff.cases.arrivals import Arrivals
from harness.clients import Recorder, agent_socket, http_json, sign_in
from harness.servers import ROOT, AppServer, free_port, serve_app
from tests.test_bad_input import snapshot

EXAMPLE = ROOT / "docs" / "examples" / "mobile_client.py"


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppServer]:
    """Nothing listens where Rasa should be: the bot hands every conversation over at its first message."""
    process = serve_app(tmp_path_factory.mktemp("mobile"), f"http://127.0.0.1:{free_port()}",
                        settings_file="max_message_length = 300\n")
    yield process
    process.stop()


async def started(url: str, **body: Any) -> tuple[str, str]:
    status, reply = await http_json("POST", f"{url}/api/conversations", body)
    assert status == 201, reply
    assert reply["conversation"]["status"] == "bot" and reply["conversation"]["last_seq"] == 0
    return reply["conversation"]["id"], reply["token"]


async def with_agent(url: str) -> tuple[str, str, Recorder]:
    """A conversation an agent has accepted: its id, its token and the agent's socket."""
    conversation_id, token = await started(url)
    status, _ = await http_json("POST", f"{url}/api/conversations/{conversation_id}/messages", {"text": "hello"},
                                token=token)
    assert status == 201
    agent = await agent_socket(url, await sign_in(url))
    await agent.ok("accept_case", {"conversation_id": conversation_id})
    return conversation_id, token, agent


async def test_a_token_opens_its_own_conversation_only(app: AppServer) -> None:
    mine, my_token = await started(app.url, name="Ann")
    theirs, their_token = await started(app.url, name="Ben", channel="web")
    await http_json("POST", f"{app.url}/api/conversations/{theirs}/messages", {"text": "my secret order 123"},
                    token=their_token)
    before = snapshot(app.db_path)
    calls = [("GET", "", None), ("GET", "/messages", None), ("POST", "/messages", {"text": "hi"}),
             ("POST", "/survey", {"rating": 1})]
    for method, suffix, body in calls:
        status, reply = await http_json(method, f"{app.url}/api/conversations/{theirs}{suffix}", body, token=my_token)
        assert (status, reply["error"]["code"]) == (403, "forbidden"), (method, suffix, reply)
        assert "secret" not in str(reply)
        for token in (None, "forged", "x" * 500):
            status, reply = await http_json(method, f"{app.url}/api/conversations/{theirs}{suffix}", body,
                                            token=token)
            assert (status, reply["error"]["code"]) == (401, "unauthorized"), (method, suffix, token, reply)
    assert snapshot(app.db_path) == before
    status, reply = await http_json("GET", f"{app.url}/api/conversations/{mine}", token=my_token)
    assert status == 200 and reply["conversation"]["id"] == mine
    _, case = await http_json("GET", f"{app.url}/api/cases/{mine}", token=await sign_in(app.url))
    assert (case["case"]["channel"], case["case"]["customer_name"]) == ("mobile", "Ann")  # mobile by default


async def test_long_poll_answers_when_a_message_comes_and_never_shows_notes(app: AppServer) -> None:
    conversation_id, token, agent = await with_agent(app.url)
    messages = f"{app.url}/api/conversations/{conversation_id}/messages"
    _, now = await http_json("GET", messages, token=token)
    last = now["conversation"]["last_seq"]
    assert [m["seq"] for m in now["messages"]] == list(range(1, last + 1))

    begun = time.monotonic()
    status, empty = await http_json("GET", f"{messages}?after_seq={last}&wait=0.5", token=token)
    assert (status, empty["messages"]) == (200, [])
    assert time.monotonic() - begun >= 0.5  # it waited until the deadline

    poll = asyncio.ensure_future(http_json("GET", f"{messages}?after_seq={last}&wait=20", token=token))
    await asyncio.sleep(0.5)
    assert not poll.done()
    await agent.ok("add_note", {"conversation_id": conversation_id, "text": "customer seems upset"})
    await asyncio.sleep(0.3)
    assert not poll.done()  # a private note wakes nobody's customer
    sent_at = time.monotonic()
    await agent.ok("send_message", {"conversation_id": conversation_id, "text": "Hi, how can I help?"})
    status, woken = await asyncio.wait_for(poll, 5)
    assert time.monotonic() - sent_at < 1.0  # woken at once, not at the next re-check of the store
    assert status == 200
    assert [(m["seq"], m["sender"], m["text"]) for m in woken["messages"]] == [
        (last + 2, "agent", "Hi, how can I help?")]  # the note's seq is skipped
    assert woken["conversation"]["status"] == "with_agent" and woken["conversation"]["agent_name"] == "Agent"
    _, everything = await http_json("GET", f"{messages}?after_seq=0", token=token)
    assert "note" not in {m["sender"] for m in everything["messages"]}
    await agent.close()


async def test_message_limits_and_bad_queries_store_nothing(app: AppServer) -> None:
    conversation_id, token = await started(app.url)
    messages = f"{app.url}/api/conversations/{conversation_id}/messages"
    before = snapshot(app.db_path)
    status, reply = await http_json("POST", messages, {"text": "x" * 301}, token=token)
    assert (status, reply["error"]["code"]) == (400, "message_too_long")
    for body in ({"text": "   "}, {"text": "hi", "extra": 1}, {"text": "hi", "payload": "/affirm"}, [1]):
        status, reply = await http_json("POST", messages, body, token=token)
        assert (status, reply["error"]["code"]) == (400, "invalid_payload"), (body, reply)
    for query in ("after_seq=-1", "after_seq=1.5", "wait=31", "wait=nan", "wait=1&wait=2", "since=3"):
        status, reply = await http_json("GET", f"{messages}?{query}", token=token)
        assert (status, reply["error"]["code"]) == (400, "invalid_payload"), (query, reply)
    status, reply = await http_json("POST", f"{app.url}/api/conversations/{conversation_id}/survey", {"rating": 5},
                                    token=token)
    assert (status, reply["error"]["code"]) == (409, "conflict")  # not resolved yet
    status, reply = await http_json("POST", f"{app.url}/api/conversations", {"channel": "fax"})
    assert (status, reply["error"]["code"]) == (400, "invalid_payload")
    status, reply = await http_json("POST", f"{app.url}/api/conversations", {"earlier_token": "forged"})
    assert (status, reply["error"]["code"]) == (401, "unauthorized")
    assert snapshot(app.db_path) == before


async def test_a_long_poll_sees_what_another_process_stored_at_its_next_recheck() -> None:
    """Nothing here calls ``posted`` (as for a message another app process stored): the store is read again."""
    stored: list[int] = []
    arrivals = Arrivals()

    async def fetch() -> list[int]:
        return list(stored)

    asyncio.get_running_loop().call_later(0.3, stored.append, 7)
    begun = time.monotonic()
    assert await arrivals.wait("c_1", fetch, seconds=10, recheck=0.2) == [7]
    assert time.monotonic() - begun < 1.0
    assert await arrivals.wait("c_1", lambda: asyncio.sleep(0, []), seconds=0.1, recheck=1) == []


def test_the_documented_excerpt_is_the_example_clients() -> None:
    doc = (ROOT / "docs" / "mobile.md").read_text()
    [excerpt] = re.findall(r"```python\n(.*?)```", doc, re.S)
    assert excerpt.strip() and excerpt in EXAMPLE.read_text()


@pytest.mark.rasa
async def test_the_example_client_talks_to_the_product(app_url: str, tmp_path: Path) -> None:
    agent = await agent_socket(app_url, await sign_in(app_url))
    process = await asyncio.create_subprocess_exec(
        sys.executable, str(EXAMPLE), app_url, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    assert process.stdout is not None
    lines: list[str] = []

    async def line() -> str:
        lines.append((await asyncio.wait_for(process.stdout.readline(), 60)).decode())  # type: ignore[union-attr]
        return lines[-1]

    try:
        while not (found := re.match(r"started case (\d+)", await line())):
            pass
        number = int(found.group(1))
        case = await agent.wait_for("case_queued", lambda c: c["case_number"] == number)
        assert (case["channel"], case["customer_name"], case["escalation_reason"]) == (
            "mobile", "Dana", "customer_request")
        await agent.ok("accept_case", {"conversation_id": case["id"]})
        await agent.ok("send_message", {"conversation_id": case["id"], "text": "Hi Dana, bring it to any store."})
        await agent.wait_for("message_created", lambda m: m["sender"] == "customer" and "Thank" in m["text"])
        await agent.ok("resolve_case", {"conversation_id": case["id"], "category": "question_answered"})
        rest, _ = await asyncio.wait_for(process.communicate(), 60)
        output = "".join(lines) + rest.decode()
        assert process.returncode == 0, output
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
        await agent.close()
    assert "customer: How do I return a bike?" in output
    assert re.search(r"^bot: .*30", output, re.M), output  # the knowledge base's answer (30 days)
    assert "[Yes] -> /affirm" in output
    assert "customer: I want to talk to a person" in output
    assert "agent: Hi Dana, bring it to any store." in output
    assert "survey answered: 5 (chat)" in output
    _, detail = await http_json("GET", f"{app_url}/api/cases/{case['id']}", token=await sign_in(app_url))
    assert detail["case"]["survey"]["comment"] == "Quick and friendly"
    assert detail["case"]["status"] == "resolved" and detail["case"]["resolution"] == "agent"


@pytest.mark.rasa
async def test_a_button_press_over_rest_resolves_and_the_survey_is_answered_once(app_url: str) -> None:
    conversation_id, token = await started(app_url, locale="en")
    messages = f"{app_url}/api/conversations/{conversation_id}/messages"
    status, sent = await http_json("POST", messages, {"text": "how do I return a bike?"}, token=token)
    assert status == 201 and sent["message"]["seq"] == 1
    _, found = await http_json("GET", f"{messages}?after_seq=1&wait=20", token=token)
    [answer] = found["messages"]
    assert answer["data"]["article"]["id"] == "bike-returns"
    yes = next(b for b in answer["data"]["buttons"] if b["payload"] == "/affirm")
    status, pressed = await http_json("POST", messages, {"text": yes["title"], "payload": yes["payload"]}, token=token)
    assert status == 201 and pressed["message"]["data"] == {"payload": "/affirm"}
    _, found = await http_json("GET", f"{messages}?after_seq={pressed['message']['seq']}&wait=20", token=token)
    assert found["conversation"]["status"] == "resolved" and found["conversation"]["resolution"] == "bot"
    assert any(m["data"].get("kind") == "survey" for m in found["messages"])
    survey = f"{app_url}/api/conversations/{conversation_id}/survey"
    status, answered = await http_json("POST", survey, {"rating": 4, "comment": "fine"}, token=token)
    assert status == 200 and (answered["survey"]["rating"], answered["survey"]["answered_via"]) == (4, "chat")
    status, again = await http_json("POST", survey, {"rating": 1}, token=token)
    assert (status, again["error"]["code"]) == (409, "conflict")
    status, late = await http_json("POST", messages, {"text": "one more thing"}, token=token)
    assert (status, late["error"]["code"]) == (409, "conflict")
