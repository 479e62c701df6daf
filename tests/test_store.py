"""The case store and the lifecycle's one owner of status changes, on both stores: every test here that
takes `store` (or `conversations`) runs on a real SQLite file and on a real PostgreSQL database
(`database_url` in tests/conftest.py)."""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import AsyncIterator
from datetime import timedelta

import aiohttp
import pytest
import socketio

from handoff.cases import lifecycle
from handoff.cases.conversations import Conversations
from handoff.cases.desk import Desk, open_desk
from handoff.cases.rasa_bridge import RasaBridge
from handoff.contacts.directory import Contacts
from handoff.errors import ApiError
from handoff.privacy import erasure
from handoff.settings import load_settings
from handoff.staff.accounts import AgentAuth
from handoff.store.privacy import OpenCases
from handoff.store.records import (
    CLOSED,
    AlreadyExists,
    Conversation,
    Entitlement,
    Identity,
    StaleStatus,
    Status,
    Survey,
    utcnow,
)
from handoff.store.sql import SqlCaseStore
from handoff.surveys.questions import Answers

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


# -- contacts, accounts and entitlements ------------------------------------------------------------

def known(external_id: str, name: str | None = None, email: str | None = None) -> Identity:
    return Identity(external_id, name, email)


async def test_a_known_customer_is_recognised_on_every_start(conversations: Conversations) -> None:
    first, _ = await conversations.start("web", "en", None, identity=known("shop-42", "Dana", "dana@example.com"))
    second, _ = await conversations.start("mobile", "de", "ignored", identity=known("shop-42", "Dana K."))
    other, _ = await conversations.start("web", "en", None, identity=known("shop-43"))
    assert first.customer_id == second.customer_id != other.customer_id
    contact = await conversations.store.contact(first.customer_id)
    assert contact is not None
    # the claims keep the contact up to date; an e-mail the token leaves out stays
    assert (contact.external_id, contact.display_name, contact.email) == ("shop-42", "Dana K.", "dana@example.com")
    assert (await conversations.get(second.id)).customer_name == "Dana K."
    assert [c.id for c in await conversations.earlier_cases(second)] == [first.id]


async def test_an_anonymous_contact_becomes_known_or_is_merged_when_the_customer_signs_in(
    conversations: Conversations,
) -> None:
    store = conversations.store
    # New identity: the anonymous contact of the earlier conversation is given it.
    anonymous, token = await conversations.start("web", "en", "Guest")
    signed_in, _ = await conversations.start("web", "en", None, earlier_token=token, identity=known("shop-1"))
    assert signed_in.customer_id == anonymous.customer_id
    assert (await store.contact(anonymous.customer_id)).external_id == "shop-1"  # type: ignore[union-attr]

    # Known identity: a second anonymous contact (another device) is merged into the known one.
    device_case, device_token = await conversations.start("mobile", "en", None)
    device_case = await conversations.transition(device_case, Status.QUEUED, reason="customer_request",
                                                  actor="bot")
    again, _ = await conversations.start("mobile", "en", None, earlier_token=device_token, identity=known("shop-1"))
    assert again.customer_id == anonymous.customer_id
    assert await store.contact(device_case.customer_id) is None
    moved = await conversations.get(device_case.id)
    assert moved.customer_id == anonymous.customer_id and moved.status == Status.QUEUED
    assert [(e.reason, e.actor, e.from_status) for e in (await store.events(moved.id))][-1] == (
        "contact_merged", "customer", Status.QUEUED)
    assert {c.id for c in await store.customer_conversations(anonymous.customer_id)} == {
        anonymous.id, signed_in.id, device_case.id, again.id}

    # A known contact's earlier token with another identity: that identity's own contact, no merge.
    _, known_token = await conversations.start("web", "en", None, identity=known("shop-1"))
    stranger, _ = await conversations.start("web", "en", None, earlier_token=known_token, identity=known("shop-2"))
    assert stranger.customer_id != anonymous.customer_id
    assert (await store.contact(anonymous.customer_id)).external_id == "shop-1"  # type: ignore[union-attr]


async def test_merging_by_hand_keeps_the_known_contact_and_refuses_two_known(conversations: Conversations) -> None:
    contacts = Contacts(conversations)
    store = conversations.store
    known_case, _ = await conversations.start("web", "en", None, identity=known("shop-7", email="k@example.com"))
    guest_case, _ = await conversations.start("web", "en", "Guest")
    await store.update_contact(guest_case.customer_id, preferred=True)
    entitlement = await contacts.add_entitlement(contact_id=guest_case.customer_id, account_id=None, name="Silver",
                                                 starts_at=None, ends_at=None)
    # merging the known contact "into" the guest keeps the known one all the same
    assert await contacts.merge(known_case.customer_id, guest_case.customer_id, "agent:sam") == 1
    kept = await store.contact(known_case.customer_id)
    assert kept is not None and kept.preferred and kept.email == "k@example.com"
    assert await store.contact(guest_case.customer_id) is None
    assert (await store.entitlement(entitlement.id)).customer_id == kept.id  # type: ignore[union-attr]
    assert (await conversations.get(guest_case.id)).customer_id == kept.id

    other, _ = await conversations.start("web", "en", None, identity=known("shop-8"))
    with pytest.raises(ApiError, match="different people") as refused:
        await contacts.merge(other.customer_id, kept.id, "agent:sam")
    assert refused.value.code == "conflict"
    with pytest.raises(ApiError, match="itself"):
        await contacts.merge(kept.id, kept.id, "agent:sam")
    with pytest.raises(ApiError) as missing:
        await contacts.merge("u_nobody", kept.id, "agent:sam")
    assert missing.value.code == "not_found"


async def test_entitlements_apply_through_the_account_hierarchy_and_their_dates(conversations: Conversations) -> None:
    contacts = Contacts(conversations)
    store = conversations.store
    now = utcnow()
    group = await contacts.add_account("Hearthwood Group", None)
    company = await contacts.add_account("Hearthwood Berlin", group.id)
    branch = await contacts.add_account("Hearthwood Berlin Mitte", company.id)
    case, _ = await conversations.start("web", "en", None)
    customer = case.customer_id
    assert await store.active_entitlement(customer, now) is None
    await contacts.update_contact(customer, {"account_id": branch.id})
    await contacts.add_entitlement(contact_id=None, account_id=group.id, name="Group gold",
                                   starts_at=now + timedelta(days=1), ends_at=None)
    assert await store.active_entitlement(customer, now) is None  # not started yet
    assert await store.active_entitlement(customer, now + timedelta(days=2)) == "Group gold"
    expired = await contacts.add_entitlement(contact_id=customer, account_id=None, name="Trial",
                                             starts_at=None, ends_at=now - timedelta(seconds=1))
    assert await store.active_entitlement(customer, now) is None  # ended
    await contacts.add_entitlement(contact_id=None, account_id=company.id, name="Company silver",
                                   starts_at=now - timedelta(days=1), ends_at=now + timedelta(days=1))
    assert await store.active_entitlement(customer, now) == "Company silver"
    detail = await contacts.contact_detail(customer)
    assert [a["name"] for a in detail["accounts"]] == [
        "Hearthwood Berlin Mitte", "Hearthwood Berlin", "Hearthwood Group"]
    assert [(e["name"], e["active"]) for e in detail["entitlements"]] == [
        ("Group gold", False), ("Trial", False), ("Company silver", True)]
    account = await contacts.account_detail(company.id)
    assert ([a["name"] for a in account["parents"]], [a["name"] for a in account["children"]]) == (
        ["Hearthwood Group"], ["Hearthwood Berlin Mitte"])
    await contacts.remove_entitlement(expired.id)

    for fields, message in (({"parent_id": branch.id}, "child accounts"), ({"parent_id": group.id}, "child accounts")):
        with pytest.raises(ApiError, match=message) as cycle:
            await contacts.update_account(group.id, fields)
        assert cycle.value.code == "conflict"
    with pytest.raises(ApiError, match="exactly one"):
        await contacts.add_entitlement(contact_id=customer, account_id=group.id, name="x", starts_at=None, ends_at=None)
    with pytest.raises(ApiError, match="after starts_at"):
        await contacts.add_entitlement(contact_id=customer, account_id=None, name="x", starts_at=now, ends_at=now)


async def test_an_entitlement_gives_waiting_cases_high_priority_at_once(conversations: Conversations) -> None:
    contacts = Contacts(conversations)
    company = await contacts.add_account("Velora Fleet", None)
    case, _ = await conversations.start("web", "en", None)
    await contacts.update_contact(case.customer_id, {"account_id": company.id})
    case = await conversations.transition(case, Status.QUEUED, reason="customer_request", actor="bot")
    assert (case.priority, case.entitlement) == ("normal", None)
    entitlement = await contacts.add_entitlement(contact_id=None, account_id=company.id, name="Fleet",
                                                 starts_at=None, ends_at=None)
    queued = await conversations.get(case.id)
    assert (queued.priority, queued.entitlement) == ("high", "Fleet")
    await contacts.remove_entitlement(entitlement.id)
    assert ((await conversations.get(case.id)).priority, (await conversations.get(case.id)).entitlement) == (
        "normal", None)


async def test_a_case_has_a_title_a_status_reason_and_a_cancellation(conversations: Conversations) -> None:
    auth = AgentAuth(conversations.store, 1)
    agent = await auth.add("sam", "long enough password", roles=frozenset({"agent", "supervisor"}))
    case, _ = await conversations.start("web", "en", None)
    assert (case.title, case.status_reason, case.state) == (None, "with_bot", "active")
    store = conversations.store
    await store.append_message(case.id, sender="customer", sender_name="C", text="/affirm", data={"payload": "/affirm"})
    await store.append_message(case.id, sender="customer", sender_name="C",
                               text="  The   legs of my Oslo table wobble " + "and wobble " * 20)
    await store.append_message(case.id, sender="customer", sender_name="C", text="second message")
    case = await conversations.transition(await conversations.get(case.id), Status.QUEUED,
                                           reason="customer_request", actor="bot")
    assert case.title is not None and case.title.startswith("The legs of my Oslo table wobble and")
    assert len(case.title) <= 121 and case.title.endswith("…")
    case = await conversations.transition(case, Status.WITH_AGENT, reason="accepted", actor="t", agent=agent)
    await store.append_message(case.id, sender="agent", sender_name="Sam", text="Which model?")
    assert (await conversations.get(case.id)).status_reason == "waiting_for_customer"
    await store.append_message(case.id, sender="customer", sender_name="C", text="Oslo 2")
    assert (await conversations.get(case.id)).status_reason == "with_agent"

    with pytest.raises(ApiError, match="reason"):
        await conversations.cancel(agent, case.id, "bored")
    cancelled = await conversations.cancel(agent, case.id, "duplicate")
    assert (cancelled.status, cancelled.status_reason, cancelled.state, cancelled.resolution) == (
        Status.CANCELLED, "cancelled", "cancelled", "cancelled")
    assert (await store.events(case.id))[-1].reason == "cancelled_duplicate"
    messages = await store.messages_after(case.id)
    assert messages[-1].data == {"kind": "cancelled"}  # and no survey
    with pytest.raises(ApiError, match="already") as again:
        await conversations.cancel(agent, case.id, "spam")
    assert again.value.code == "conflict"


# -- privacy: retention, a contact's export and deletion (handoff/store/privacy.py) ------------------------

def _entitlement(entitlement_id: str, customer_id: str, name: str) -> Entitlement:
    return Entitlement(entitlement_id, customer_id, None, name, None, None, utcnow())


async def _full_case(conversations: Conversations, *, closed_days_ago: float | None = None,
                     earlier_token: str | None = None, name: str = "Dana") -> tuple[Conversation, str]:
    """A case with everything a case has: messages from the customer, the bot, an agent and a note, its
    timeline, an article shown, and (when closed) the survey answer; closed ``closed_days_ago``."""
    store = conversations.store
    case, token = await conversations.start("web", "en", name, earlier_token)
    await store.append_message(case.id, sender="customer", sender_name=name, text="where is my order?")
    await store.append_message(case.id, sender="bot", sender_name="bot", text="Here is how to track it",
                               data={"kind": "answer"})
    await store.add_case_articles(case.id, 2, ["bike-order-tracking"])
    await store.append_message(case.id, sender="agent", sender_name="Sam", text="It ships today")
    await store.append_message(case.id, sender="note", sender_name="Sam", text="asked twice before",
                               data={"kind": "note"})
    if closed_days_ago is not None:
        case = await conversations.transition(case, Status.RESOLVED, reason="answer_helped", actor="bot")
        await store.add_survey(case.id, 4, f"thanks from {name}", None)
        await store.update_conversation(case.id, closed_at=utcnow() - timedelta(days=closed_days_ago))
    return case, token


async def _gone(store: SqlCaseStore, case_id: str) -> bool:
    """Nothing of the case is left: no row, messages, timeline, articles or survey."""
    return (await store.conversation(case_id) is None and await store.messages_after(case_id) == []
            and await store.events(case_id) == [] and await store.case_articles(case_id) == []
            and await store.survey(case_id) is None)


async def _whole(store: SqlCaseStore, case_id: str) -> bool:
    return (await store.conversation(case_id) is not None and len(await store.messages_after(case_id)) >= 4
            and len(await store.events(case_id)) >= 1 and len(await store.case_articles(case_id)) == 1)


async def test_retention_deletes_cases_closed_long_ago_with_everything_of_theirs(conversations: Conversations) -> None:
    store = conversations.store
    old, _ = await _full_case(conversations, closed_days_ago=40)  # its contact has no other case: goes too
    kept_contact_old, token = await _full_case(conversations, closed_days_ago=41)
    recent, _ = await _full_case(conversations, closed_days_ago=3, earlier_token=token)  # keeps the contact
    open_old, open_token = await _full_case(conversations)  # open (with the bot) for 50 days
    await store.update_conversation(open_old.id, created_at=utcnow() - timedelta(days=50),
                                    last_activity_at=utcnow() - timedelta(days=50))
    closed_beside_open, _ = await _full_case(conversations, closed_days_ago=45, earlier_token=open_token)
    # An open case never goes, whatever its closed_at says.
    odd, _ = await _full_case(conversations)
    await store.update_conversation(odd.id, closed_at=utcnow() - timedelta(days=90))
    known, _ = await _full_case(conversations, closed_days_ago=60)
    await store.update_contact(known.customer_id, external_id="shop-user-17")
    entitled, _ = await _full_case(conversations, closed_days_ago=60)
    await store.add_entitlement(_entitlement("e_1", entitled.customer_id, "Gold support"))

    deleted = await store.delete_cases_closed_before(utcnow() - timedelta(days=30), batch=2)

    assert deleted.cases == 5 and deleted.contacts == 1
    assert deleted.rows["messages"] == 5 * 5 and deleted.rows["surveys"] == 5 and deleted.rows["case_articles"] == 5
    for case in (old, kept_contact_old, closed_beside_open, known, entitled):
        assert await _gone(store, case.id), case.number
    for case in (recent, open_old, odd):
        assert await _whole(store, case.id), case.number
    assert await store.customer_conversations(old.customer_id) == []
    # the anonymous contact left without cases is gone; the known one, the entitled one and those with
    # cases left stay (a later case of a deleted contact starts a new contact)
    assert [c.id for c in await store.customer_conversations(recent.customer_id)] == [recent.id]
    assert await store.active_entitlement(entitled.customer_id, utcnow()) == "Gold support"
    assert (await store.delete_contact(known.customer_id)).contacts == 1  # was still there
    with pytest.raises(KeyError):
        await store.delete_contact(old.customer_id)

    again = await erasure.apply_retention(store, 30)
    assert (again.cases, again.contacts) == (0, 0)
    assert (await erasure.apply_retention(store, 0, utcnow() + timedelta(days=9999))).cases == 0  # 0: keep
    assert (await erasure.apply_retention(store, 2)).cases == 1  # the recent one, 3 days ago
    assert await _gone(store, recent.id)


async def test_contact_export_holds_everything_stored_about_the_contact(conversations: Conversations) -> None:
    store = conversations.store
    first, token = await _full_case(conversations, closed_days_ago=5, name="Jo")
    second, _ = await _full_case(conversations, earlier_token=token, name="Jo")
    other, _ = await _full_case(conversations, closed_days_ago=5, name="Someone else")
    await store.add_account("acc_1", "Velora Fleet GmbH", None)
    await store.update_contact(first.customer_id, email="jo@example.com", external_id="shop-7", account_id="acc_1")
    await store.add_entitlement(_entitlement("e_2", first.customer_id, "Gold support"))

    document = await erasure.export_contact(store, first.customer_id)
    json.dumps(document)  # one JSON document
    contact = document["contact"]
    assert (contact["id"], contact["display_name"], contact["email"], contact["external_id"],
            contact["account_id"]) == (first.customer_id, "Jo", "jo@example.com", "shop-7", "acc_1")
    assert [e["name"] for e in document["entitlements"]] == ["Gold support"]
    assert [c["id"] for c in document["cases"]] == [first.id, second.id]
    exported = document["cases"][0]
    assert "token_hash" not in exported and exported["status"] == "resolved" and exported["closed_at"]
    assert [(m["sender"], m["text"]) for m in exported["messages"]][:4] == [
        ("customer", "where is my order?"), ("bot", "Here is how to track it"), ("agent", "It ships today"),
        ("note", "asked twice before")]  # private notes included: they are about the person
    assert exported["messages"][1]["data"] == {"kind": "answer"}
    assert [e["reason"] for e in exported["case_events"]] == ["conversation_started", "answer_helped"]
    assert [a["article_id"] for a in exported["case_articles"]] == ["bike-order-tracking"]
    assert [(s["rating"], s["comment"]) for s in exported["surveys"]] == [(4, "thanks from Jo")]
    assert document["cases"][1]["surveys"] == [] and document["cases"][1]["status"] == "bot"
    assert other.id not in json.dumps(document) and "Someone else" not in json.dumps(document)
    assert await store.contact_export("u_nobody") is None
    with pytest.raises(ApiError) as unknown:
        await erasure.export_contact(store, "u_nobody")
    assert unknown.value.code == "not_found"


async def test_contact_deletion_removes_everything_of_theirs_and_refuses_while_a_case_is_open(
    desk: Desk, conversations: Conversations,
) -> None:
    store = conversations.store
    first, token = await _full_case(conversations, closed_days_ago=1)
    waiting, _ = await _full_case(conversations, earlier_token=token)
    waiting = await conversations.transition(waiting, Status.QUEUED, reason="customer_request", actor="bot")
    await store.add_entitlement(_entitlement("e_3", first.customer_id, "Silver"))
    other, _ = await _full_case(conversations, closed_days_ago=1)
    await desk.presence.customer_joined(first.id, "sid-1")

    with pytest.raises(OpenCases) as refused:
        await store.delete_contact(first.customer_id)
    assert refused.value.numbers == [waiting.number]
    with pytest.raises(ApiError, match=f"open cases \\({waiting.number}\\)") as conflict:
        await erasure.delete_contact(store, first.customer_id)
    assert conflict.value.code == "conflict"
    assert await _whole(store, first.id) and await _whole(store, waiting.id)  # nothing was deleted

    await conversations.transition(waiting, Status.ABANDONED, reason="customer_left", actor="system")
    deleted = await erasure.delete_contact(store, first.customer_id)
    assert deleted["cases"] == 2 and deleted["rows"]["entitlements"] == 1 and deleted["rows"]["surveys"] == 1
    assert await _gone(store, first.id) and await _gone(store, waiting.id)
    assert await store.contact_export(first.customer_id) is None
    assert await store.connected("customer", first.id) == {}
    assert await _whole(store, other.id)  # another contact's case is untouched
    with pytest.raises(KeyError):
        await store.delete_contact(first.customer_id)
