"""Rasa remembers (issue 18): with its trackers in a persistent store (the default: a SQLite file beside the
app's database), a dialogue outlives a restart of Rasa and a blue/green switch to new Rasa processes, during
which customers' turns keep being answered; a contact's erasure deletes their trackers."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot import rasa_runtime
from bot.rasa_fleet import RasaFleet
from bot.tracker_stores import tracker_store_for
from harness.clients import Recorder, http_json, sign_in
from harness.servers import ACTION_TOKEN, RASA_TOKEN, AppServer, serve_app

QUESTION = "My table wobbles, how can I fix it?"
# Each Rasa start costs some 15 s of CPU, and minutes of waiting on a busy machine: three here.
pytestmark = pytest.mark.timeout(1200)
READY = 600  # seconds a Rasa start may take while the machine is busy


@pytest.fixture(scope="module")
def owned(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[AppServer, RasaFleet]]:
    """The app with one Rasa process of its own, as `casedesk run` starts them (bot.rasa_fleet); Rasa's logs
    are shown when a test fails."""
    workdir = tmp_path_factory.mktemp("rasa-trackers")
    fleet = RasaFleet(1, 0, RASA_TOKEN, ACTION_TOKEN, tracker_store_for(f"sqlite+aiosqlite:///{workdir}/casedesk.db"),
                      workdir, ready_timeout=READY)
    model, _ = rasa_runtime.ensure_model(log_path=workdir / "rasa-train.log")
    app = serve_app(workdir, fleet.urls()[0], fleet=fleet)
    try:
        fleet.start(model, f"{app.url}/webhook")
        yield app, fleet
    finally:
        fleet.stop()
        app.stop()


def tracker_events(fleet: RasaFleet, conversation_id: str) -> int:
    path = fleet.trackers.url.split(":///", 1)[1]
    with sqlite3.connect(path) as db:
        return int(db.execute("SELECT count(*) FROM events WHERE sender_id = ?", (conversation_id,)).fetchone()[0])


def rasa_logs(app: AppServer) -> str:
    """The ends of Rasa's logs beside the app's database, to see why a turn failed."""
    return "\n".join(f"{log.name}:\n" + "\n".join(log.read_text(errors="replace").splitlines()[-40:])
                     for log in sorted(app.db_path.parent.glob("rasa-*.log")))


async def answered(app_url: str) -> tuple[Recorder, str]:
    """A customer whose question the bot answered; it asks now whether the answer helped."""
    customer = Recorder(app_url, "/chat")
    await customer.connect()
    started = await customer.ok("start_conversation", {"channel": "web", "locale": "en", "name": "Dana"})
    await customer.ok("send_message", {"text": QUESTION})
    answer = await customer.wait_for("message_created", lambda m: m["sender"] == "bot")
    assert answer["data"]["kind"] == "answer" and answer["data"]["article"]["id"] == "furniture-wobbly-table"
    return customer, started["conversation"]["id"]


async def yes_resolves(customer: Recorder) -> None:
    """"Yes" is read as the answer to "did this help?" (the tracker's last article): the bot resolves the case."""
    await customer.ok("send_message", {"text": "Yes", "payload": "/affirm"})
    resolved = await customer.wait_for("case_updated", lambda c: c["status"] == "resolved")
    assert resolved["resolution"] == "bot"


async def test_a_dialogue_outlives_a_rasa_restart_and_a_blue_green_switch(owned: tuple[AppServer, RasaFleet]) -> None:
    app, fleet = owned
    before_restart, restart_id = await answered(app.url)
    before_switch, _ = await answered(app.url)
    assert tracker_events(fleet, restart_id) > 0

    await asyncio.to_thread(fleet.restart)  # a new process: nothing of the dialogue is in its memory
    await yes_resolves(before_restart)

    # Blue/green: a new process starts beside the old one, which answers every turn meanwhile.
    old_urls, old_processes = fleet.urls(), fleet.processes()
    assert fleet.model is not None
    switching = asyncio.ensure_future(asyncio.to_thread(fleet.switch, fleet.model))
    chatty: list[Recorder] = []
    turns = 0
    while not switching.done():
        if turns % 10 == 0:  # customers of a few turns each: Rasa sends an action the whole dialogue
            chatty.append(Recorder(app.url, "/chat"))
            await chatty[-1].connect()
            await chatty[-1].ok("start_conversation", {"channel": "web", "locale": "en"})
        sent = await chatty[-1].ok("send_message", {"text": "hello"})
        reply = await chatty[-1].wait_for("message_created",
                                          lambda m, seq=sent["message"]["seq"]: m["sender"] == "bot" and m["seq"] > seq)
        assert reply["data"].get("kind") != "handoff", (reply, rasa_logs(app))
        turns += 1
        await asyncio.sleep(0.5)  # a customer's pace
    await switching
    assert turns >= 3
    assert fleet.urls() != old_urls and all(process.poll() is not None for process in old_processes)
    await yes_resolves(before_switch)
    for customer in (before_restart, before_switch, *chatty):
        await customer.close()


async def test_erasure_deletes_the_contacts_trackers(owned: tuple[AppServer, RasaFleet]) -> None:
    app, fleet = owned
    customer, conversation_id = await answered(app.url)
    other, other_id = await answered(app.url)
    await yes_resolves(customer)
    kept = tracker_events(fleet, other_id)
    assert tracker_events(fleet, conversation_id) > 0 and kept > 0

    token = await sign_in(app.url)
    _, case = await http_json("GET", f"{app.url}/api/cases/{conversation_id}", token=token)
    status, body = await http_json("DELETE", f"{app.url}/api/contacts/{case['case']['customer_id']}", token=token)
    assert status == 200, body
    assert body["deleted"]["rows"]["rasa_trackers"] > 0
    assert tracker_events(fleet, conversation_id) == 0
    assert tracker_events(fleet, other_id) == kept  # another contact's dialogue is untouched
    await customer.close()
    await other.close()


def test_the_trackers_live_beside_the_apps_database(tmp_path: Path) -> None:
    sqlite = tracker_store_for(f"sqlite+aiosqlite:///{tmp_path}/casedesk.db")
    assert (sqlite.kind, sqlite.url) == ("sql", f"sqlite:///{tmp_path}/casedesk-rasa-trackers.db")
    assert sqlite.rasa_env() == {"CASEDESK_TRACKER_URL": sqlite.url} and sqlite.endpoints == "bot/endpoints.yml"
    postgres = tracker_store_for("postgresql+asyncpg://casedesk:secret@db:5432/casedesk")
    assert postgres.rasa_env() == {"CASEDESK_TRACKER_URL": "postgresql://casedesk:secret@db:5432/casedesk",
                                   "POSTGRESQL_SCHEMA": "rasa"}
    redis = tracker_store_for("postgresql+asyncpg://db/casedesk", "redis://:pw@cache:6380/2")
    assert redis.endpoints == "bot/endpoints-redis.yml" and redis.shared
    assert redis.rasa_env() == {"CASEDESK_REDIS_HOST": "cache", "CASEDESK_REDIS_PORT": "6380", "CASEDESK_REDIS_DB": "2",
                                "CASEDESK_REDIS_PASSWORD": "pw", "CASEDESK_REDIS_KEY_PREFIX": "casedesk"}
    with pytest.raises(ValueError, match="Redis"):
        RasaFleet(2, 0, "t", "a", sqlite, tmp_path)
