"""Exactly once, end to end (docs/operations.md, "Exactly-once delivery"): a send repeated with its id (over
REST and the socket) and a repeated button press are stored once and answered once; an agent's socket that
resumes gets exactly the messages it missed; an app killed mid-turn answers the pending question when it
starts again, and the client's retry stores nothing twice."""

from __future__ import annotations

import asyncio
import signal
import threading
from collections import Counter
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import socketio
from aiohttp import web

from handoff.cases.desk import open_desk
from handoff.cases.rasa_bridge import RasaBridge
from handoff.settings import load_settings
from handoff.store.sql import SqlCaseStore
from harness.clients import Recorder, http_json, queued_customer, sign_in
from harness.servers import ActionRelay, AppProcess, RasaProcess, start_app, two_nodes

QUESTION = "how do I return a bike?"
WEBHOOK = "/webhooks/rest/webhook"


async def started(url: str) -> tuple[str, str, str]:
    status, reply = await http_json("POST", f"{url}/api/conversations", {"locale": "en"})
    assert status == 201, reply
    conversation_id = reply["conversation"]["id"]
    return conversation_id, reply["token"], f"{url}/api/conversations/{conversation_id}/messages"


async def transcript(messages_url: str, token: str, after_seq: int = 0, wait: float = 0) -> list[dict[str, Any]]:
    status, found = await http_json("GET", f"{messages_url}?after_seq={after_seq}&wait={wait:g}", token=token)
    assert status == 200, found
    return found["messages"]  # type: ignore[no-any-return]


def senders(messages: list[dict[str, Any]]) -> list[str]:
    return [m["sender"] for m in messages]


@pytest.mark.rasa
async def test_a_repeated_message_id_and_a_repeated_press_are_stored_and_answered_once_over_rest(
        app_url: str) -> None:
    _, token, messages = await started(app_url)
    status, sent = await http_json("POST", messages, {"text": QUESTION, "client_id": "q-1"}, token=token)
    assert status == 201 and sent["message"]["client_id"] == "q-1"
    answered = await transcript(messages, token, wait=20)
    status, again = await http_json("POST", messages, {"text": QUESTION, "client_id": "q-1"}, token=token)
    assert (status, again["message"]) == (201, sent["message"])
    assert await transcript(messages, token) == answered  # nothing stored, no second bot turn
    assert senders(answered) == ["customer", "bot"]
    yes = next(b for b in answered[-1]["data"]["buttons"] if b["payload"] == "/affirm")
    press = {"text": yes["title"], "payload": yes["payload"]}
    status, pressed = await http_json("POST", messages, {**press, "client_id": "yes-1"}, token=token)
    assert status == 201
    resolved = await transcript(messages, token, wait=20)
    assert any(m["data"].get("kind") == "survey" for m in resolved)
    for retry in ({**press, "client_id": "yes-1"}, {**press, "client_id": "yes-2"}, press):  # the same press
        status, again = await http_json("POST", messages, retry, token=token)
        assert (status, again["message"]) == (201, pressed["message"])
    assert await transcript(messages, token) == resolved
    status, refused = await http_json("POST", messages, {"text": "No", "payload": "/deny"}, token=token)
    assert (status, refused["error"]["code"]) == (409, "conflict")  # another press after the end is not one


@pytest.mark.rasa
async def test_a_repeated_message_id_is_stored_and_answered_once_over_the_socket(app_url: str) -> None:
    customer = Recorder(app_url, "/chat")
    await customer.connect()
    try:
        await customer.ok("start_conversation", {})
        first = await customer.ok("send_message", {"text": QUESTION, "client_id": "b1c2d3"})
        again = await customer.ok("send_message", {"text": QUESTION, "client_id": "b1c2d3"})
        assert again["message"] == first["message"]
        refused = await customer.call("send_message", {"text": QUESTION, "client_id": "not an id"})
        assert refused["error"]["code"] == "invalid_payload"
        await customer.ok("send_message", {"text": "thanks, bye", "client_id": "b1c2d4"})  # after the repeat
        seqs = [m["seq"] for m in customer.messages()]
        assert len(seqs) == len(set(seqs))
        assert [m["client_id"] for m in customer.messages() if m["sender"] == "customer"] == ["b1c2d3", "b1c2d4"]
        assert senders(customer.messages())[:2] == ["customer", "bot"]  # one answer to the question
        assert senders(customer.messages()).count("bot") == senders(customer.messages())[2:].count("bot") + 1
    finally:
        await customer.close()


@pytest.mark.rasa
async def test_an_agent_socket_resumes_with_exactly_the_messages_it_missed(
        stack: tuple[AppProcess, RasaProcess]) -> None:
    app = stack[0]
    app.add_agent("resuming")
    token = await sign_in(app.url, "resuming")
    customer, conversation_id = await queued_customer(app.url, "I want to talk to a person")
    agent = Recorder(app.url, "/agent")
    await agent.connect(auth={"token": token, "resume": True})
    try:
        assert (await agent.ok("resume_cases", {"cases": []}))["messages"] == []
        accepted = await agent.ok("accept_case", {"conversation_id": conversation_id})
        joined = accepted["messages"][-1]
        assigned = await agent.wait_for("case_assigned", lambda c: c["id"] == conversation_id)
        assert joined["sender"] == "system" and assigned["last_seq"] == joined["seq"]  # stored, then announced
        await customer.ok("send_message", {"text": "one"})
        await agent.wait_for("message_created", lambda m: m["text"] == "one")
        reply = {"conversation_id": conversation_id, "text": "Hello!", "client_id": "a-1"}
        sent = await agent.ok("send_message", reply)
        assert (await agent.ok("send_message", reply))["message"] == sent["message"]  # stored once
        await customer.wait_for("message_created", lambda m: m["text"] == "Hello!")
        seen = max(m["seq"] for m in agent.messages())
    finally:
        await agent.close()
    await customer.ok("send_message", {"text": "two"})  # while the agent is away
    again = Recorder(app.url, "/agent")
    await again.connect(auth={"token": token, "resume": True})
    try:
        await customer.ok("send_message", {"text": "three"})  # connected, not resumed yet
        resumed = await again.ok("resume_cases", {"cases": [{"conversation_id": conversation_id,
                                                             "after_seq": seen}]})
        await customer.ok("send_message", {"text": "four"})
        await again.wait_for("message_created", lambda m: m["text"] == "four")
        assert [m["text"] for m in resumed["messages"]] == ["two", "three"]
        assert [m["text"] for m in again.messages()] == ["four"]  # none of the replay again, live
        await again.ok("resolve_case", {"conversation_id": conversation_id, "category": "other"})
    finally:
        await again.close()
        await customer.close()
    assert [m["text"] for m in customer.messages()].count("Hello!") == 1


class HeldRasa(ActionRelay):
    """A loopback proxy in front of Rasa that can hold its REST channel's requests (a turn in flight), then
    drop them (the app that sent them is gone) or pass them on."""

    ROUTE = ("*", "/{path:.*}")

    def __init__(self, upstream: str) -> None:
        self.holding = False
        self.arrived = threading.Event()  # a request is held
        self._parked: list[asyncio.Future[bool]] = []
        super().__init__(upstream)

    async def _pass_on(self, request: web.Request) -> web.Response:
        body = await request.read()
        if self.holding and request.path == WEBHOOK:
            parked = asyncio.get_running_loop().create_future()
            self._parked.append(parked)
            self.arrived.set()
            if not await parked:
                return web.Response(status=503)
        async with self._http.request(request.method, f"{self.target}{request.path_qs}", data=body,
                                      headers={"Content-Type": request.content_type}) as answer:
            return web.Response(body=await answer.read(), status=answer.status, content_type=answer.content_type)

    def _settle(self, forward: bool) -> None:
        async def settle() -> None:
            parked, self._parked = self._parked, []
            for future in parked:
                future.set_result(forward)
        self._thread.run(settle)
        self.arrived.clear()

    def drop(self) -> None:
        """What is held is answered with an error, never reaching Rasa; later requests are held."""
        self._settle(False)

    def release(self) -> None:
        """What is held goes on to Rasa, and so does everything after."""
        self.holding = False
        self._settle(True)


async def send(url: str, token: str, text: str, client_id: str) -> tuple[int, Any]:
    return await http_json("POST", url, {"text": text, "client_id": client_id}, token=token)


@pytest.mark.rasa
async def test_an_app_killed_mid_turn_answers_the_pending_question_after_a_restart(
        tmp_path: Path, rasa: RasaProcess, actions: ActionRelay) -> None:
    held, session_app = HeldRasa(rasa.url), actions.target
    app = start_app(tmp_path, held.url)
    acknowledged: list[tuple[str, str, str, int]] = []  # conversation, token, client id, seq
    conversations: list[tuple[str, str]] = []
    try:
        for round in range(3):
            actions.target = app.url
            conversation_id, token, messages = await started(app.url)
            conversations.append((conversation_id, token))
            status, hello = await send(messages, token, "hi", f"r{round}-hi")
            assert status == 201
            acknowledged.append((conversation_id, token, f"r{round}-hi", hello["message"]["seq"]))
            held.holding = True
            asking = asyncio.create_task(send(messages, token, QUESTION, f"r{round}-q"))
            assert await asyncio.to_thread(held.arrived.wait, 30), "the turn never reached Rasa"
            app.process.send_signal(signal.SIGKILL)  # mid-turn: the question is stored, its answer is not
            app.stop()
            with pytest.raises(OSError):
                await asking  # never acknowledged
            held.drop()
            app = start_app(tmp_path, held.url)  # the same database; its pending turn waits in the proxy
            actions.target = app.url
            held.release()
            messages = f"{app.url}/api/conversations/{conversation_id}/messages"
            status, retried = await send(messages, token, QUESTION, f"r{round}-q")  # the client's retry
            assert status == 201 and retried["message"]["text"] == QUESTION
            acknowledged.append((conversation_id, token, f"r{round}-q", retried["message"]["seq"]))
            after = await transcript(messages, token, retried["message"]["seq"], wait=20)
            assert senders(after)[:1] == ["bot"], after
        lost, duplicates, unanswered = 0, 0, 0
        for conversation_id, token in conversations:
            every = await transcript(f"{app.url}/api/conversations/{conversation_id}/messages", token)
            ids = Counter(m["client_id"] for m in every if m["sender"] == "customer")
            seqs = Counter(m["seq"] for m in every)
            duplicates += sum(n - 1 for n in ids.values()) + sum(n - 1 for n in seqs.values())
            unanswered += sum(1 for before, then in zip(every, [*every[1:], None], strict=True)
                              if before["sender"] == "customer" and (then is None or then["sender"] != "bot"))
            assert senders(every) == ["customer", "bot", "customer", "bot"], every
        for conversation_id, token, client_id, seq in acknowledged:
            every = await transcript(f"{app.url}/api/conversations/{conversation_id}/messages", token)
            lost += not any(m["client_id"] == client_id and m["seq"] == seq for m in every)
        assert (lost, duplicates, unanswered) == (0, 0, 0)
        assert "answered 1 of 1 customer messages left without a bot turn" in "".join(app.output)
    finally:
        app.stop()
        held.stop()
        actions.target = session_app


async def test_where_nodes_share_the_store_one_answers_a_message_left_without_a_turn(
        tmp_path: Path, redis_url: str) -> None:
    database = tmp_path / "a" / "casedesk.db"
    database.parent.mkdir()
    store = await SqlCaseStore.open(f"sqlite+aiosqlite:///{database}")
    try:
        async with aiohttp.ClientSession() as http:
            nowhere = RasaBridge(http, "http://127.0.0.1:9", 1)
            desk = open_desk(store, socketio.AsyncServer(async_mode="aiohttp"), nowhere, load_settings(None, {}))
            conversation, token = await desk.conversations.start("mobile", "en", None)
        await store.append_message(conversation.id, sender="customer", sender_name="C", text=QUESTION,
                                   client_id="left")  # stored; then the node that stored it was gone
    finally:
        await store.close()
    with two_nodes(tmp_path, redis_url) as (first, second):  # no Rasa: the turn hands over
        messages = f"{first.url}/api/conversations/{conversation.id}/messages"
        async def done(node: AppProcess) -> None:  # each node first waits out turns another may be running
            while "customer messages left without a bot turn" not in "".join(node.output):
                await asyncio.sleep(0.2)
        try:
            await asyncio.wait_for(asyncio.gather(done(first), done(second)), 60)
        except TimeoutError:
            raise AssertionError("".join(first.output) + "".join(second.output)) from None
        every = await transcript(messages, token)
    assert [(m["sender"], m["data"].get("reason")) for m in every] == [("customer", None), ("bot", "bot_unavailable")]
    assert sum("answered 1 of 1 " in "".join(node.output) for node in (first, second)) == 1
