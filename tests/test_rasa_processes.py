"""Rasa scales (issue 18): several Rasa processes share conversations through Redis's tracker and lock stores,
so a conversation's turns may alternate between them; the bridge keeps each conversation to one process and
goes to another when that one is down; a contact's erasure reaches the trackers in Redis."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Any

import aiohttp
import pytest
import redis.asyncio as redis

from bot import rasa_runtime
from bot.rasa_fleet import RasaFleet
from bot.tracker_stores import TRACKER_KEYS, tracker_store_for
from handoff.cases.rasa_bridge import RasaBridge, pick
from harness.servers import ACTION_TOKEN, RASA_TOKEN, AppServer, free_port, redis_server, serve_app

pytestmark = pytest.mark.timeout(1200)
READY = 600  # seconds a Rasa start may take while the machine is busy (two start here)


@pytest.fixture(scope="module")
def two(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[AppServer, RasaFleet, str]]:
    """Two Rasa processes on one Redis, owned by an app as `casedesk run` with rasa_processes = 2 does."""
    workdir = tmp_path_factory.mktemp("rasa-processes")
    with redis_server(workdir) as redis_url:
        trackers = tracker_store_for(f"sqlite+aiosqlite:///{workdir}/casedesk.db", redis_url)
        fleet = RasaFleet(2, 0, RASA_TOKEN, ACTION_TOKEN, trackers, workdir, ready_timeout=READY)
        model, _ = rasa_runtime.ensure_model(log_path=workdir / "rasa-train.log")
        app = serve_app(workdir, fleet.urls()[0], fleet=fleet)
        try:
            fleet.start(model, f"{app.url}/webhook")
            yield app, fleet, redis_url
        finally:
            fleet.stop()
            app.stop()


async def turn(http: aiohttp.ClientSession, rasa_url: str, sender: str, text: str) -> dict[str, Any]:
    """One turn on Rasa's REST channel, as the bridge sends it; the bot's one structured reply."""
    body = {"sender": sender, "message": text, "metadata": {"channel": "web", "locale": "en"}}
    async with http.post(f"{rasa_url}/webhooks/rest/webhook", json=body) as response:
        assert response.status == 200
        [reply] = [entry["custom"] for entry in await response.json() if "custom" in entry]
        return dict(reply)


async def test_two_rasa_processes_share_a_conversation(two: tuple[AppServer, RasaFleet, str]) -> None:
    _, fleet, redis_url = two
    first, second = fleet.urls()
    sender = "c_" + secrets.token_hex(8)
    async with aiohttp.ClientSession() as http:
        answer = await turn(http, first, sender, "My table wobbles, how can I fix it?")
        assert answer["data"]["kind"] == "answer" and answer["data"]["article"]["id"] == "furniture-wobbly-table"
        # The other process reads the dialogue from Redis: "yes" answers "did this help?" there.
        helped = await turn(http, second, sender, "/affirm")
        assert (helped["resolve"], helped["data"]["article_id"]) == ("answer_helped", "furniture-wobbly-table")
        again = await turn(http, first, sender, "/affirm")  # and back: the article was cleared by the other one
        assert again.get("resolve") is None

    client = redis.from_url(redis_url)
    try:
        assert await client.exists(TRACKER_KEYS + sender) == 1
        assert await fleet.trackers.delete([sender, "c_unknown"]) == 1  # as a contact's erasure does
        assert await client.exists(TRACKER_KEYS + sender) == 0
    finally:
        await client.aclose()


async def test_the_bridge_keeps_a_conversation_to_one_process_and_passes_a_dead_one_by(
        two: tuple[AppServer, RasaFleet, str]) -> None:
    _, fleet, _ = two
    dead = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    urls = [dead, *fleet.urls()]
    senders = [s for s in (f"c_{i:04d}" for i in range(200)) if pick(s, len(urls)) == 0][:2]
    assert len(senders) == 2 and pick(senders[0], 3) == pick(senders[0], 3)
    async with aiohttp.ClientSession() as http:
        bridge = RasaBridge(http, urls, 30)
        for sender in senders:  # their process is down: the next one answers
            [reply] = await bridge.send(sender, "hello", {"channel": "web", "locale": "en"})
            assert reply.handoff_reason is None and reply.text
        assert await bridge.is_up()
        assert not await RasaBridge(http, [dead], 30).is_up()
