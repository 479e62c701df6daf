"""Issue 18, metrics and logs (docs/operations.md, "Metrics and logs"): ``/metrics`` for the bearer of
``metrics_token`` only, its series moving with a bot turn, a hand-over, an agent and a limit; the logs as JSON
lines with the request's and the conversation's ids, and never a customer's text. One app of its own (JSON
logs, a metrics token, 127.0.0.1 as a trusted proxy), behind the session's Rasa."""

from __future__ import annotations

import asyncio
import json
import re
import sqlite3
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from harness.clients import Recorder, agent_socket, sign_in, until
from harness.servers import ROOT, ActionRelay, AppProcess, RasaProcess, start_app

TOKEN = "tests-metrics-token-42"
MARK = "quokka-zanzibar-7731"  # in a customer's message: it must reach no log line
PROXY_ID = "proxy-req-0001"
# A first response is due 3 s after a case is queued: the sweep (every second) records the breach.
SLA_QUEUE = '[[queues]]\nname = "general"\nfirst_response_seconds = { high = 3, normal = 3 }\n'
Series = dict[tuple[str, tuple[tuple[str, str], ...]], float]


@pytest.fixture(scope="module")
def observed(tmp_path_factory: pytest.TempPathFactory, rasa: RasaProcess, actions: ActionRelay) -> Iterator[AppProcess]:
    app = start_app(tmp_path_factory.mktemp("metrics"), rasa.url, {
        "CASEDESK_LOG_FORMAT": "json", "CASEDESK_METRICS_TOKEN": TOKEN, "CASEDESK_TRUSTED_PROXIES": "127.0.0.1",
        "CASEDESK_LIMITS_SIGN_IN_FAILURES_PER_USERNAME": "1/minute", "CASEDESK_SWEEP_INTERVAL_SECONDS": "1"},
        settings_file=SLA_QUEUE)
    try:
        with actions.serving(app.url):
            yield app
    finally:
        app.stop()


async def fetch(method: str, url: str, body: Any = None, headers: dict[str, str] | None = None
                ) -> tuple[int, dict[str, str], bytes]:
    def request() -> tuple[int, dict[str, str], bytes]:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json",
                                                                              **(headers or {})})
        try:
            with urllib.request.urlopen(req, timeout=30) as response:
                return response.status, dict(response.headers), response.read()
        except urllib.error.HTTPError as exc:
            return exc.code, dict(exc.headers), exc.read()

    return await asyncio.to_thread(request)


async def scrape(url: str) -> Series:
    status, headers, body = await fetch("GET", f"{url}/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert status == 200, body
    assert headers["Content-Type"].startswith("text/plain; version=0.0.4")
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(body.decode()) for sample in family.samples}


def value(series: Series, name: str, **labels: str) -> float:
    return series.get((name, tuple(sorted(labels.items()))), 0.0)


def documented() -> set[str]:
    """The metric names of docs/operations.md's table, in its section "Metrics and logs"."""
    text = (ROOT / "docs" / "operations.md").read_text()
    section = text[text.index("## Metrics and logs"):]
    section = section[:section.find("\n## ", 1) if "\n## " in section[1:] else None]
    return set(re.findall(r"^\| `(casedesk_[a-z_]+)`", section, re.M))


async def test_metrics_are_only_for_the_bearer_of_the_token(observed: AppProcess, app_url: str) -> None:
    for headers in ({}, {"Authorization": "Bearer not-the-token-at-all"}, {"Authorization": TOKEN}):
        status, _, body = await fetch("GET", f"{observed.url}/metrics", headers=headers)
        assert status == 401
        assert json.loads(body)["error"]["code"] == "unauthorized"
    # An app without metrics_token (the session's) serves them to nobody.
    status, _, body = await fetch("GET", f"{app_url}/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert (status, json.loads(body)["error"]["code"]) == (403, "forbidden")


async def test_the_series_move_with_turns_hand_overs_agents_and_limits(observed: AppProcess) -> None:
    url = observed.url
    before = await scrape(url)
    for name in ("casedesk_bot_queue_depth", "casedesk_bot_turns_in_flight", "casedesk_bot_busy_refusals_total",
                 "casedesk_connected_customers", "casedesk_connected_agents"):
        assert value(before, name) == 0, name
    assert value(before, "casedesk_queue_length", queue="general") == 0
    assert ("casedesk_publishes_total", (("outcome", "published"),)) in before
    assert value(before, "process_resident_memory_bytes") > 0
    # Every series is documented (docs/operations.md), and the Grafana dashboard shows only those.
    status, _, body = await fetch("GET", f"{url}/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    served = {f.name + ("_total" if f.type == "counter" else "") for f in text_string_to_metric_families(body.decode())
              if f.name.startswith("casedesk_")}
    assert served == documented()
    dashboard = (ROOT / "docs" / "examples" / "grafana-dashboard.json").read_text()
    assert set(re.findall(r"casedesk_[a-z_]+?(?=_bucket|\b)", dashboard)) <= served

    customer = Recorder(url, "/chat")
    await customer.connect()
    started = await customer.ok("start_conversation", {"channel": "web", "locale": "en", "name": "Dana"})
    await customer.ok("send_message", {"text": "how long does shipping take?"})
    await customer.wait_for("message_created", lambda m: m["data"].get("kind") == "answer")
    await customer.ok("send_message", {"text": f"I want to talk to a person {MARK}"})
    await customer.wait_for("case_updated", lambda c: c["status"] == "queued")
    agent = await agent_socket(url, await sign_in(url))
    for _ in range(2):  # a wrong password, then refused by sign_in_failures_per_username (1/minute)
        status, _, _ = await fetch("POST", f"{url}/api/agent/login", {"username": "nobody", "password": "wrong" * 3})
    assert status == 429

    after = await scrape(url)

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert moved("casedesk_bot_turns_total", outcome="replied") == 2
    assert moved("casedesk_bot_turns_total", outcome="unavailable") == 0
    assert moved("casedesk_bot_turn_seconds_count") == 2
    assert moved("casedesk_bot_turn_seconds_sum") > 0
    for part in ("rasa", "actions"):  # this app served the turns' actions: each turn is split
        assert moved("casedesk_bot_turn_part_seconds_count", part=part) == 2, part
    assert moved("casedesk_bot_action_seconds_count", action="action_answer_from_kb") == 1
    assert moved("casedesk_bot_action_seconds_count", action="action_escalate") == 1
    assert moved("casedesk_bot_decisions_total", kind="answer") == 1
    assert moved("casedesk_bot_decisions_total", kind="handoff") == 1
    assert moved("casedesk_handovers_total", reason="customer_request") == 1
    assert value(after, "casedesk_queue_length", queue="general") == 1
    assert value(after, "casedesk_queue_oldest_wait_seconds", queue="general") > 0
    assert value(after, "casedesk_connected_customers") == 1
    assert value(after, "casedesk_connected_agents") == 1
    assert moved("casedesk_limit_refusals_total", limit="sign_in_failures_per_username") == 1
    assert value(after, "casedesk_bot_turns_in_flight") == 0

    await agent.ok("accept_case", {"conversation_id": started["conversation"]["id"]})
    await agent.ok("resolve_case", {"conversation_id": started["conversation"]["id"], "category": "question_answered"})
    await customer.close()
    await agent.close()
    done = await scrape(url)
    assert value(done, "casedesk_resolutions_total", reason="resolved_by_agent") - value(
        before, "casedesk_resolutions_total", reason="resolved_by_agent") == 1
    assert value(done, "casedesk_queue_length", queue="general") == 0
    assert value(done, "casedesk_queue_oldest_wait_seconds", queue="general") == 0


async def test_logs_are_json_lines_with_ids_and_no_customer_text(observed: AppProcess) -> None:
    url = observed.url
    proxied = {"X-Request-Id": PROXY_ID}
    status, headers, body = await fetch("POST", f"{url}/api/conversations", {"channel": "mobile", "locale": "en"},
                                        proxied)
    assert status == 201, body
    assert headers["X-Request-Id"] == PROXY_ID  # from a trusted proxy: kept
    started = json.loads(body)
    conversation_id = started["conversation"]["id"]
    path = f"{url}/api/conversations/{conversation_id}/messages"
    customer = {"Authorization": f"Bearer {started['token']}"}
    status, headers, body = await fetch("POST", path, {"text": f"my {MARK} fork leaks oil, a person please"},
                                        {**customer, **proxied})
    assert status == 201, body
    status, headers, _ = await fetch("POST", path, {"text": f"I want to talk to a person {MARK}"},
                                     {**customer, "X-Request-Id": "bad id {forged}"})
    assert status == 201
    made = headers["X-Request-Id"]
    assert made != "bad id {forged}" and made.isalnum()
    socket = Recorder(url, "/chat")  # a socket event is a request of its own
    await socket.connect()
    over_socket = (await socket.ok("start_conversation", {"channel": "web"}))["conversation"]["id"]
    await socket.ok("send_message", {"text": f"I want to talk to a person {MARK}"})
    await socket.wait_for("case_updated", lambda c: c["status"] == "queued")
    await socket.close()

    def logged() -> list[dict[str, Any]]:
        return [json.loads(line) for line in list(observed.output)]

    await until(lambda: {conversation_id, over_socket} <= {line.get("conversation_id") for line in logged()})
    lines = logged()  # every line of the app's output is one JSON object
    assert lines and all({"time", "level", "logger", "message"} <= line.keys() for line in lines)
    assert any("app listening on" in line["message"] for line in lines)
    handed_over = [line for line in lines if line.get("conversation_id") == conversation_id
                   and "-> queued" in line["message"]]
    assert handed_over and handed_over[0]["request_id"] in (PROXY_ID, made)
    [by_socket] = [line for line in lines
                   if line.get("conversation_id") == over_socket and "-> queued" in line["message"]]
    assert len(by_socket["request_id"]) == 16 and by_socket["request_id"] not in (PROXY_ID, made)
    assert all(MARK not in line for line in observed.output)


async def test_sla_breaches_are_counted_once_as_the_timeline_records_them(observed: AppProcess) -> None:
    url = observed.url
    status, _, body = await fetch("POST", f"{url}/api/conversations", {"channel": "mobile"})
    started = json.loads(body)
    conversation_id = started["conversation"]["id"]
    status, _, _ = await fetch("POST", f"{url}/api/conversations/{conversation_id}/messages",
                               {"text": "I want to talk to a person"}, {"Authorization": f"Bearer {started['token']}"})
    assert status == 201

    def breaches(of: str | None = None) -> int:
        with sqlite3.connect(observed.db_path) as db:
            return int(db.execute("SELECT count(*) FROM case_events WHERE reason = 'sla_first_response_breached'"
                                  " AND conversation_id = coalesce(?, conversation_id)", (of,)).fetchone()[0])

    for _ in range(200):  # due 3 s after it was queued; the sweep runs every second
        if breaches(conversation_id):
            break
        await asyncio.sleep(0.1)
    await asyncio.sleep(1.5)  # a sweep or two more: a breach recorded is not counted again
    series = await scrape(url)
    assert breaches(conversation_id) == 1
    assert value(series, "casedesk_sla_events_total", target="first_response", state="breached") == breaches() >= 1
