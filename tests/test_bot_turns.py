"""The bot's queue (handoff/cases/bot_turns.py) and Rasa's health check (handoff/cases/rasa_health.py) in front
of a Rasa faked on loopback (a third party's HTTP API) that answers when a test lets it, or hangs as a stopped
process does: the bound, the order, the refusals, and a hung Rasa detected by its health check."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from handoff.cases.bot_turns import BotBusy, BotTurns
from handoff.cases.rasa_bridge import BotReply, BotUnavailable, RasaBridge
from handoff.cases.rasa_health import FRESH_WAIT, RasaHealth, http_probe
from harness.servers import free_port

INTERVAL, TIMEOUT = 0.05, 0.3  # the health check's, short for these tests


class FakeRasa:
    """Rasa's REST channel and ``GET /``: a turn answers once `answering` is set, with the sender's text; while
    `hung`, nothing answers (a SIGSTOPped process keeps its port open and says nothing)."""

    def __init__(self) -> None:
        self.answering = asyncio.Event()
        self.hung = False
        self.at_once = 0
        self.most_at_once = 0
        self.order: list[str] = []

    async def _hang_while_hung(self) -> None:
        while self.hung:
            await asyncio.sleep(0.01)

    async def root(self, request: web.Request) -> web.Response:
        await self._hang_while_hung()
        return web.Response(text="Hello from Rasa: 3.6.21")

    async def webhook(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.at_once += 1
        self.most_at_once = max(self.most_at_once, self.at_once)
        try:
            self.order.append(body["message"])
            await self.answering.wait()
            await self._hang_while_hung()
            return web.json_response([{"recipient_id": body["sender"], "text": f"re: {body['message']}"}])
        finally:
            self.at_once -= 1


@pytest.fixture
async def rasa() -> AsyncIterator[tuple[FakeRasa, str]]:
    fake = FakeRasa()
    app = web.Application()
    app.router.add_get("/", fake.root)
    app.router.add_post("/webhooks/rest/webhook", fake.webhook)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    yield fake, f"http://127.0.0.1:{runner.addresses[0][1]}"
    fake.hung = False
    fake.answering.set()
    await runner.cleanup()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


def queue(http: aiohttp.ClientSession, url: str, in_flight: int, waiting: int,
          loading: bool = False) -> BotTurns:
    health = RasaHealth(http_probe(http), url, INTERVAL, TIMEOUT, loading=lambda: loading)
    return BotTurns(RasaBridge(http, url, 30.0), health, in_flight, waiting)


async def settled(check: Any) -> None:
    deadline = time.monotonic() + 5
    while not check():
        assert time.monotonic() < deadline, "not settled in 5 s"
        await asyncio.sleep(0.01)


async def test_a_few_turns_at_rasa_a_bounded_number_waiting_in_order_and_the_rest_refused_at_once(
        rasa: tuple[FakeRasa, str], http: aiohttp.ClientSession) -> None:
    fake, url = rasa
    turns = queue(http, url, in_flight=2, waiting=3)
    asked = [asyncio.create_task(turns.send(f"c{i}", f"q{i}", {})) for i in range(5)]
    await settled(lambda: turns.in_flight == 2 and turns.depth == 3 and fake.at_once == 2)
    for i in range(5, 9):  # the queue is full: refused without waiting
        with pytest.raises(BotBusy):
            await turns.send(f"c{i}", f"q{i}", {})
    assert turns.busy_refusals == 4
    fake.answering.set()
    answers = await asyncio.gather(*asked)
    assert answers == [[BotReply(f"re: q{i}", {})] for i in range(5)]
    assert fake.most_at_once == 2
    assert fake.order == ["q0", "q1", "q2", "q3", "q4"]  # first come, first served
    assert (turns.in_flight, turns.depth, turns.turns, turns.unavailable) == (0, 0, 5, 0)
    assert await turns.send("c9", "q9", {}) == [BotReply("re: q9", {})]  # room again


async def test_a_turn_that_stops_waiting_gives_up_its_place(
        rasa: tuple[FakeRasa, str], http: aiohttp.ClientSession) -> None:
    fake, url = rasa
    turns = queue(http, url, in_flight=1, waiting=2)
    first = asyncio.create_task(turns.send("c0", "q0", {}))
    second = asyncio.create_task(turns.send("c1", "q1", {}))
    third = asyncio.create_task(turns.send("c2", "q2", {}))
    await settled(lambda: turns.depth == 2)
    second.cancel()  # its customer's request ended
    await settled(lambda: turns.depth == 1)
    first.cancel()  # at Rasa: its place goes to the next in line
    await settled(lambda: fake.order == ["q0", "q2"])
    fake.answering.set()
    assert await third == [BotReply("re: q2", {})]
    assert (turns.in_flight, turns.depth) == (0, 0)

    fake.answering.clear()
    first = asyncio.create_task(turns.send("c3", "q3", {}))
    second = asyncio.create_task(turns.send("c4", "q4", {}))
    await settled(lambda: turns.depth == 1 and fake.at_once == 1)
    first.cancel()  # its place goes to the second, which stops waiting before it takes it: nobody keeps it
    second.cancel()
    await settled(lambda: first.done() and second.done())
    assert (turns.in_flight, turns.depth) == (0, 0)


async def test_a_hung_rasa_is_seen_by_its_health_check_and_ends_every_turn_until_it_answers_again(
        rasa: tuple[FakeRasa, str], http: aiohttp.ClientSession) -> None:
    fake, url = rasa
    turns = queue(http, url, in_flight=1, waiting=5)
    async with turns.health.running():
        asked = [asyncio.create_task(turns.send(f"c{i}", f"q{i}", {})) for i in range(3)]
        await settled(lambda: turns.in_flight == 1 and turns.depth == 2)
        fake.hung = True
        hung_at = time.monotonic()
        for task in asked:  # at Rasa and waiting alike
            with pytest.raises(BotUnavailable, match="health check"):
                await task
        assert time.monotonic() - hung_at < INTERVAL + TIMEOUT + 0.5
        assert (turns.health.up, turns.health.downs, turns.in_flight, turns.depth) == (False, 1, 0, 0)
        assert turns.unavailable == 3
        started = time.monotonic()
        with pytest.raises(BotUnavailable, match="health check"):  # not let in while down, after one fresh probe
            await turns.send("c3", "q3", {})
        assert time.monotonic() - started < FRESH_WAIT + 0.2

        fake.hung = False
        fake.answering.set()
        await settled(lambda: turns.health.up)
        assert await turns.send("c4", "q4", {}) == [BotReply("re: q4", {})]


async def test_a_rasa_loading_a_model_is_not_marked_down_and_its_turns_wait(
        rasa: tuple[FakeRasa, str], http: aiohttp.ClientSession) -> None:
    fake, url = rasa
    turns = queue(http, url, in_flight=1, waiting=1, loading=True)
    async with turns.health.running():
        fake.hung = True
        asked = asyncio.create_task(turns.send("c0", "q0", {}))
        await settled(lambda: turns.health.failures >= 2)
        assert turns.health.up and not asked.done()
        fake.hung = False
        fake.answering.set()
        assert await asked == [BotReply("re: q0", {})]


async def test_a_rasa_that_is_not_there_is_down_at_the_first_probe(http: aiohttp.ClientSession) -> None:
    health = RasaHealth(http_probe(http), f"http://127.0.0.1:{free_port()}", INTERVAL, TIMEOUT)  # nobody listens
    assert await health.check() is False
    assert (health.up, health.probes, health.failures, health.downs) == (False, 1, 1, 1)
