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
from handoff.staff.accounts import AgentAuth
from handoff.staff.passwords import PasswordHasher
from handoff.staff.roster import StaffAccounts
from handoff.store.records import (
    Status,
)
from handoff.store.sql import SqlCaseStore
from harness.servers import TEST_HASH_COST

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


@pytest.fixture
def auth(store: SqlCaseStore) -> AgentAuth:
    """Sign-in on the store, at the tests' hashing cost (harness.servers.TEST_HASH_COST)."""
    return AgentAuth(store, 1, PasswordHasher(TEST_HASH_COST))


@pytest.fixture
def staff(store: SqlCaseStore, auth: AgentAuth) -> StaffAccounts:
    """The owner of every account change, on the store."""
    return StaffAccounts(store, auth)
