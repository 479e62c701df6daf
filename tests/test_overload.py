"""Overload is explicit (issue 18; docs/operations.md, "Overload"), on the product as it runs: the assistant
types while a turn waits for Rasa or runs; 200 customers at once on a small bound are answered or told the
assistant is busy (and offered a person), never handed over as if Rasa had failed; a Rasa that stops answering
(SIGSTOP) is seen within 3 s, and answers again after SIGCONT."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from handoff import catalogue
from harness.clients import Recorder, sign_in
from harness.servers import ActionRelay, RasaProcess, app_and_rasa, start_app

QUESTION = "how do I return a bike?"
ARTICLE = "bike-returns"
PERSON = {"text": catalogue.text("en", "bot.busy_person"), "payload": "/request_human"}


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
        yield session


class RestCustomer:
    """A customer's app over REST (docs/mobile.md)."""

    def __init__(self, http: aiohttp.ClientSession, url: str) -> None:
        self.http, self.url = http, url
        self.id = self.token = ""

    async def start(self) -> RestCustomer:
        async with self.http.post(f"{self.url}/api/conversations", json={"locale": "en"}) as response:
            assert response.status == 201, await response.text()
            body = await response.json()
        self.id, self.token = body["conversation"]["id"], body["token"]
        return self

    async def ask(self, text: str, payload: str | None = None) -> dict[str, Any]:
        """Send; the bot's turn is over when the call answers: the bot's last message since."""
        last = (await self.messages())[-1]["seq"] if payload else 0
        body = {"text": text, **({"payload": payload} if payload else {})}
        async with self.http.post(f"{self.url}/api/conversations/{self.id}/messages", json=body,
                                  headers={"Authorization": f"Bearer {self.token}"}) as response:
            assert response.status == 201, await response.text()
        return [m for m in await self.messages() if m["sender"] == "bot" and m["seq"] > last][-1]

    async def messages(self) -> list[dict[str, Any]]:
        async with self.http.get(f"{self.url}/api/conversations/{self.id}/messages",
                                 headers={"Authorization": f"Bearer {self.token}"}) as response:
            return (await response.json())["messages"]  # type: ignore[no-any-return]

    async def status(self) -> str:
        async with self.http.get(f"{self.url}/api/conversations/{self.id}",
                                 headers={"Authorization": f"Bearer {self.token}"}) as response:
            return (await response.json())["conversation"]["status"]  # type: ignore[no-any-return]


async def test_the_customer_sees_the_assistant_typing_until_its_answer(app_url: str) -> None:
    customer = Recorder(app_url, "/chat")
    await customer.connect()
    try:
        started = await customer.ok("start_conversation", {"channel": "web", "locale": "en"})
        await customer.ok("send_message", {"text": QUESTION})
        answer = await customer.wait_for("message_created", lambda m: m["sender"] == "bot")
        assert answer["data"]["kind"] == "answer", answer
        seen = [(event, data) for event, data in customer.events if event in ("typing_changed", "message_created")]
        typing = {"conversation_id": started["conversation"]["id"], "sender": "bot", "name": answer["sender_name"]}
        assert [(e, d.get("sender"), d.get("typing")) for e, d in seen] == [
            ("message_created", "customer", None), ("typing_changed", "bot", True),
            ("typing_changed", "bot", False), ("message_created", "bot", None)]
        assert seen[1][1] == {**typing, "typing": True}
    finally:
        await customer.close()


async def test_200_customers_at_once_on_a_small_bound_are_answered_or_told_the_assistant_is_busy(
        tmp_path: Path, rasa: RasaProcess, actions: ActionRelay, http: aiohttp.ClientSession) -> None:
    app = start_app(tmp_path, rasa.url, {"CASEDESK_BOT_TURNS_IN_FLIGHT": "2", "CASEDESK_BOT_TURNS_WAITING": "20"})
    try:
        app.add_agent("sup", roles=("supervisor",))
        with actions.serving(app.url):
            customers = await asyncio.gather(*(RestCustomer(http, app.url).start() for _ in range(200)))
            replies = await asyncio.gather(*(c.ask(QUESTION) for c in customers))
            kinds = [r["data"]["kind"] for r in replies]
            busy = [c for c, r in zip(customers, replies, strict=True) if r["data"]["kind"] == "bot_busy"]
            assert not [r for r in replies if r["data"].get("reason") == "bot_unavailable"]
            assert set(kinds) == {"answer", "bot_busy"}, kinds
            assert 22 <= kinds.count("answer") < 200  # at least the 2 at Rasa and the 20 waiting got in
            assert {r["data"]["article"]["id"] for r in replies if r["data"]["kind"] == "answer"} == {ARTICLE}
            told = next(r for r in replies if r["data"]["kind"] == "bot_busy")
            assert (told["text"], told["data"]) == (catalogue.text("en", "bot.busy"), {
                "kind": "bot_busy", "buttons": [{"title": PERSON["text"], "payload": PERSON["payload"]}],
                "language": "en"})
            assert {await c.status() for c in busy} == {"bot"}  # not queued unless they take the offer

            handed = await asyncio.gather(*(c.ask(PERSON["text"], PERSON["payload"]) for c in busy[:3]))
            assert [h["data"] for h in handed] == [{"kind": "handoff", "reason": "bot_busy", "language": "en"}] * 3
            assert {await c.status() for c in busy[:3]} == {"queued"}
            again = await busy[3].ask(QUESTION)  # asking again when the bot has room
            assert again["data"]["kind"] == "answer"

        sup = await sign_in(app.url, "sup")
        async with http.get(f"{app.url}/api/reports/deflection", headers={"Authorization": f"Bearer {sup}"}) as got:
            deflection = await got.json()
        assert deflection["escalation_reasons"] == [{"reason": "bot_busy", "count": 3}]
    finally:
        app.stop()


async def answered_once_up(http: aiohttp.ClientSession, url: str) -> dict[str, Any]:
    """The bot's answer to a new customer's question, once the app's health check sees Rasa (every 0.25 s)."""
    deadline = time.monotonic() + 20
    while True:
        reply = await (await RestCustomer(http, url).start()).ask(QUESTION)
        if reply["data"]["kind"] == "answer" or time.monotonic() > deadline:
            return reply
        await asyncio.sleep(0.2)


async def test_a_stopped_rasa_is_seen_within_3_s_and_answers_again_after_it_continues(
        tmp_path: Path, http: aiohttp.ClientSession) -> None:
    with app_and_rasa(tmp_path) as (app, rasa):  # a Rasa of this test's own: the session's is never stopped
        assert (await answered_once_up(http, app.url))["data"]["kind"] == "answer"
        os.kill(rasa.process.pid, signal.SIGSTOP)
        try:
            stopped = time.monotonic()
            asking = await RestCustomer(http, app.url).start()
            told = await asking.ask(QUESTION)
            assert time.monotonic() - stopped < 3.0
            assert told["data"] == {"kind": "handoff", "reason": "bot_unavailable", "language": "en"}
            assert await asking.status() == "queued"
        finally:
            os.kill(rasa.process.pid, signal.SIGCONT)
        assert (await answered_once_up(http, app.url))["data"]["kind"] == "answer"
