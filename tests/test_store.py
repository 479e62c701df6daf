"""The case store and the lifecycle's one owner of status changes, on a real SQLite file."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import aiohttp
import pytest
import socketio

from handoff import lifecycle
from handoff.agents import AgentAuth
from handoff.conversations import Conversations
from handoff.errors import ApiError
from handoff.rasa_bridge import RasaBridge
from handoff.settings import load_settings
from handoff.store import AlreadyExists, SqlCaseStore, StaleStatus, utcnow

STATUSES = [lifecycle.BOT, lifecycle.QUEUED, lifecycle.WITH_AGENT, lifecycle.RESOLVED, lifecycle.ABANDONED,
            lifecycle.CANCELLED]


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqlCaseStore]:
    store = await SqlCaseStore.open(f"sqlite+aiosqlite:///{tmp_path / 'cases.db'}")
    yield store
    await store.close()


@pytest.fixture
async def conversations(store: SqlCaseStore) -> AsyncIterator[Conversations]:
    async with aiohttp.ClientSession() as http:
        settings = load_settings(None, {})
        sio = socketio.AsyncServer(async_mode="aiohttp")
        yield Conversations(store, sio, RasaBridge(http, "http://127.0.0.1:9", 1), settings)


async def test_concurrent_messages_get_contiguous_sequence_numbers(conversations: Conversations) -> None:
    conversation, _ = await conversations.start("web", "en", None)
    store = conversations.store
    stored = await asyncio.gather(*(
        store.append_message(conversation.id, sender="customer", sender_name="C", text=f"m{i}") for i in range(40)
    ))
    assert sorted(p.message.seq for p in stored) == list(range(1, 41))
    after = await store.messages_after(conversation.id, 30)
    assert [m.seq for m in after] == list(range(31, 41))
    assert (await store.conversation(conversation.id)).last_seq == 40  # type: ignore[union-attr]


async def test_status_change_is_compare_and_set(conversations: Conversations) -> None:
    conversation, _ = await conversations.start("web", "en", None)
    store = conversations.store
    await store.change_status(conversation.id, expected="bot", status="queued", reason="r", actor="t", fields={})
    with pytest.raises(StaleStatus):
        await store.change_status(conversation.id, expected="bot", status="resolved", reason="r", actor="t", fields={})
    assert [e.to_status for e in await store.events(conversation.id)] == ["bot", "queued"]


@pytest.mark.parametrize(("current", "target"), list(itertools.product(STATUSES, STATUSES)))
async def test_every_transition_is_allowed_or_refused_by_the_table(
    conversations: Conversations, current: str, target: str
) -> None:
    auth = AgentAuth(conversations.store, 1)
    agent = await auth.add("sam", "long enough password")
    conversation, _ = await conversations.start("web", "en", None)
    path = {  # how to reach each status from a new conversation
        lifecycle.BOT: [], lifecycle.QUEUED: [lifecycle.QUEUED],
        lifecycle.WITH_AGENT: [lifecycle.QUEUED, lifecycle.WITH_AGENT],
        lifecycle.RESOLVED: [lifecycle.RESOLVED], lifecycle.ABANDONED: [lifecycle.QUEUED, lifecycle.ABANDONED],
        lifecycle.CANCELLED: [lifecycle.CANCELLED],
    }[current]
    for step in path:
        conversation = await conversations._transition(conversation, step, reason="setup", actor="t", agent=agent)
    events_before = await conversations.store.events(conversation.id)

    if lifecycle.allowed(current, target):
        changed = await conversations._transition(conversation, target, reason="test", actor="t", agent=agent)
        assert changed.status == target
        assert (await conversations.store.events(conversation.id))[-1].to_status == target
        expected_resolution = {lifecycle.RESOLVED: "agent" if current == lifecycle.WITH_AGENT else "bot",
                               lifecycle.ABANDONED: "abandoned", lifecycle.CANCELLED: "cancelled"}.get(target)
        assert changed.resolution == expected_resolution
        assert (changed.closed_at is not None) == (target in lifecycle.CLOSED)
        assert changed.state == {lifecycle.RESOLVED: "resolved", lifecycle.ABANDONED: "cancelled",
                                 lifecycle.CANCELLED: "cancelled"}.get(target, "active")
    else:
        with pytest.raises(ApiError) as refused:
            await conversations._transition(conversation, target, reason="test", actor="t", agent=agent)
        assert refused.value.code == "conflict"
        assert await conversations.store.events(conversation.id) == events_before
        assert (await conversations.get(conversation.id)).status == current


async def test_resolution_posts_the_survey_once(conversations: Conversations) -> None:
    conversation, _ = await conversations.start("web", "en", None)
    with pytest.raises(ApiError, match="resolved"):
        await conversations.answer_survey(conversation.id, 5, None)
    await conversations._transition(conversation, lifecycle.RESOLVED, reason="answer_helped", actor="bot")
    [survey_message] = await conversations.store.messages_after(conversation.id)
    assert survey_message.data == {"kind": "survey", "scale": [1, 5]}
    await conversations.answer_survey(conversation.id, 3, "ok")
    with pytest.raises(ApiError, match="answered already"):
        await conversations.answer_survey(conversation.id, 5, None)
    with pytest.raises(AlreadyExists):
        await conversations.store.add_survey(conversation.id, 1, None, None)


async def test_agent_sign_in(store: SqlCaseStore) -> None:
    auth = AgentAuth(store, session_hours=1)
    generated = await auth.ensure_first_agent("agent", None)
    assert generated and len(generated) >= 12
    assert await auth.ensure_first_agent("agent", None) is None  # only when there is no agent
    token, agent = await auth.login("agent", generated)
    assert (await auth.authenticate(token)).id == agent.id
    assert "scrypt$" in agent.password_hash and generated not in agent.password_hash
    for username, password in (("agent", "wrong"), ("ghost", generated)):
        with pytest.raises(ApiError, match="wrong username or password"):
            await auth.login(username, password)
    with pytest.raises(ValueError, match="at least 8"):
        await auth.add("short", "1234567")
    with pytest.raises(ValueError, match="exists"):
        await auth.add("agent", "another long password")
    await auth.logout(token)
    with pytest.raises(ApiError, match="invalid or expired"):
        await auth.authenticate(token)


async def test_expired_agent_session_is_refused(store: SqlCaseStore) -> None:
    auth = AgentAuth(store, session_hours=1)
    await auth.add("kim", "long enough password")
    agent = await store.agent_by_username("kim")
    assert agent is not None
    from handoff.agents import token_digest

    await store.add_session(token_digest("old-token"), agent.id, utcnow() - timedelta(seconds=1))
    with pytest.raises(ApiError, match="invalid or expired"):
        await auth.authenticate("old-token")


async def test_sweep_abandons_left_customers_and_resolves_idle_bot_conversations(store: SqlCaseStore) -> None:
    async with aiohttp.ClientSession() as http:
        settings = load_settings(None, {}, abandon_after_seconds=0.01, bot_idle_seconds=0.01)
        conversations = Conversations(store, socketio.AsyncServer(async_mode="aiohttp"),
                                      RasaBridge(http, "http://127.0.0.1:9", 1), settings)
        waiting, _ = await conversations.start("web", "en", None)
        waiting = await conversations._transition(waiting, lifecycle.QUEUED, reason="customer_request", actor="bot")
        present, _ = await conversations.start("web", "en", None)
        present = await conversations._transition(present, lifecycle.QUEUED, reason="customer_request", actor="bot")
        await conversations.customer_joined(present.id, "sid-1")
        idle, _ = await conversations.start("web", "en", None)
        await conversations.sweep()  # first sweep after a restart starts the clock
        await asyncio.sleep(0.05)
        await conversations.sweep()
        assert (await conversations.get(waiting.id)).status == lifecycle.ABANDONED
        assert (await conversations.get(present.id)).status == lifecycle.QUEUED
        idle = await conversations.get(idle.id)
        assert (idle.status, idle.resolution) == (lifecycle.RESOLVED, "bot")
        assert (await store.events(idle.id))[-1].reason == "idle"
