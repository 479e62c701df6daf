"""The load processes of bench/relay.py: many socket.io customers, or a few agents, in one asyncio loop.

Each runs in its own OS process (``main`` is the multiprocessing target) and obeys commands sent as
``(name, kwargs)`` over a pipe, answering each with ``("ok", result)`` or ``("error", traceback)``.
Latencies are measured with wall-clock stamps in the message text (``relay <time.time()>``): the
processes share one host, so one clock.

- Customers (``/chat``): connect, ``start_conversation``, optionally send a first message (with Rasa
  down, the app hands the case over at once), then send at a fixed pace or as fast as acks return.
- Agents (``/agent``): sign in (the app) or not (the bare relay), accept cases, record when each
  customer message arrives as ``message_created`` and optionally answer it at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import resource
import time
import traceback
from collections.abc import Awaitable, Callable
from multiprocessing.connection import Connection
from typing import Any

import aiohttp
import socketio

CONNECT_CONCURRENCY = 50
TIMEOUT = 120.0
RELAY, REPLY = "relay ", "reply "  # prefixes of the stamped texts customers and agents send


def raise_fd_limit() -> None:
    """Allow as many open sockets as the hard limit does (thousands of connections per process)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else 1 << 20
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))


def stamp(text: str) -> float | None:
    """The send time in a stamped text, or None for any other message."""
    if text.startswith((RELAY, REPLY)):
        return float(text.split(" ", 2)[1])
    return None


class Load:
    """Socket.io clients sharing one HTTP session (no per-client connection pool) in one loop."""

    namespace = ""

    def __init__(self, url: str) -> None:
        self.url = url
        self.http = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
        self.clients: list[socketio.AsyncClient] = []
        self.errors = 0  # refused acks and failed emits

    def client(self) -> socketio.AsyncClient:
        client = socketio.AsyncClient(reconnection=False, http_session=self.http, handle_sigint=False)
        self.clients.append(client)
        return client

    async def connect(self, client: socketio.AsyncClient, auth: dict[str, Any] | None = None) -> None:
        await client.connect(self.url, namespaces=[self.namespace], transports=["websocket"], auth=auth,
                             wait_timeout=TIMEOUT)

    async def call(self, client: socketio.AsyncClient, event: str, payload: dict[str, Any]) -> dict[str, Any]:
        reply: dict[str, Any] = await client.call(event, payload, namespace=self.namespace, timeout=TIMEOUT)
        if not reply.get("ok"):
            raise RuntimeError(f"{event} {payload!r} -> {reply!r}")
        return reply

    def acked(self, reply: Any = None) -> None:
        if not (isinstance(reply, dict) and reply.get("ok")):
            self.errors += 1

    async def ready(self) -> bool:
        return True

    async def connected(self) -> int:
        return sum(client.connected for client in self.clients)

    async def close(self) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.gather(*(c.disconnect() for c in self.clients),
                                                  return_exceptions=True), 30)
        await self.http.close()


class Customers(Load):
    namespace = "/chat"

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.conversations: list[tuple[socketio.AsyncClient, str]] = []
        self.replies: list[tuple[float, float]] = []  # (agent's send stamp, received), agent -> customer

    async def _on_message(self, message: dict[str, Any]) -> None:
        if message.get("sender") == "agent":
            sent = stamp(message.get("text", ""))
            if sent is not None:
                self.replies.append((sent, time.time()))

    async def open(self, count: int, escalate: bool) -> list[str]:
        """``count`` customers each start a conversation (and hand it over with a first message when
        ``escalate``); returns the conversation ids."""
        limit = asyncio.Semaphore(CONNECT_CONCURRENCY)

        async def one() -> tuple[socketio.AsyncClient, str]:
            async with limit:
                client = self.client()
                client.on("message_created", self._on_message, namespace=self.namespace)
                await self.connect(client)
                started = await self.call(client, "start_conversation", {"channel": "web"})
                if escalate:
                    await self.call(client, "send_message", {"text": "I would like to talk to a person"})
                return client, str(started["conversation"]["id"])

        opened = await asyncio.gather(*(one() for _ in range(count)))
        self.conversations.extend(opened)
        gc.freeze()  # what is set up stays: no full collections of it (pauses) while measuring
        return [conversation_id for _, conversation_id in opened]

    async def pace(self, start_at: float, seconds: float, interval: float) -> int:
        """Every conversation sends one message every ``interval`` seconds from ``start_at`` for
        ``seconds``, their phases spread evenly over the interval (open loop: a send does not wait
        for the previous ack). Returns how many were sent."""
        self.replies.clear()
        self.errors = 0
        end = start_at + seconds
        sent = 0

        async def conversation(client: socketio.AsyncClient, phase: float) -> None:
            nonlocal sent
            due = start_at + phase
            while due < end:
                await asyncio.sleep(max(0.0, due - time.time()))
                try:
                    await client.emit("send_message", {"text": f"{RELAY}{time.time():.6f}"},
                                      namespace=self.namespace, callback=self.acked)
                    sent += 1
                except socketio.exceptions.SocketIOError:
                    self.errors += 1
                due += interval

        n = len(self.conversations)
        await asyncio.gather(*(conversation(client, interval * i / n)
                               for i, (client, _) in enumerate(self.conversations)))
        return sent

    async def flood(self, seconds: float) -> int:
        """Every conversation sends its next message as soon as the previous one is acknowledged
        (closed loop, one in flight each) for ``seconds``. Returns how many were sent."""
        end = time.time() + seconds
        sent = 0

        async def conversation(client: socketio.AsyncClient) -> None:
            nonlocal sent
            while time.time() < end:
                try:
                    self.acked(await client.call("send_message", {"text": f"{RELAY}{time.time():.6f}"},
                                                 namespace=self.namespace, timeout=TIMEOUT))
                    sent += 1
                except socketio.exceptions.SocketIOError:
                    self.errors += 1

        await asyncio.gather(*(conversation(client) for client, _ in self.conversations))
        return sent

    async def count(self) -> int:
        return len(self.replies)

    async def report(self) -> dict[str, Any]:
        return {"replies": list(self.replies), "errors": self.errors}


class Agents(Load):
    namespace = "/agent"

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.received: list[tuple[float, float]] = []  # (customer's send stamp, received), customer -> agent
        self.reply = False
        self.accepted = 0

    async def _on_message(self, client: socketio.AsyncClient, message: dict[str, Any]) -> None:
        if message.get("sender") != "customer":
            return
        sent = stamp(message.get("text", ""))
        if sent is None:
            return
        self.received.append((sent, time.time()))
        if self.reply:
            payload = {"conversation_id": message["conversation_id"], "text": f"{REPLY}{time.time():.6f}"}
            try:
                await client.emit("send_message", payload, namespace=self.namespace, callback=self.acked)
            except socketio.exceptions.SocketIOError:
                self.errors += 1

    async def open(self, tokens: list[str]) -> int:
        """One socket per agent, signed in with each token (any string for the bare relay)."""
        for token in tokens:
            client = self.client()

            async def on_message(message: dict[str, Any], client: socketio.AsyncClient = client) -> None:
                await self._on_message(client, message)

            client.on("message_created", on_message, namespace=self.namespace)
            await self.connect(client, auth={"token": token})
        gc.freeze()
        return len(self.clients)

    async def accept(self, conversation_ids: list[str], concurrency: int = 8) -> float:
        """Share the conversations round-robin among the agents (continuing from the previous call);
        returns the seconds it took."""
        started = time.perf_counter()
        limit = asyncio.Semaphore(concurrency)

        async def one(client: socketio.AsyncClient, conversation_id: str) -> None:
            async with limit:
                await self.call(client, "accept_case", {"conversation_id": conversation_id})

        turns = range(self.accepted, self.accepted + len(conversation_ids))
        self.accepted += len(conversation_ids)
        await asyncio.gather(*(one(self.clients[i % len(self.clients)], c)
                               for i, c in zip(turns, conversation_ids, strict=True)))
        return time.perf_counter() - started

    async def record(self, reply: bool) -> None:
        """Start a new recording; answer every stamped customer message at once when ``reply``."""
        self.received.clear()
        self.errors = 0
        self.reply = reply

    async def count(self) -> int:
        return len(self.received)

    async def report(self) -> dict[str, Any]:
        return {"received": list(self.received), "errors": self.errors}


async def _obey(conn: Connection, load: Load) -> None:
    while True:
        try:
            name, kwargs = await asyncio.to_thread(conn.recv)
        except EOFError:  # the benchmark is gone
            name, kwargs = "close", {}
        try:
            method: Callable[..., Awaitable[Any]] = getattr(load, name)
            answer: tuple[str, Any] = ("ok", await method(**kwargs))
        except Exception:
            answer = ("error", traceback.format_exc())
        with contextlib.suppress(OSError):
            conn.send(answer)
        if name == "close":
            return


def main(conn: Connection, role: str, url: str) -> None:
    """The process target: a ``Customers`` or ``Agents`` load on ``url`` obeying ``conn``."""
    raise_fd_limit()

    async def run() -> None:
        load: Load = Customers(url) if role == "customers" else Agents(url)
        await _obey(conn, load)

    asyncio.run(run())
