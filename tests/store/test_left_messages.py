"""A message a customer left while waiting keeps their case queued though they are away, for
`left_message_days` after it, not for ever: then the sweep abandons it like the others."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import aiohttp
import pytest
import socketio

from handoff.cases.desk import Desk, open_desk
from handoff.cases.rasa_bridge import RasaBridge
from handoff.settings import load_settings
from handoff.store.records import Status
from handoff.store.sql import SqlCaseStore

WINDOW = 2.0  # seconds a left message keeps its case


@pytest.fixture
async def sweeping(store: SqlCaseStore) -> AsyncIterator[Desk]:
    async with aiohttp.ClientSession() as http:
        settings = load_settings(None, {}, abandon_after_seconds=0.01, left_message_days=WINDOW / 86400)
        desk = open_desk(store, socketio.AsyncServer(async_mode="aiohttp"), RasaBridge(http, "http://127.0.0.1:9", 1),
                         settings)
        yield desk
        desk.background.cancel()


async def status_after_sweeps(desk: Desk, conversation_id: str, wanted: Status, within: float) -> float:
    """Sweep until the case has ``wanted``; the seconds it took."""
    began = time.monotonic()
    while (await desk.conversations.get(conversation_id)).status != wanted:
        assert time.monotonic() - began < within, f"not {wanted} after {within} s"
        await desk.sweeper.sweep()
        await asyncio.sleep(0.05)
    return time.monotonic() - began


async def test_a_left_message_keeps_the_case_for_its_window_then_it_is_abandoned(sweeping: Desk) -> None:
    conversations = sweeping.conversations
    cases = []
    for _ in range(2):
        started, _ = await conversations.start("web", "en", None)
        cases.append(await conversations.transition(started, Status.QUEUED, reason="customer_request", actor="bot"))
    silent, wrote = cases
    await sweeping.sweeper.sweep()  # the first sweep after a start starts the customers' clocks
    await conversations.customer_message(wrote.id, "Customer", "Please call me back tomorrow.", None)
    written = time.monotonic()
    await status_after_sweeps(sweeping, silent.id, Status.ABANDONED, within=10)
    assert time.monotonic() - written < WINDOW, "the machine was too slow to see the window"
    assert (await conversations.get(wrote.id)).status == Status.QUEUED  # its message keeps it
    await status_after_sweeps(sweeping, wrote.id, Status.ABANDONED, within=WINDOW + 10)
    assert time.monotonic() - written >= WINDOW
    assert (await conversations.store.events(wrote.id))[-1].reason == "customer_left"
