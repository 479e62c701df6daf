"""Real socket.io clients for a customer and an agent, recording every event they receive."""

from __future__ import annotations

import asyncio
import json
import urllib.request
from collections.abc import Callable
from typing import Any

import socketio

TIMEOUT = 30.0


class Recorder:
    """Connects one socket.io client to one namespace and keeps every event it receives, in order."""

    def __init__(self, url: str, namespace: str) -> None:
        self.url = url
        self.namespace = namespace
        self.client = socketio.AsyncClient(reconnection=False)
        self.events: list[tuple[str, Any]] = []
        self._changed = asyncio.Event()
        self.disconnected = asyncio.Event()  # set when the namespace's connection ends, from either side
        self.client.on("*", self._record, namespace=namespace)
        self.client.on("disconnect", self._gone, namespace=namespace)

    async def _gone(self, *reason: Any) -> None:
        self.disconnected.set()

    async def _record(self, event: str, data: Any) -> None:
        self.events.append((event, data))
        self._changed.set()

    async def connect(self, auth: dict[str, Any] | None = None, headers: dict[str, str] | None = None) -> None:
        await self.client.connect(self.url, namespaces=[self.namespace], transports=["websocket"],
                                  auth=auth, headers=headers or {}, wait_timeout=10)

    async def call(self, event: str, payload: Any = None) -> dict[str, Any]:
        args = () if payload is None else (payload,)
        return await self.client.call(event, *args, namespace=self.namespace, timeout=TIMEOUT)  # type: ignore[no-any-return]

    async def ok(self, event: str, payload: Any = None) -> dict[str, Any]:
        reply = await self.call(event, payload)
        assert reply.get("ok") is True, f"{event} {payload!r} -> {reply!r}"
        return reply

    def received(self, event: str) -> list[Any]:
        return [data for name, data in self.events if name == event]

    async def wait_for(self, event: str, predicate: Callable[[Any], bool] = lambda _: True) -> Any:
        """The first received ``event`` whose data matches, waiting for it if needed."""
        async def find() -> Any:
            while True:
                for name, data in self.events:
                    if name == event and predicate(data):
                        return data
                self._changed.clear()
                await self._changed.wait()

        return await asyncio.wait_for(find(), TIMEOUT)

    def messages(self) -> list[dict[str, Any]]:
        return self.received("message_created")

    async def close(self) -> None:
        await self.client.disconnect()


async def sign_in(app_url: str, username: str = "agent", password: str = "correct horse battery") -> str:
    status, body = await http_json("POST", f"{app_url}/api/agent/login",
                                   {"username": username, "password": password})
    assert status == 200, body
    return str(body["token"])


async def http_json(method: str, url: str, body: Any = None, token: str | None = None,
                    raw: bytes | None = None) -> tuple[int, Any]:
    def request() -> tuple[int, Any]:
        data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
        req = urllib.request.Request(url, data=data, method=method)
        req.add_header("Content-Type", "application/json")
        if token:
            req.add_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(req, timeout=TIMEOUT) as response:
                return response.status, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read() or b"null")

    return await asyncio.to_thread(request)


async def queued_customer(url: str, text: str = "my fork leaks oil", **start: Any) -> tuple[Recorder, str]:
    """A customer whose question is handed over at once (when nothing listens where Rasa should be,
    or ``text`` asks for a person); ``start`` adds to the start_conversation payload."""
    customer = Recorder(url, "/chat")
    await customer.connect()
    started = await customer.ok("start_conversation", {"channel": "web", **start})
    await customer.ok("send_message", {"text": text})
    await customer.wait_for("case_updated", lambda c: c["status"] == "queued")
    return customer, started["conversation"]["id"]


async def agent_socket(url: str, token: str) -> Recorder:
    agent = Recorder(url, "/agent")
    await agent.connect(auth={"token": token})
    return agent


async def first_taken_second_waiting(url: str) -> tuple[Recorder, str, Recorder, str, Recorder]:
    """Two queued customers; an agent has accepted the first. Returns both customers, the first's
    conversation id, the agent's token and socket."""
    first, first_id = await queued_customer(url)
    second, _ = await queued_customer(url)
    token = await sign_in(url)
    agent = await agent_socket(url, token)
    await agent.ok("accept_case", {"conversation_id": first_id})
    return first, first_id, second, token, agent


def latest(customer: Recorder) -> dict[str, Any]:
    return customer.received("case_updated")[-1]  # type: ignore[no-any-return]


async def until(check: Any) -> None:
    for _ in range(100):
        if check():
            return
        await asyncio.sleep(0.05)
    assert check()
