"""Privacy in the store, on both stores: retention of closed cases, a contact's export and deletion
(handoff/store/privacy.py, handoff/privacy/erasure.py)."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from handoff.cases.conversations import Conversations
from handoff.cases.desk import Desk
from handoff.errors import ApiError
from handoff.privacy import erasure
from handoff.store.audit import AuditFilter
from handoff.store.privacy import OpenCases
from handoff.store.records import (
    Conversation,
    Entitlement,
    Status,
    utcnow,
)
from handoff.store.sql import SqlCaseStore

STATUSES = [Status.BOT, Status.QUEUED, Status.WITH_AGENT, Status.RESOLVED, Status.ABANDONED,
            Status.CANCELLED]


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
    # the same contact's (named before open_old's token expires: conversation_token_days)
    closed_beside_open, _ = await _full_case(conversations, closed_days_ago=45, earlier_token=open_token)
    await store.update_conversation(open_old.id, created_at=utcnow() - timedelta(days=50),
                                    last_activity_at=utcnow() - timedelta(days=50))
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

    document = await erasure.export_contact(store, first.customer_id, None)
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
        await erasure.export_contact(store, "u_nobody", None)
    assert unknown.value.code == "not_found"
    # the audit log has the export, by the command line (None), and nothing of the contact's data
    [entry] = await store.audit_entries(AuditFilter(action="privacy."), None, 10)
    assert (entry.actor_id, entry.actor, entry.action, entry.target, entry.details) == (
        None, "cli", "privacy.export", f"contact:{first.customer_id}", {"cases": 2})


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
        await erasure.delete_contact(store, first.customer_id, None)
    assert conflict.value.code == "conflict"
    assert await _whole(store, first.id) and await _whole(store, waiting.id)  # nothing was deleted

    await conversations.transition(waiting, Status.ABANDONED, reason="customer_left", actor="system")
    deleted = await erasure.delete_contact(store, first.customer_id, None)
    assert deleted["cases"] == 2 and deleted["rows"]["entitlements"] == 1 and deleted["rows"]["surveys"] == 1
    assert await _gone(store, first.id) and await _gone(store, waiting.id)
    assert await store.contact_export(first.customer_id) is None
    assert await store.connected("customer", first.id) == {}
    assert await _whole(store, other.id)  # another contact's case is untouched
    [entry] = await store.audit_entries(AuditFilter(action="privacy.delete"), None, 10)  # not the refused one
    assert (entry.actor, entry.target, entry.details) == ("cli", f"contact:{first.customer_id}", {"cases": 2})
    with pytest.raises(KeyError):
        await store.delete_contact(first.customer_id)
