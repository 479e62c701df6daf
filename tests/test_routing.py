"""Routing (handoff/cases/routing.py) through the real app: queues and skills from the settings file, routing
by topic, language and channel, priority and SLA order, automatic and pick assignment with capacity,
transfer to a queue or a colleague, resolution categories and a returning customer's earlier cases."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from handoff import catalogue
from harness.clients import Recorder, agent_socket, http_json, latest, queued_customer, sign_in, until
from harness.servers import AppServer, RasaProcess, free_port, serve_app

ROUTING = """
sweep_interval_seconds = 0.2
[[queues]]
name = "german"
languages = ["de"]
skills = ["german"]
assignment = "auto"

[[queues]]
name = "workshop"
topics = ["workshop"]
skills = ["workshop"]

[[queues]]
name = "mobile"
channels = ["mobile"]

[[queues]]
name = "general"
first_response_seconds = { normal = 2.5, high = 60 }

[[agents]]
username = "anna"
skills = ["german"]
capacity = 2

[[agents]]
username = "bert"
skills = ["german", "workshop"]
capacity = 2
"""
AGENTS = ("anna", "bert")


def routing_app(tmp_path: Path, rasa_url: str | None = None, **env: str) -> AppServer:
    if rasa_url is None:  # nothing listens there: a short wait before the handover
        rasa_url, env = f"http://127.0.0.1:{free_port()}", {"CASEDESK_RASA_TIMEOUT_SECONDS": "2", **env}
    app = serve_app(tmp_path, rasa_url, env, settings_file=ROUTING)
    try:
        for username in AGENTS:
            app.add_agent(username)
    except BaseException:
        app.stop()
        raise
    return app


@pytest.fixture
def app(tmp_path: Path) -> Iterator[AppServer]:
    """The app with the queues above, and Rasa down: every first message is handed over at once."""
    process = routing_app(tmp_path)
    yield process
    process.stop()


async def agent(url: str, username: str = "agent") -> tuple[str, Recorder]:
    token = await sign_in(url, username)
    return token, await agent_socket(url, token)


async def case(url: str, token: str, conversation_id: str) -> dict[str, Any]:
    status, body = await http_json("GET", f"{url}/api/cases/{conversation_id}", token=token)
    assert status == 200, body
    return body["case"]  # type: ignore[no-any-return]


async def test_cases_are_routed_by_topic_language_and_channel_to_agents_with_the_skills(
    tmp_path: Path, stack: tuple[AppServer, RasaProcess]
) -> None:
    app = routing_app(tmp_path, stack[1].url)
    try:
        # A workshop article did not help: the workshop queue (the article's tags are its topics).
        workshop = Recorder(app.url, "/chat")
        await workshop.connect()
        workshop_id = (await workshop.ok("start_conversation", {}))["conversation"]["id"]
        await workshop.ok("send_message", {"text": "How much is a bike service?"})
        answer = await workshop.wait_for("message_created", lambda m: m["data"].get("kind") == "answer")
        assert answer["data"]["article"]["id"] == "bike-basic-service"
        await workshop.ok("send_message", {"text": "No", "payload": "/deny"})
        assert (await workshop.wait_for("case_updated", lambda c: c["status"] == "queued"))["queue_position"] == 1

        # A question in German: the German queue, whatever the topic.
        german = Recorder(app.url, "/chat")
        await german.connect()
        german_id = (await german.ok("start_conversation", {"locale": "de"}))["conversation"]["id"]
        await german.ok("send_message", {"text": "Wie kann ich ein Fahrrad zurückgeben?"})
        reply = await german.wait_for("message_created", lambda m: m["sender"] == "bot")
        assert reply["data"]["kind"] == "answer", reply
        await german.ok("send_message", {"text": "Nein", "payload": "/deny"})
        await german.wait_for("case_updated", lambda c: c["status"] == "queued")

        # From the mobile app, asking for a person: the mobile queue.
        mobile, mobile_id = await queued_customer(app.url, "I want to talk to a human", channel="mobile")

        token, general_agent = await agent(app.url)  # no skills: the queues that need none
        listed = await general_agent.ok("list_cases", {})
        assert [q["name"] for q in listed["queues"]] == ["mobile", "general"]
        assert [c["id"] for c in listed["queued"]] == [mobile_id]
        detail = await case(app.url, token, workshop_id)
        assert (detail["queue"], detail["priority"]) == ("workshop", "normal")
        assert (await case(app.url, token, german_id))["queue"] == "german"
        refused = await general_agent.call("accept_case", {"conversation_id": workshop_id})
        assert refused["error"]["code"] == "forbidden" and "workshop" in refused["error"]["message"]

        # The German queue assigns itself: anna signs in and has the case without a click.
        _, anna = await agent(app.url, "anna")
        assigned = await anna.wait_for("case_assigned", lambda c: c["id"] == german_id)
        assert assigned["agent_id"] and assigned["queue"] == "german"
        joined = catalogue.text("de", "system.joined", agent=assigned["agent_name"])
        await german.wait_for("message_created", lambda m: m["text"] == joined)  # in German
        assert (await case(app.url, token, german_id))["events"][-1]["reason"] == "assigned"

        # Pick mode: bert (workshop skill) sees the workshop case and takes it.
        _, bert = await agent(app.url, "bert")
        assert workshop_id in [c["id"] for c in (await bert.ok("list_cases", {}))["queued"]]
        await bert.ok("accept_case", {"conversation_id": workshop_id})
        await general_agent.ok("accept_case", {"conversation_id": mobile_id})
        for client in (workshop, german, mobile, general_agent, anna, bert):
            await client.close()
    finally:
        app.stop()


async def test_preferred_and_entitled_customers_are_served_first(app: AppServer) -> None:
    first, first_id = await queued_customer(app.url)
    second, second_id = await queued_customer(app.url)
    third, third_id = await queued_customer(app.url)
    token, agent_client = await agent(app.url)
    assert [c["id"] for c in (await agent_client.ok("list_cases", {}))["queued"]] == [first_id, second_id, third_id]

    # The third customer's company belongs to a group with a Gold contract: it applies to them.
    third_customer = (await case(app.url, token, third_id))["customer_id"]
    _, group = await http_json("POST", f"{app.url}/api/accounts", {"name": "Acme Group"}, token=token)
    _, company = await http_json("POST", f"{app.url}/api/accounts",
                                 {"name": "Acme Ltd", "parent_id": group["account"]["id"]}, token=token)
    status, _ = await http_json("POST", f"{app.url}/api/entitlements",
                                {"account_id": group["account"]["id"], "name": "Gold"}, token=token)
    assert status == 201
    status, body = await http_json("PATCH", f"{app.url}/api/contacts/{third_customer}",
                                   {"account_id": company["account"]["id"]}, token=token)
    assert status == 200 and [a["name"] for a in body["contact"]["accounts"]] == ["Acme Ltd", "Acme Group"]
    assert [(e["name"], e["active"]) for e in body["contact"]["entitlements"]] == [("Gold", True)]
    second_customer = (await case(app.url, token, second_id))["customer_id"]
    await http_json("PATCH", f"{app.url}/api/contacts/{second_customer}", {"preferred": True}, token=token)

    # High priority first, in the order they came; the customers see their new places.
    await until(lambda: latest(first)["queue_position"] == 3)
    assert latest(second)["queue_position"] == 1 and latest(third)["queue_position"] == 2
    listed = await agent_client.ok("list_cases", {})
    assert [(c["id"], c["priority"], c["entitlement"]) for c in listed["queued"]] == [
        (second_id, "high", None), (third_id, "high", "Gold"), (first_id, "normal", None)]

    assert (await http_json("PATCH", f"{app.url}/api/contacts/{third_customer}", {"preferred": "yes"},
                            token=token))[0] == 400
    assert (await http_json("PATCH", f"{app.url}/api/contacts/u_nobody", {"preferred": True}, token=token))[0] == 404
    assert (await http_json("PATCH", f"{app.url}/api/contacts/{third_customer}", {"preferred": True}))[0] == 401
    for client in (first, second, third, agent_client):
        await client.close()


async def test_sla_warning_and_breach_are_on_the_timeline_and_move_the_case_up(app: AppServer) -> None:
    late, late_id = await queued_customer(app.url)  # normal priority: first response due in 2.5 s
    token, agent_client = await agent(app.url)
    vip, vip_id = await queued_customer(app.url)
    vip_customer = (await case(app.url, token, vip_id))["customer_id"]
    await http_json("PATCH", f"{app.url}/api/contacts/{vip_customer}", {"preferred": True}, token=token)
    await until(lambda: latest(vip)["queue_position"] == 1)  # high priority first ...

    # ... until the other case's first response is close to breach (80 % of 2.5 s), then it leads.
    warned = await agent_client.wait_for("case_updated", lambda c: c["id"] == late_id
                                         and c["sla"]["first_response"] == "warning")
    assert warned["queue_position"] == 1 and warned["priority"] == "normal"
    await until(lambda: latest(late)["queue_position"] == 1 and latest(vip)["queue_position"] == 2)
    await agent_client.wait_for("case_updated",
                                lambda c: c["id"] == late_id and c["sla"]["first_response"] == "breached")

    await agent_client.ok("accept_case", {"conversation_id": late_id})
    await agent_client.ok("send_message", {"conversation_id": late_id, "text": "Sorry for the wait."})
    detail = await case(app.url, token, late_id)
    reasons = [e["reason"] for e in detail["events"]]
    assert reasons.index("sla_first_response_warning") < reasons.index("sla_first_response_breached")
    assert reasons.count("sla_first_response_breached") == 1
    assert detail["sla"]["first_response"] == "breached" and detail["sla"]["first_response_at"]
    queued_at = datetime.fromisoformat(detail["queued_at"])
    assert datetime.fromisoformat(detail["sla"]["first_response_warning_at"]) == queued_at + timedelta(seconds=2)
    assert datetime.fromisoformat(detail["sla"]["first_response_due_at"]) == queued_at + timedelta(seconds=2.5)
    warned_at = {e["reason"]: datetime.fromisoformat(e["at"]) for e in detail["events"]}
    assert queued_at + timedelta(seconds=2) <= warned_at["sla_first_response_warning"]
    assert queued_at + timedelta(seconds=2.5) <= warned_at["sla_first_response_breached"]
    assert (await case(app.url, token, vip_id))["sla"]["first_response"] is None  # 60 s: on track
    for client in (late, vip, agent_client):
        await client.close()


async def test_automatic_assignment_goes_to_the_least_loaded_and_stops_at_capacity(app: AppServer) -> None:
    _, anna = await agent(app.url, "anna")
    _, bert = await agent(app.url, "bert")
    await bert.ok("set_availability", {"availability": "away"})
    customers = [await queued_customer(app.url, locale="de") for _ in range(2)]
    await anna.wait_for("case_assigned", lambda c: c["id"] == customers[1][1])  # away: bert gets nothing
    assert [c["id"] for c in (await bert.ok("list_cases", {}))["mine"]] == []
    await bert.ok("set_availability", {"availability": "available"})

    # Both available: anna holds 2 (her capacity), so the next two go to bert, then nobody has room.
    more = [await queued_customer(app.url, locale="de") for _ in range(3)]
    for _, conversation_id in more[:2]:
        await bert.wait_for("case_assigned", lambda c, cid=conversation_id: c["id"] == cid)
    mine = {name: (await client.ok("list_cases", {}))["mine"] for name, client in (("anna", anna), ("bert", bert))}
    assert sorted(len(v) for v in mine.values()) == [2, 2]
    await until(lambda: latest(more[2][0])["queue_position"] == 1)
    assert latest(more[2][0])["status"] == "queued"
    refused = await anna.call("accept_case", {"conversation_id": more[2][1]})
    assert refused["error"]["code"] == "conflict" and "capacity" in refused["error"]["message"]

    # anna resolves one: the waiting case is hers at once.
    await anna.ok("resolve_case", {"conversation_id": customers[0][1], "category": "problem_solved"})
    await anna.wait_for("case_assigned", lambda c: c["id"] == more[2][1])
    for client, _ in customers + more:
        await client.close()
    await anna.close()
    await bert.close()


async def test_transfer_to_another_queue_or_straight_to_a_colleague(app: AppServer) -> None:
    customer, conversation_id = await queued_customer(app.url)
    token, first = await agent(app.url)
    _, bert = await agent(app.url, "bert")
    await first.ok("accept_case", {"conversation_id": conversation_id})

    bad = {"conversation_id": conversation_id, "note": "x", "queue": "nowhere"}
    assert (await first.call("transfer_case", bad))["error"]["code"] == "not_found"
    moved = await first.ok("transfer_case", {"conversation_id": conversation_id, "note": "A workshop question",
                                             "queue": "workshop"})
    assert (moved["case"]["queue"], moved["case"]["status"]) == ("workshop", "queued")
    await bert.wait_for("case_queued", lambda c: c["id"] == conversation_id)
    assert (await first.call("accept_case", {"conversation_id": conversation_id}))["error"]["code"] == "forbidden"
    await bert.ok("accept_case", {"conversation_id": conversation_id})

    # Straight to a colleague: only one who is signed in and has the queue's skills.
    refused = await bert.call("transfer_case", {"conversation_id": conversation_id, "note": "yours",
                                                "to_agent": "agent"})
    assert refused["error"]["code"] == "forbidden" and "skills" in refused["error"]["message"]
    events = (await case(app.url, token, conversation_id))["events"]
    assert events[-1]["to"] == "with_agent" and events[-1]["actor"] == "agent:bert"  # a refusal moves nothing
    assert (await bert.call("transfer_case", {"conversation_id": conversation_id, "note": "x",
                                              "to_agent": "anna"}))["error"]["code"] == "conflict"  # not signed in
    handed = await bert.ok("transfer_case", {"conversation_id": conversation_id, "note": "Back to you",
                                             "queue": "general", "to_agent": "agent"})
    assert handed["case"]["status"] == "with_agent" and handed["case"]["queue"] == "general"
    await first.wait_for("case_assigned", lambda c: c["id"] == conversation_id)
    events = [e["reason"] for e in (await case(app.url, token, conversation_id))["events"]]
    assert events[-4:] == ["transferred", "accepted", "transferred", "transferred_to_agent"]
    assert all(m["sender"] != "note" for m in customer.messages())
    for client in (customer, first, bert):
        await client.close()


async def test_resolution_category_and_a_returning_customers_earlier_cases(app: AppServer) -> None:
    customer = Recorder(app.url, "/chat")
    await customer.connect()
    started = await customer.ok("start_conversation", {})
    first_id = started["conversation"]["id"]
    await customer.ok("send_message", {"text": "my order never came"})
    await customer.wait_for("case_updated", lambda c: c["status"] == "queued")
    token, agent_client = await agent(app.url)
    await agent_client.ok("accept_case", {"conversation_id": first_id})
    for payload in ({"conversation_id": first_id}, {"conversation_id": first_id, "category": "magic"}):
        assert (await agent_client.call("resolve_case", payload))["error"]["code"] == "invalid_payload"
    resolved = await agent_client.ok("resolve_case", {"conversation_id": first_id, "category": "refund_or_replacement"})
    assert resolved["case"]["resolution_category"] == "refund_or_replacement"
    categories = (await agent_client.ok("list_cases", {}))["resolution_categories"]
    assert "refund_or_replacement" in categories and "problem_solved" in categories

    # The widget starts the next conversation with the token of the last one: the same customer.
    again = Recorder(app.url, "/chat")
    await again.connect()
    refused = await again.call("start_conversation", {"earlier_token": "forged"})
    assert refused["error"]["code"] == "unauthorized"
    second_id = (await again.ok("start_conversation", {"earlier_token": started["token"]}))["conversation"]["id"]
    await again.ok("send_message", {"text": "the same problem again"})
    await again.wait_for("case_updated", lambda c: c["status"] == "queued")

    detail = await case(app.url, token, second_id)
    assert detail["customer_id"] == (await case(app.url, token, first_id))["customer_id"]
    assert [(c["id"], c["resolution_category"]) for c in detail["earlier_cases"]] == [
        (first_id, "refund_or_replacement")]
    assert (await case(app.url, token, first_id))["earlier_cases"][0]["id"] == second_id
    for client in (customer, again, agent_client):
        await client.close()


async def test_a_customer_who_left_a_message_waits_for_an_agent_instead_of_being_abandoned(tmp_path: Path) -> None:
    app = routing_app(tmp_path, CASEDESK_ABANDON_AFTER_SECONDS="0.5")
    try:
        writer = Recorder(app.url, "/chat")
        await writer.connect()
        started = await writer.ok("start_conversation", {})
        await writer.ok("send_message", {"text": "my order never came"})
        queued = await writer.wait_for("case_updated", lambda c: c["status"] == "queued")
        assert queued["agents_available"] == 0  # nobody signed in: the widget offers to leave a message
        await writer.ok("send_message", {"text": "Order 1234, please call me back tomorrow."})
        await writer.close()
        silent, silent_id = await queued_customer(app.url)
        await silent.close()

        token, agent_client = await agent(app.url)
        await until_case(app.url, token, silent_id, "abandoned")
        detail = await case(app.url, token, queued["id"])
        assert detail["status"] == "queued"

        await agent_client.ok("accept_case", {"conversation_id": queued["id"]})
        await agent_client.ok("send_message", {"conversation_id": queued["id"], "text": "Calling you at 10."})
        back = Recorder(app.url, "/chat")
        await back.connect()
        resumed = await back.ok("resume_conversation", {"token": started["token"], "after_seq": 0})
        assert "Calling you at 10." in [m["text"] for m in resumed["messages"]]
        await back.close()
        await agent_client.close()
    finally:
        app.stop()


async def until_case(url: str, token: str, conversation_id: str, status: str) -> None:
    for _ in range(100):
        if (await case(url, token, conversation_id))["status"] == status:
            return
        await asyncio.sleep(0.1)
    assert (await case(url, token, conversation_id))["status"] == status
