"""The case store and the lifecycle's one owner of status changes, on both stores: every test here that
takes `store` (or `conversations`) runs on a real SQLite file and on a real PostgreSQL database
(`database_url` in tests/conftest.py)."""

from __future__ import annotations

import asyncio
import itertools
from datetime import timedelta

import aiohttp
import pytest
import socketio

from handoff.cases import lifecycle
from handoff.cases.conversations import Conversations
from handoff.cases.desk import open_desk
from handoff.cases.rasa_bridge import RasaBridge
from handoff.errors import ApiError
from handoff.settings import load_settings
from handoff.staff.accounts import AgentAuth
from handoff.staff.roster import StaffAccounts
from handoff.store.records import (
    CLOSED,
    AlreadyExists,
    StaleStatus,
    Status,
    Survey,
    utcnow,
)
from handoff.store.sql import SqlCaseStore
from handoff.surveys.questions import Answers

STATUSES = [Status.BOT, Status.QUEUED, Status.WITH_AGENT, Status.RESOLVED, Status.ABANDONED,
            Status.CANCELLED]


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
    conversations: Conversations, staff: StaffAccounts, current: str, target: str
) -> None:
    agent = await staff.add("sam", "long enough password")
    conversation, _ = await conversations.start("web", "en", None)
    path = {  # how to reach each status from a new conversation
        Status.BOT: [], Status.QUEUED: [Status.QUEUED],
        Status.WITH_AGENT: [Status.QUEUED, Status.WITH_AGENT],
        Status.RESOLVED: [Status.RESOLVED], Status.ABANDONED: [Status.QUEUED, Status.ABANDONED],
        Status.CANCELLED: [Status.CANCELLED],
    }[current]
    for step in path:
        conversation = await conversations.transition(conversation, step, reason="setup", actor="t", agent=agent)
    events_before = await conversations.store.events(conversation.id)

    if lifecycle.allowed(current, target):
        changed = await conversations.transition(conversation, target, reason="test", actor="t", agent=agent)
        assert changed.status == target
        assert (await conversations.store.events(conversation.id))[-1].to_status == target
        expected_resolution = {Status.RESOLVED: "agent" if current == Status.WITH_AGENT else "bot",
                               Status.ABANDONED: "abandoned", Status.CANCELLED: "cancelled"}.get(target)
        assert changed.resolution == expected_resolution
        assert (changed.closed_at is not None) == (target in CLOSED)
        assert changed.state == {Status.RESOLVED: "resolved", Status.ABANDONED: "cancelled",
                                 Status.CANCELLED: "cancelled"}.get(target, "active")
    else:
        with pytest.raises(ApiError) as refused:
            await conversations.transition(conversation, target, reason="test", actor="t", agent=agent)
        assert refused.value.code == "conflict"
        assert await conversations.store.events(conversation.id) == events_before
        assert (await conversations.get(conversation.id)).status == current


async def test_resolution_posts_the_survey_once(conversations: Conversations) -> None:
    conversation, _ = await conversations.start("web", "en", None)
    with pytest.raises(ApiError, match="resolved"):
        await conversations.answer_survey(conversation.id, Answers(5))
    await conversations.transition(conversation, Status.RESOLVED, reason="answer_helped", actor="bot")
    [survey_message] = await conversations.store.messages_after(conversation.id)
    assert survey_message.data == {"kind": "survey", "scale": [1, 5],
                                   "questions": [{"id": "satisfaction", "scale": [1, 5]}, {"id": "comment"}]}
    await conversations.answer_survey(conversation.id, Answers(3, "ok"))
    with pytest.raises(ApiError, match="answered already"):
        await conversations.answer_survey(conversation.id, Answers(5), via="link")
    with pytest.raises(AlreadyExists):
        await conversations.store.add_survey(conversation.id, 1, None, None)
    stored = await conversations.store.survey(conversation.id)
    assert stored is not None and (stored.rating, stored.comment, stored.answered_via) == (3, "ok", "chat")


async def test_one_survey_answer_per_case_across_processes(database_url: str, conversations: Conversations) -> None:
    """Two stores on one database, as two app processes have: answers racing for one case store one."""
    other = await SqlCaseStore.open(database_url)
    try:
        cases = [(await conversations.start("web", "en", None))[0] for _ in range(10)]
        results = await asyncio.gather(*(
            store.add_survey(case.id, rating, None, None, nps=rating, answered_via=via)
            for case in cases for store, rating, via in ((conversations.store, 1, "chat"), (other, 5, "link"))
        ), return_exceptions=True)
        for case, pair in zip(cases, zip(results[::2], results[1::2], strict=True), strict=True):
            assert sorted(type(r).__name__ for r in pair) == ["AlreadyExists", "Survey"], pair
            [won] = [r for r in pair if isinstance(r, Survey)]
            assert await other.survey(case.id) == won
    finally:
        await other.close()


async def test_the_app_makes_each_key_once_across_processes(database_url: str, store: SqlCaseStore) -> None:
    other = await SqlCaseStore.open(database_url)
    try:
        assert await store.app_key("survey_links") is None  # looking makes nothing
        made = iter(f"key-{i}" for i in range(100))
        values = await asyncio.gather(*(s.app_key("survey_links", lambda: next(made))
                                        for _ in range(10) for s in (store, other)))
        assert len(set(values)) == 1 and values[0] is not None and values[0].startswith("key-")
        assert await other.app_key("survey_links") == values[0]
        assert await store.app_key("survey_links", lambda: "another") == values[0]
    finally:
        await other.close()


async def test_agent_sign_in(auth: AgentAuth, staff: StaffAccounts) -> None:
    generated = await staff.ensure_first("agent", None)
    assert generated and len(generated) >= 12
    assert await staff.ensure_first("agent", None) is None  # only when there is no agent
    token, agent = await auth.login("agent", generated)
    assert (await auth.authenticate(token)).id == agent.id
    assert "scrypt$" in agent.password_hash and generated not in agent.password_hash
    for username, password in (("agent", "wrong"), ("ghost", generated)):
        with pytest.raises(ApiError, match="wrong username or password"):
            await auth.login(username, password)
    with pytest.raises(ApiError, match="at least 12"):
        await staff.add("short", "12345678901")
    with pytest.raises(ApiError, match="exists"):
        await staff.add("agent", "another long password")
    await auth.logout(token)
    with pytest.raises(ApiError, match="invalid or expired"):
        await auth.authenticate(token)


async def test_expired_agent_session_is_refused(store: SqlCaseStore, auth: AgentAuth, staff: StaffAccounts) -> None:
    await staff.add("kim", "long enough password")
    agent = await store.agent_by_username("kim")
    assert agent is not None
    from handoff.staff.accounts import token_digest

    await store.add_session(token_digest("old-token"), agent.id, utcnow() - timedelta(seconds=1))
    with pytest.raises(ApiError, match="invalid or expired"):
        await auth.authenticate("old-token")


async def test_sweep_abandons_left_customers_and_resolves_idle_bot_conversations(store: SqlCaseStore) -> None:
    async with aiohttp.ClientSession() as http:
        settings = load_settings(None, {}, abandon_after_seconds=0.01, bot_idle_seconds=0.01)
        desk = open_desk(store, socketio.AsyncServer(async_mode="aiohttp"), RasaBridge(http, "http://127.0.0.1:9", 1),
                         settings)
        conversations = desk.conversations
        waiting, _ = await conversations.start("web", "en", None)
        waiting = await conversations.transition(waiting, Status.QUEUED, reason="customer_request", actor="bot")
        present, _ = await conversations.start("web", "en", None)
        present = await conversations.transition(present, Status.QUEUED, reason="customer_request", actor="bot")
        await desk.presence.customer_joined(present.id, "sid-1")
        idle, _ = await conversations.start("web", "en", None)
        await desk.sweeper.sweep()  # first sweep after a restart starts the clock
        await asyncio.sleep(0.05)
        await desk.sweeper.sweep()
        assert (await conversations.get(waiting.id)).status == Status.ABANDONED
        assert (await conversations.get(present.id)).status == Status.QUEUED
        idle = await conversations.get(idle.id)
        assert (idle.status, idle.resolution) == (Status.RESOLVED, "bot")
        assert (await store.events(idle.id))[-1].reason == "idle"
