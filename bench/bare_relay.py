"""The baseline for bench/relay.py: a bare python-socketio relay with the app's events and no storage.

An aiohttp + python-socketio server (the same versions and defaults the app uses) that speaks just
enough of docs/protocol.md for the relay benchmark's clients: a customer on ``/chat`` starts a
conversation and joins its room; an agent on ``/agent`` accepts it and joins the same room there;
``send_message`` from either side is acknowledged and emitted as ``message_created`` to the
conversation's room in both namespaces, as the app does. Nothing is stored, nothing is checked, no
queue: what is left is the cost of socket.io itself.

bench/relay.py runs it in its own process, as it runs the app; on its own for a look:

    .venv/bin/python bench/bare_relay.py [--port 8090]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import signal
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import socketio
from aiohttp import web

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.relay_load import raise_fd_limit


def _message(conversation_id: str, seq: int, sender: str, text: str) -> dict[str, Any]:
    created = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    return {"conversation_id": conversation_id, "seq": seq, "sender": sender, "sender_name": sender.capitalize(),
            "text": text, "created_at": created, "data": {}}


class Relay:
    """Conversations in memory: which room a customer socket is in, and the next seq of each."""

    def __init__(self, sio: socketio.AsyncServer) -> None:
        self.sio = sio
        self.bound: dict[str, str] = {}  # customer sid -> conversation id
        self.seq: dict[str, int] = {}
        self._ids = itertools.count(1)

    async def post(self, conversation_id: str, sender: str, text: str) -> dict[str, Any]:
        self.seq[conversation_id] = seq = self.seq.get(conversation_id, 0) + 1
        message = _message(conversation_id, seq, sender, text)
        room = f"conv:{conversation_id}"
        await self.sio.emit("message_created", message, room=room, namespace="/chat")
        await self.sio.emit("message_created", message, room=room, namespace="/agent")
        return message

    def new_conversation(self) -> str:
        return f"c_{next(self._ids):08d}"


class Chat(socketio.AsyncNamespace):
    def __init__(self, relay: Relay) -> None:
        super().__init__("/chat")
        self.relay = relay

    async def on_start_conversation(self, sid: str, payload: Any) -> dict[str, Any]:
        conversation_id = self.relay.new_conversation()
        self.relay.bound[sid] = conversation_id
        await self.enter_room(sid, f"conv:{conversation_id}")
        return {"ok": True, "conversation": {"id": conversation_id, "status": "bot"}, "token": conversation_id}

    async def on_send_message(self, sid: str, payload: Any) -> dict[str, Any]:
        conversation_id = self.relay.bound[sid]
        return {"ok": True, "message": await self.relay.post(conversation_id, "customer", payload["text"])}

    async def on_disconnect(self, sid: str, reason: Any = None) -> None:
        self.relay.bound.pop(sid, None)


class Agent(socketio.AsyncNamespace):
    def __init__(self, relay: Relay) -> None:
        super().__init__("/agent")
        self.relay = relay

    async def on_connect(self, sid: str, environ: dict[str, Any], auth: Any = None) -> None:
        return None

    async def on_accept_case(self, sid: str, payload: Any) -> dict[str, Any]:
        conversation_id = payload["conversation_id"]
        await self.enter_room(sid, f"conv:{conversation_id}")
        return {"ok": True, "case": {"id": conversation_id, "status": "with_agent"}, "messages": []}

    async def on_send_message(self, sid: str, payload: Any) -> dict[str, Any]:
        return {"ok": True, "message": await self.relay.post(payload["conversation_id"], "agent", payload["text"])}


def create_bare_app() -> web.Application:
    app = web.Application()
    sio = socketio.AsyncServer(async_mode="aiohttp", logger=False, engineio_logger=False)
    sio.attach(app)
    relay = Relay(sio)
    sio.register_namespace(Chat(relay))
    sio.register_namespace(Agent(relay))
    return app


async def serve(port: int) -> None:
    """Serve on ``port`` (0: the OS chooses), print the URL, stop on SIGTERM or SIGINT."""
    runner = web.AppRunner(create_bare_app(), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    print(f"bare relay listening on http://127.0.0.1:{runner.addresses[0][1]}", flush=True)
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set)
    await stop.wait()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8090, help="0: let the OS choose")
    raise_fd_limit()
    asyncio.run(serve(parser.parse_args().port))
