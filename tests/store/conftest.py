"""Fixtures of the store tests: a store on each database (`database_url`: a real SQLite file and a real
PostgreSQL database), and the cases wired on it (`handoff.cases.desk`)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest
import socketio

from handoff.cases.conversations import Conversations
from handoff.cases.desk import Desk, open_desk
from handoff.cases.rasa_bridge import RasaBridge
from handoff.settings import load_settings
from handoff.store.records import (
    Status,
)
from handoff.store.sql import SqlCaseStore

STATUSES = [Status.BOT, Status.QUEUED, Status.WITH_AGENT, Status.RESOLVED, Status.ABANDONED,
            Status.CANCELLED]


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[SqlCaseStore]:
    store = await SqlCaseStore.open(database_url)
    yield store
    await store.close()


@pytest.fixture
async def desk(store: SqlCaseStore) -> AsyncIterator[Desk]:
    async with aiohttp.ClientSession() as http:
        settings = load_settings(None, {})
        sio = socketio.AsyncServer(async_mode="aiohttp")
        desk = open_desk(store, sio, RasaBridge(http, "http://127.0.0.1:9", 1), settings)
        yield desk
        desk.background.cancel()


@pytest.fixture
def conversations(desk: Desk) -> Conversations:
    return desk.conversations
