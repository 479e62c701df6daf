"""Several nodes: two app processes on one database, sharing socket rooms through Redis (python-socketio's
Redis manager). The customer is on one node and the agent on the other."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import pytest

from harness.clients import Recorder, agent_socket, http_json, latest, queued_customer, sign_in, until
from harness.servers import AppProcess, two_nodes

NODES = """
sweep_interval_seconds = 0.3
agent_grace_seconds = 1
[[queues]]
name = "mobile"
channels = ["mobile"]
assignment = "auto"

[[queues]]
name = "general"
"""


@pytest.fixture(scope="module")
def nodes(tmp_path_factory: pytest.TempPathFactory, module_redis_url: str) -> Iterator[tuple[AppProcess, AppProcess]]:
    """One pair for the module's tests: each starts its own customers, and the agent's cases stay within its
    capacity (agent_capacity, 3)."""
    with two_nodes(tmp_path_factory.mktemp("nodes"), module_redis_url, settings_file=NODES) as both:
        yield both


async def test_relay_replay_and_assignment_across_two_nodes(nodes: tuple[AppProcess, AppProcess]) -> None:
    a, b = nodes
    token = await sign_in(b.url)
    agent = await agent_socket(b.url, token)  # the agent on node B

    # A customer on node A: the agent on B sees the case arrive and that they are available.
    customer = Recorder(a.url, "/chat")
    await customer.connect()
    started = await customer.ok("start_conversation", {})
    conversation_id = started["conversation"]["id"]
    await customer.ok("send_message", {"text": "my fork leaks oil"})
    await agent.wait_for("case_queued", lambda c: c["id"] == conversation_id)
    await until(lambda: latest(customer)["agents_available"] == 1)
    await agent.ok("accept_case", {"conversation_id": conversation_id})
    await customer.wait_for("message_created", lambda m: "has joined" in m["text"])

    # The relay both ways.
    await agent.ok("send_message", {"conversation_id": conversation_id, "text": "Hello from node B"})
    await customer.wait_for("message_created", lambda m: m["text"] == "Hello from node B")
    await customer.ok("send_message", {"text": "Hello from node A"})
    await agent.wait_for("message_created", lambda m: m["text"] == "Hello from node A")

    # Node A's sweep sees the agent connected to node B: the case stays theirs past the grace period.
    await asyncio.sleep(1.5)
    _, case = await http_json("GET", f"{a.url}/api/cases/{conversation_id}", token=token)
    assert case["case"]["status"] == "with_agent"

    # The customer drops off node A and comes back on node B: what they missed, once and in order.
    seen = max(m["seq"] for m in customer.messages())
    await customer.close()
    sent = [f"While you were away {i}" for i in range(3)]
    for text in sent:
        await agent.ok("send_message", {"conversation_id": conversation_id, "text": text})
    back = Recorder(b.url, "/chat")
    await back.connect()
    resumed = await back.ok("resume_conversation", {"token": started["token"], "after_seq": seen})
    assert [m["text"] for m in resumed["messages"]] == sent
    assert [m["seq"] for m in resumed["messages"]] == list(range(seen + 1, seen + 4))
    await agent.ok("send_message", {"conversation_id": conversation_id, "text": "Welcome back"})
    await back.wait_for("message_created", lambda m: m["text"] == "Welcome back")
    await asyncio.sleep(0.3)
    assert [m["text"] for m in back.messages()] == ["Welcome back"]

    # An automatic queue: a customer on node A is assigned to the agent on node B.
    mobile, mobile_id = await queued_customer(a.url, channel="mobile")
    assigned = await agent.wait_for("case_assigned", lambda c: c["id"] == mobile_id)
    assert assigned["status"] == "with_agent" and assigned["queue"] == "mobile"
    await mobile.wait_for("message_created", lambda m: "has joined" in m["text"])
    for client in (back, mobile, agent):
        await client.close()


async def test_a_long_poll_on_one_node_gets_a_message_stored_by_the_other(
        nodes: tuple[AppProcess, AppProcess]) -> None:
    """The customer's app long-polls node A over REST; their agent writes on node B, which wakes nobody on A:
    A finds the message when it reads the store again (connectors/mobile_api.py, RECHECK_SECONDS)."""
    a, b = nodes
    agent = await agent_socket(b.url, await sign_in(b.url))
    _, started = await http_json("POST", f"{a.url}/api/conversations", {"name": "Mo"})
    conversation_id, token = started["conversation"]["id"], started["token"]
    messages = f"{a.url}/api/conversations/{conversation_id}/messages"
    await http_json("POST", messages, {"text": "my fork leaks oil"}, token=token)
    await agent.wait_for("case_assigned", lambda c: c["id"] == conversation_id)  # the mobile queue assigns at once
    # The customer is told the agent joined after the case is assigned: wait for that message before polling.
    await agent.wait_for("message_created", lambda m: m["conversation_id"] == conversation_id
                         and m["sender"] == "system")
    _, now = await http_json("GET", messages, token=token)
    last = now["messages"][-1]["seq"]

    poll = asyncio.ensure_future(http_json("GET", f"{messages}?after_seq={last}&wait=20", token=token))
    await asyncio.sleep(0.5)
    assert not poll.done()
    sent_at = time.monotonic()
    await agent.ok("send_message", {"conversation_id": conversation_id, "text": "Which fork is it?"})
    status, woken = await asyncio.wait_for(poll, 10)
    assert time.monotonic() - sent_at < 3
    assert status == 200
    assert [(m["sender"], m["text"]) for m in woken["messages"]] == [("agent", "Which fork is it?")]
    await agent.close()
