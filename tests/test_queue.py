"""The queue: a queued customer sees whether anyone is online and the expected wait, kept up to date
as agents sign in and out; an agent's lost connection does not lose the customer."""

from __future__ import annotations

import asyncio
import math
import statistics
from datetime import datetime
from pathlib import Path
from typing import Any

from harness.clients import (
    Recorder,
    agent_socket,
    first_taken_second_waiting,
    http_json,
    latest,
    queued_customer,
    sign_in,
    until,
)
from harness.servers import free_port, serve_app


def at(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


async def test_queue_shows_agents_available_and_an_expected_wait_from_recent_handling_times(tmp_path: Path) -> None:
    app = serve_app(tmp_path, f"http://127.0.0.1:{free_port()}", {"CASEDESK_RASA_TIMEOUT_SECONDS": "2"})
    try:
        waiting, _ = await queued_customer(app.url)
        assert (latest(waiting)["agents_available"], latest(waiting)["estimated_wait_seconds"]) == (0, None)

        token = await sign_in(app.url)
        agent = await agent_socket(app.url, token)
        await until(lambda: latest(waiting)["agents_available"] == 1)
        assert latest(waiting)["estimated_wait_seconds"] is None  # no case handled yet: unknown

        # Three cases handled, for about 0.5 s, 1.0 s and 1.5 s.
        handled = []
        for hold in (0.5, 1.0, 1.5):
            customer, conversation_id = await queued_customer(app.url)
            await agent.ok("accept_case", {"conversation_id": conversation_id})
            await asyncio.sleep(hold)
            await agent.ok("resolve_case", {"conversation_id": conversation_id, "category": "question_answered"})
            _, case = await http_json("GET", f"{app.url}/api/cases/{conversation_id}", token=token)
            events = {event["to"]: at(event["at"]) for event in case["case"]["events"]}
            handled.append((events["resolved"] - events["with_agent"]).total_seconds())
            await customer.close()
        median = statistics.median(handled)

        second, _ = await queued_customer(app.url)  # behind the first waiting customer
        assert latest(second)["queue_position"] == 2
        assert latest(second)["estimated_wait_seconds"] == math.ceil(2 * median / 1)

        other = await agent_socket(app.url, token)  # the same agent on a second device counts once
        await asyncio.sleep(0.3)
        assert latest(second)["agents_available"] == 1
        await other.close()

        await agent.close()  # nobody online: the customer is told so and may leave a message
        await until(lambda: latest(second)["agents_available"] == 0)
        assert latest(second)["estimated_wait_seconds"] is None and latest(waiting)["agents_available"] == 0
        await second.ok("send_message", {"text": "I'll leave my number: call me back please"})

        agent = await agent_socket(app.url, await sign_in(app.url))
        await until(lambda: latest(second)["agents_available"] == 1)
        assert latest(second)["estimated_wait_seconds"] == math.ceil(2 * median / 1)
        assert latest(waiting)["estimated_wait_seconds"] == math.ceil(1 * median / 1)
        for customer in (waiting, second, agent):
            await customer.close()
    finally:
        app.stop()


async def test_a_waiting_customer_is_sent_their_place_again_only_when_it_changes(tmp_path: Path) -> None:
    """Customers joining the back of the queue move nobody ahead of them: the first is not sent its
    unchanged place once per customer behind it (which made filling a queue quadratic), but a change
    (an agent signing in) still reaches everyone."""
    app = serve_app(tmp_path, f"http://127.0.0.1:{free_port()}", {"CASEDESK_RASA_TIMEOUT_SECONDS": "2"})
    try:
        first, _ = await queued_customer(app.url)
        behind = []
        for _ in range(3):
            customer, _ = await queued_customer(app.url)
            # its own place, sent with the queue's places after it joined: that sending has happened
            await until(lambda customer=customer: len(customer.received("case_updated")) >= 2)
            behind.append(customer)
        places = [(c["queue_position"], c["agents_available"]) for c in first.received("case_updated")]
        assert places.count((1, 0)) <= 2, places  # on entering the queue, and with the queue's places once

        agent = await agent_socket(app.url, await sign_in(app.url))
        await until(lambda: all(latest(c)["agents_available"] == 1 for c in [first, *behind]))
        assert [latest(c)["queue_position"] for c in [first, *behind]] == [1, 2, 3, 4]
        for client in (first, *behind, agent):
            await client.close()
    finally:
        app.stop()


async def test_a_disconnected_agents_case_returns_to_the_head_of_the_queue_after_the_grace_period(
    tmp_path: Path,
) -> None:
    app = serve_app(tmp_path, f"http://127.0.0.1:{free_port()}", {
        "CASEDESK_RASA_TIMEOUT_SECONDS": "2", "CASEDESK_AGENT_GRACE_SECONDS": "1.5",
        "CASEDESK_SWEEP_INTERVAL_SECONDS": "0.2",
    })
    try:
        first, first_id, second, token, agent = await first_taken_second_waiting(app.url)
        await agent.ok("send_message", {"conversation_id": first_id, "text": "Hello, let me look at your fork."})
        await until(lambda: latest(second)["queue_position"] == 1)
        third, _ = await queued_customer(app.url)

        # A short drop (page reload) within the grace period changes nothing.
        await agent.close()
        agent = await agent_socket(app.url, token)
        await asyncio.sleep(2.0)
        assert latest(first)["status"] == "with_agent"

        # Gone for good: after the grace period the case goes back, ahead of those who came later.
        await agent.close()
        note = await first.wait_for("message_created", lambda m: m["data"].get("kind") == "requeued")
        assert note["sender"] == "system" and "back at the front of the queue" in note["text"]
        await until(lambda: latest(first)["status"] == "queued")
        assert latest(first)["queue_position"] == 1
        await until(lambda: (latest(second)["queue_position"], latest(third)["queue_position"]) == (2, 3))

        # The next agent gets the whole conversation, the first agent's reply and the note included.
        agent = await agent_socket(app.url, token)
        accepted = await agent.ok("accept_case", {"conversation_id": first_id})
        texts = [m["text"] for m in accepted["messages"]]
        assert "Hello, let me look at your fork." in texts and any("was disconnected" in t for t in texts)
        _, case = await http_json("GET", f"{app.url}/api/cases/{first_id}", token=token)
        steps = [(e["from"], e["to"], e["reason"]) for e in case["case"]["events"]]
        assert ("with_agent", "queued", "agent_disconnected") in steps and steps[-1][1] == "with_agent"
        for client in (first, second, third, agent):
            await client.close()
    finally:
        app.stop()


async def test_availability_counts_for_the_wait_and_capacity_limits_what_an_agent_holds(tmp_path: Path) -> None:
    app = serve_app(tmp_path, f"http://127.0.0.1:{free_port()}", {
        "CASEDESK_RASA_TIMEOUT_SECONDS": "2", "CASEDESK_AGENT_CAPACITY": "2",
    })
    try:
        waiting, _ = await queued_customer(app.url)
        agent = await agent_socket(app.url, await sign_in(app.url))
        await until(lambda: latest(waiting)["agents_available"] == 1)  # available when connecting

        assert await agent.ok("set_availability", {"availability": "away"}) == {"ok": True, "availability": "away"}
        await until(lambda: latest(waiting)["agents_available"] == 0)
        await agent.ok("set_availability", {"availability": "busy"})
        await asyncio.sleep(0.2)
        assert latest(waiting)["agents_available"] == 0
        await agent.ok("set_availability", {"availability": "available"})
        await until(lambda: latest(waiting)["agents_available"] == 1)
        for bad in ({"availability": "asleep"}, {"availability": 1}, {}, {"availability": "away", "x": 1}):
            refused = await agent.call("set_availability", bad)
            assert refused["ok"] is False and refused["error"]["code"] == "invalid_payload", refused

        # Capacity 2: the third accept is refused and the case stays queued for someone else.
        customers = [await queued_customer(app.url) for _ in range(3)]
        for _, conversation_id in customers[:2]:
            await agent.ok("accept_case", {"conversation_id": conversation_id})
        refused = await agent.call("accept_case", {"conversation_id": customers[2][1]})
        assert refused["ok"] is False and refused["error"]["code"] == "conflict"
        assert "capacity" in refused["error"]["message"]
        assert latest(customers[2][0])["status"] == "queued"
        await agent.ok("resolve_case", {"conversation_id": customers[0][1], "category": "problem_solved"})
        await agent.ok("accept_case", {"conversation_id": customers[2][1]})  # room again
        for client in (waiting, agent, *(customer for customer, _ in customers)):
            await client.close()
    finally:
        app.stop()


async def test_a_transferred_case_keeps_its_place_and_the_note_reaches_only_agents(tmp_path: Path) -> None:
    app = serve_app(tmp_path, f"http://127.0.0.1:{free_port()}", {"CASEDESK_RASA_TIMEOUT_SECONDS": "2"})
    try:
        first, first_id, second, _, agent = await first_taken_second_waiting(app.url)
        for bad in ({"conversation_id": first_id}, {"conversation_id": first_id, "note": "  "}):
            refused = await agent.call("transfer_case", bad)
            assert refused["error"]["code"] == "invalid_payload", refused

        moved = await agent.ok("transfer_case", {"conversation_id": first_id, "note": "Needs the workshop team"})
        assert moved["case"]["status"] == "queued" and moved["case"]["queue_position"] == 1  # ahead of second
        told = await first.wait_for("message_created", lambda m: m["data"].get("kind") == "requeued")
        assert told["data"]["reason"] == "transferred" and "keep your place" in told["text"]
        await until(lambda: latest(second)["queue_position"] == 2)
        assert all("workshop team" not in m["text"] for m in first.messages())

        accepted = await agent.ok("accept_case", {"conversation_id": first_id})
        notes = [m for m in accepted["messages"] if m["sender"] == "note"]
        expected = [("Needs the workshop team", {"kind": "note", "transfer": True})]
        assert [(n["text"], n["data"]) for n in notes] == expected
        for client in (first, second, agent):
            await client.close()
    finally:
        app.stop()


async def test_typing_indicators_both_ways_only_while_an_agent_has_the_case(tmp_path: Path) -> None:
    app = serve_app(tmp_path, f"http://127.0.0.1:{free_port()}", {"CASEDESK_RASA_TIMEOUT_SECONDS": "2"})
    try:
        first, first_id, second, _, agent = await first_taken_second_waiting(app.url)
        assert await first.ok("set_typing", {"typing": True}) == {"ok": True}
        seen = await agent.wait_for("typing_changed", lambda e: e["conversation_id"] == first_id)
        assert (seen["sender"], seen["typing"]) == ("customer", True)
        await agent.ok("set_typing", {"conversation_id": first_id, "typing": True})
        heard = await first.wait_for("typing_changed", lambda e: e["sender"] == "agent")  # (the bot's: its turn)
        assert (heard["sender"], heard["typing"], heard["conversation_id"]) == ("agent", True, first_id)
        await agent.ok("set_typing", {"conversation_id": first_id, "typing": False})
        await first.wait_for("typing_changed", lambda e: e["sender"] == "agent" and e["typing"] is False)

        await second.ok("set_typing", {"typing": True})  # queued: nobody to tell
        refused = await agent.call("set_typing", {"conversation_id": "c_nope", "typing": True})
        assert refused["error"]["code"] == "not_found"
        for bad in ({"typing": "yes"}, {}, {"typing": True, "x": 1}):
            assert (await first.call("set_typing", bad))["error"]["code"] == "invalid_payload"
        await asyncio.sleep(0.3)
        assert [e["conversation_id"] for e in agent.received("typing_changed")] == [first_id]
        for client in (first, second, agent):
            await client.close()
    finally:
        app.stop()


async def test_customer_dropped_in_the_middle_of_a_burst_gets_every_message_once_in_order(tmp_path: Path) -> None:
    app = serve_app(tmp_path, f"http://127.0.0.1:{free_port()}", {"CASEDESK_RASA_TIMEOUT_SECONDS": "2"})
    try:
        customer = Recorder(app.url, "/chat")
        await customer.connect()
        started = await customer.ok("start_conversation", {"channel": "mobile"})
        conversation_id, token = started["conversation"]["id"], started["token"]
        await customer.ok("send_message", {"text": "my fork leaks oil"})
        await customer.wait_for("case_updated", lambda c: c["status"] == "queued")
        agent = await agent_socket(app.url, await sign_in(app.url))
        await agent.ok("accept_case", {"conversation_id": conversation_id})
        burst = [f"part {n} of 40" for n in range(40)]

        async def send_burst() -> None:
            for text in burst:
                await agent.ok("send_message", {"conversation_id": conversation_id, "text": text})

        def parts(messages: list[dict[str, Any]]) -> int:
            return sum(m["text"].startswith("part ") for m in messages)

        got: list[dict[str, Any]] = []  # everything this customer's app has shown, over all its connections
        sending = asyncio.create_task(send_burst())
        for drop in range(3):  # three forced drops while the agent keeps sending
            await until(lambda shown=got, now=customer, want=8 * (drop + 1): parts(shown + now.messages()) >= want)
            await customer.client.eio.disconnect(abort=True)  # the network goes away, no goodbye
            got += customer.messages()
            customer = Recorder(app.url, "/chat")
            await customer.connect()
            resumed = await customer.ok("resume_conversation", {"token": token, "after_seq": got[-1]["seq"]})
            got += resumed["messages"]
        await sending
        await until(lambda: parts(got + customer.messages()) >= len(burst))
        await asyncio.sleep(0.3)
        got += customer.messages()
        seqs = [m["seq"] for m in got]
        assert len(seqs) == len(set(seqs)) == max(seqs)  # each message exactly once, none missing
        in_order = sorted(got, key=lambda m: m["seq"])  # a client shows them by seq
        assert [m["text"] for m in in_order if m["text"].startswith("part ")] == burst
        await customer.close()
        await agent.close()
    finally:
        app.stop()
