"""A stopping app drops its open sockets itself (handoff/app.py, `_closing_sockets`): it stops at once instead
of waiting out its shutdown timeout (`handoff.cli.SHUTDOWN_SECONDS`) for connections that never end, and its
clients see a lost transport, after which they reconnect, never the server telling them to go away."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import socketio

from handoff.cli import SHUTDOWN_SECONDS
from harness.clients import agent_socket, sign_in
from harness.servers import free_port, serve_app


async def test_a_stopping_app_drops_its_sockets_at_once(tmp_path: Path) -> None:
    app = serve_app(tmp_path, f"http://127.0.0.1:{free_port()}")
    try:
        customer = socketio.AsyncClient(reconnection=False)
        reasons: list[Any] = []
        gone = asyncio.Event()

        async def disconnected(reason: Any = None) -> None:
            reasons.append(reason)
            gone.set()

        customer.on("disconnect", disconnected, namespace="/chat")
        await customer.connect(app.url, namespaces=["/chat"], transports=["websocket"], wait_timeout=10)
        started = await customer.call("start_conversation", {"channel": "web"}, namespace="/chat", timeout=30)
        assert started["ok"] is True, started
        agent = await agent_socket(app.url, await sign_in(app.url))
    except BaseException:
        app.stop()
        raise
    began = time.monotonic()
    await asyncio.to_thread(app.stop)
    took = time.monotonic() - began
    assert took < SHUTDOWN_SECONDS / 2, f"the app took {took:.1f} s to stop with two sockets open"
    await asyncio.wait_for(gone.wait(), 5)
    await asyncio.wait_for(agent.disconnected.wait(), 5)
    assert reasons and reasons[0] != customer.reason.SERVER_DISCONNECT, reasons  # a lost transport: reconnect
    await customer.disconnect()
