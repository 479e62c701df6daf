"""Contacts, accounts and entitlements in the store and through `Conversations`, on both stores."""

from __future__ import annotations

from datetime import timedelta

import pytest

from handoff.cases.access import CaseAccess
from handoff.cases.conversations import Conversations
from handoff.contacts.directory import Contacts
from handoff.errors import ApiError
from handoff.staff.accounts import AgentAuth
from handoff.staff.audit import AuditLog
from handoff.store.records import (
    Agent,
    Identity,
    Status,
    utcnow,
)

SAM = Agent("a_sam", "sam", "Sam", "", frozenset({"agent", "supervisor"}))  # who changes contacts here
STATUSES = [Status.BOT, Status.QUEUED, Status.WITH_AGENT, Status.RESOLVED, Status.ABANDONED,
            Status.CANCELLED]


def directory(conversations: Conversations) -> Contacts:
    store = conversations.store
    return Contacts(conversations, CaseAccess(store, conversations.routing), AuditLog(store))


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
    contacts = directory(conversations)
    store = conversations.store
    known_case, _ = await conversations.start("web", "en", None, identity=known("shop-7", email="k@example.com"))
    guest_case, _ = await conversations.start("web", "en", "Guest")
    await store.update_contact(guest_case.customer_id, preferred=True)
    entitlement = await contacts.add_entitlement(contact_id=guest_case.customer_id, account_id=None, name="Silver",
                                                 starts_at=None, ends_at=None, by=SAM)
    # merging the known contact "into" the guest keeps the known one all the same
    assert await contacts.merge(known_case.customer_id, guest_case.customer_id, SAM) == 1
    kept = await store.contact(known_case.customer_id)
    assert kept is not None and kept.preferred and kept.email == "k@example.com"
    assert await store.contact(guest_case.customer_id) is None
    assert (await store.entitlement(entitlement.id)).customer_id == kept.id  # type: ignore[union-attr]
    assert (await conversations.get(guest_case.id)).customer_id == kept.id

    other, _ = await conversations.start("web", "en", None, identity=known("shop-8"))
    with pytest.raises(ApiError, match="different people") as refused:
        await contacts.merge(other.customer_id, kept.id, SAM)
    assert refused.value.code == "conflict"
    with pytest.raises(ApiError, match="itself"):
        await contacts.merge(kept.id, kept.id, SAM)
    with pytest.raises(ApiError) as missing:
        await contacts.merge("u_nobody", kept.id, SAM)
    assert missing.value.code == "not_found"


async def test_entitlements_apply_through_the_account_hierarchy_and_their_dates(conversations: Conversations) -> None:
    contacts = directory(conversations)
    store = conversations.store
    now = utcnow()
    group = await contacts.add_account("Hearthwood Group", None, SAM)
    company = await contacts.add_account("Hearthwood Berlin", group.id, SAM)
    branch = await contacts.add_account("Hearthwood Berlin Mitte", company.id, SAM)
    case, _ = await conversations.start("web", "en", None)
    customer = case.customer_id
    assert await store.active_entitlement(customer, now) is None
    await contacts.update_contact(customer, {"account_id": branch.id}, SAM)
    await contacts.add_entitlement(contact_id=None, account_id=group.id, name="Group gold",
                                   starts_at=now + timedelta(days=1), ends_at=None, by=SAM)
    assert await store.active_entitlement(customer, now) is None  # not started yet
    assert await store.active_entitlement(customer, now + timedelta(days=2)) == "Group gold"
    expired = await contacts.add_entitlement(contact_id=customer, account_id=None, name="Trial",
                                             starts_at=None, ends_at=now - timedelta(seconds=1), by=SAM)
    assert await store.active_entitlement(customer, now) is None  # ended
    await contacts.add_entitlement(contact_id=None, account_id=company.id, name="Company silver",
                                   starts_at=now - timedelta(days=1), ends_at=now + timedelta(days=1), by=SAM)
    assert await store.active_entitlement(customer, now) == "Company silver"
    detail = await contacts.contact_detail(customer, SAM)
    assert [a["name"] for a in detail["accounts"]] == [
        "Hearthwood Berlin Mitte", "Hearthwood Berlin", "Hearthwood Group"]
    assert [(e["name"], e["active"]) for e in detail["entitlements"]] == [
        ("Group gold", False), ("Trial", False), ("Company silver", True)]
    account = await contacts.account_detail(company.id)
    assert ([a["name"] for a in account["parents"]], [a["name"] for a in account["children"]]) == (
        ["Hearthwood Group"], ["Hearthwood Berlin Mitte"])
    await contacts.remove_entitlement(expired.id, SAM)

    for fields, message in (({"parent_id": branch.id}, "child accounts"), ({"parent_id": group.id}, "child accounts")):
        with pytest.raises(ApiError, match=message) as cycle:
            await contacts.update_account(group.id, fields, SAM)
        assert cycle.value.code == "conflict"
    with pytest.raises(ApiError, match="exactly one"):
        await contacts.add_entitlement(contact_id=customer, account_id=group.id, name="x", starts_at=None,
                                       ends_at=None, by=SAM)
    with pytest.raises(ApiError, match="after starts_at"):
        await contacts.add_entitlement(contact_id=customer, account_id=None, name="x", starts_at=now,
                                       ends_at=now, by=SAM)


async def test_an_entitlement_gives_waiting_cases_high_priority_at_once(conversations: Conversations) -> None:
    contacts = directory(conversations)
    company = await contacts.add_account("Velora Fleet", None, SAM)
    case, _ = await conversations.start("web", "en", None)
    await contacts.update_contact(case.customer_id, {"account_id": company.id}, SAM)
    case = await conversations.transition(case, Status.QUEUED, reason="customer_request", actor="bot")
    assert (case.priority, case.entitlement) == ("normal", None)
    entitlement = await contacts.add_entitlement(contact_id=None, account_id=company.id, name="Fleet",
                                                 starts_at=None, ends_at=None, by=SAM)
    queued = await conversations.get(case.id)
    assert (queued.priority, queued.entitlement) == ("high", "Fleet")
    await contacts.remove_entitlement(entitlement.id, SAM)
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
