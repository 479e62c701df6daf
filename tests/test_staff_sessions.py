"""Ending a staff account's sessions ends its sockets, on every node: two app processes sharing Redis
(harness.servers.two_nodes), an agent with a socket on each. Disabling, revoking and signing out reach both
sockets within a second; a disabled account cannot sign in; customers stop being told an agent is there;
`casedesk agent` (another process) reaches them through Redis; every role signs out. Without Redis, a node
finds sessions ended elsewhere or expired within its recheck."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import socketio

from handoff.staff.accounts import token_digest
from handoff.store.records import utcnow
from handoff.web.keys import CONVERSATIONS
from harness.clients import Recorder, agent_socket, http_json, latest, queued_customer, sign_in, until
from harness.servers import PASSWORD, ROOT, AppProcess, free_port, served_app, two_nodes

RECHECK = 0.5  # seconds: the node's recheck of its agents' sockets in the test without Redis
NODES = """
sweep_interval_seconds = 0.3
agent_grace_seconds = 30
"""


@pytest.fixture
def nodes(tmp_path: Path, redis_url: str) -> Iterator[tuple[AppProcess, AppProcess]]:
    with two_nodes(tmp_path, redis_url, settings_file=NODES) as started:
        yield started


async def on_both(a: AppProcess, b: AppProcess, token: str) -> tuple[Recorder, Recorder]:
    return await agent_socket(a.url, token), await agent_socket(b.url, token)


async def ended(sockets: tuple[Recorder, ...], reason: str, within: float) -> None:
    """Every socket got ``session_ended`` with ``reason`` and was disconnected by the server in time."""
    started = time.monotonic()
    await asyncio.wait_for(asyncio.gather(*(s.disconnected.wait() for s in sockets)), within)
    assert time.monotonic() - started < within
    for socket in sockets:
        assert socket.received("session_ended") == [{"reason": reason}]


async def test_disable_revoke_and_sign_out_end_the_sockets_on_both_nodes(
        nodes: tuple[AppProcess, AppProcess]) -> None:
    a, b = nodes
    supervisor = await sign_in(a.url)  # the first account: every role
    status, added = await http_json("POST", f"{a.url}/api/staff", {
        "username": "kim", "password": PASSWORD, "roles": ["agent"]}, token=supervisor)
    assert status == 201, added
    kim_id = added["account"]["id"]

    # A customer waits on node A and is told an agent is there while kim is connected on node B.
    customer, _ = await queued_customer(a.url)
    kim = await sign_in(b.url, "kim")
    sockets = await on_both(a, b, kim)
    await until(lambda: latest(customer)["agents_available"] == 1)

    # Disabled on node A: both sockets end within a second; customers are told nobody is there.
    status, body = await http_json("POST", f"{a.url}/api/staff/{kim_id}/disable", token=supervisor)
    assert status == 200 and body["account"]["disabled"] is True, body
    await ended(sockets, "disabled", 1.0)
    await until(lambda: latest(customer)["agents_available"] == 0)
    for node in (a, b):  # it cannot sign in, and its old token is refused on either node
        status, body = await http_json("POST", f"{node.url}/api/agent/login", {"username": "kim", "password": PASSWORD})
        assert (status, body["error"]["code"]) == (401, "unauthorized"), body
        assert "disabled" in body["error"]["message"]
        status, _ = await http_json("GET", f"{node.url}/api/kb/search?q=bell", token=kim)
        assert status == 401
    refused = Recorder(b.url, "/agent")
    with pytest.raises(socketio.exceptions.ConnectionError):
        await refused.connect(auth={"token": kim})

    # Enabled again, two sign-ins: revoking (on node B) ends every socket of both.
    status, _ = await http_json("POST", f"{b.url}/api/staff/{kim_id}/enable", token=supervisor)
    assert status == 200
    first, second = await sign_in(a.url, "kim"), await sign_in(b.url, "kim")
    sockets = (*await on_both(a, b, first), await agent_socket(a.url, second))
    status, body = await http_json("POST", f"{b.url}/api/staff/{kim_id}/revoke", token=supervisor)
    assert (status, body["ended"]) == (200, 2), body
    await ended(sockets, "revoked", 1.0)

    # Signing out ends the sockets of that sign-in on both nodes, not those of kim's other sign-in.
    first, second = await sign_in(a.url, "kim"), await sign_in(a.url, "kim")
    signing_out, staying = await on_both(a, b, first), await agent_socket(b.url, second)
    status, _ = await http_json("POST", f"{b.url}/api/agent/logout", token=first)
    assert status == 200
    await ended(signing_out, "signed_out", 1.0)
    await asyncio.sleep(0.3)
    assert not staying.disconnected.is_set()
    assert (await staying.ok("set_availability", {"availability": "available"}))["availability"] == "available"

    # `casedesk agent revoke`, another process: with Redis it reaches the node of the socket at once.
    done = subprocess.run([sys.executable, "-m", "handoff", "agent", "revoke", "kim"], cwd=ROOT, env=a.env,
                          capture_output=True, text=True, check=True)
    assert "1 session of kim ended" in done.stdout
    await ended((staying,), "revoked", 1.0)
    for client in (customer, *sockets, *signing_out, staying):
        await client.close()

    # Every role signs out (an editor or a supervisor alone, too), once.
    for role in ("editor", "supervisor"):
        status, _ = await http_json("POST", f"{a.url}/api/staff", {
            "username": f"only-{role}", "password": PASSWORD, "roles": [role]}, token=supervisor)
        assert status == 201
        token = await sign_in(b.url, f"only-{role}")
        assert (await http_json("POST", f"{b.url}/api/agent/logout", token=token))[0] == 200
        status, body = await http_json("POST", f"{a.url}/api/agent/logout", token=token)
        assert (status, body["error"]["code"]) == (401, "unauthorized")



async def test_without_redis_each_node_finds_ended_and_expired_sessions_in_the_store(tmp_path: Path) -> None:
    """One node, no Redis: `casedesk agent revoke` (another process) and a sign-in's expiry end the socket
    within the node's recheck (`AgentNamespace.end_lapsed`, every `session_recheck_seconds`, shortened here),
    and the token is refused."""
    recheck = {"CASEDESK_SESSION_RECHECK_SECONDS": str(RECHECK)}
    with served_app(tmp_path, f"http://127.0.0.1:{free_port()}", recheck) as app:
        token = await sign_in(app.url)
        socket = await agent_socket(app.url, token)
        done = await asyncio.to_thread(subprocess.run, [sys.executable, "-m", "handoff", "agent", "revoke", "agent"],
                                       cwd=ROOT, env=app.env, capture_output=True, text=True, check=True)
        assert "1 session of agent ended" in done.stdout
        await ended((socket,), "ended", RECHECK + 2)
        assert (await http_json("GET", f"{app.url}/api/kb/search?q=bell", token=token))[0] == 401

        # A sign-in that lasts a second (as agent_session_hours would make it).
        agent = app.run(lambda: app.app[CONVERSATIONS].store.agent_by_username("agent"))
        assert agent is not None
        short = "a-sign-in-of-one-second"
        app.run(lambda: app.app[CONVERSATIONS].store.add_session(token_digest(short), agent.id,
                                                                  utcnow() + timedelta(seconds=1)))
        socket = await agent_socket(app.url, short)
        await ended((socket,), "expired", 1 + RECHECK + 2)
        assert (await http_json("GET", f"{app.url}/api/kb/search?q=bell", token=short))[0] == 401
