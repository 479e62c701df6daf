"""Customers' tokens through `Conversations`, on both stores: a conversation token's time, an identity
token that starts one conversation at most, and an earlier conversation of a verified contact that
attaches nothing (docs/contacts.md)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from handoff.cases.conversations import Conversations
from handoff.errors import ApiError
from handoff.store.records import Identity, utcnow


def signed(external_id: str, token_id: str) -> Identity:
    """An identity as a verified token gives it: with its jti, kept as used for an hour."""
    return Identity(external_id, None, None, token_id, utcnow() + timedelta(hours=1))


async def test_a_conversation_token_expires_after_the_last_message(conversations: Conversations) -> None:
    case, token = await conversations.start("web", "en", None)
    days = 30  # conversation_token_days, the default
    await conversations.store.update_conversation(case.id, last_activity_at=utcnow() - timedelta(days=days - 1))
    assert (await conversations.by_token(token)).id == case.id  # a day left
    await conversations.store.update_conversation(case.id, last_activity_at=utcnow() - timedelta(days=days, hours=1))
    for call in (conversations.by_token(token), conversations.start("web", "en", None, earlier_token=token)):
        with pytest.raises(ApiError, match="expired") as refused:
            await call
        assert refused.value.code == "unauthorized"
    # a new message gives it its time again
    await conversations.store.append_message(case.id, sender="customer", sender_name="C", text="still there?")
    assert (await conversations.by_token(token)).id == case.id


async def test_an_identity_token_starts_one_conversation(conversations: Conversations) -> None:
    first, _ = await conversations.start("web", "en", None, identity=signed("shop-1", "jti-1"))
    guest, guest_token = await conversations.start("web", "en", "Guest")
    with pytest.raises(ApiError, match="started a conversation already") as replayed:
        # replayed with another's earlier conversation, to merge it into shop-1: refused, nothing moves
        await conversations.start("web", "en", None, earlier_token=guest_token, identity=signed("shop-1", "jti-1"))
    assert replayed.value.code == "unauthorized"
    assert (await conversations.get(guest.id)).customer_id == guest.customer_id
    assert len(await conversations.store.customer_conversations(first.customer_id)) == 1
    second, _ = await conversations.start("web", "en", None, identity=signed("shop-1", "jti-2"))
    assert second.customer_id == first.customer_id


async def test_used_identity_tokens_are_forgotten_once_expired(conversations: Conversations) -> None:
    store = conversations.store
    assert await store.use_identity_token("old", utcnow() - timedelta(seconds=1)) is True
    assert await store.use_identity_token("new", utcnow() + timedelta(hours=1)) is True
    assert await store.use_identity_token("new", utcnow() + timedelta(hours=1)) is False
    assert await store.use_identity_token("old", utcnow() + timedelta(hours=1)) is True  # forgotten, as expired


async def test_an_earlier_conversation_of_a_verified_contact_attaches_nothing(conversations: Conversations) -> None:
    known, known_token = await conversations.start("web", "en", None, identity=signed("shop-5", "jti-5"))
    # a bearer of its token, anonymous: a new anonymous contact
    stranger, _ = await conversations.start("web", "en", "Stranger", earlier_token=known_token)
    assert stranger.customer_id != known.customer_id and stranger.customer_external_id is None
    assert [c.id for c in await conversations.earlier_cases(stranger)] == []
    # with an identity of their own: theirs
    other, _ = await conversations.start("web", "en", None, earlier_token=known_token, identity=signed("shop-6", "j6"))
    assert other.customer_id != known.customer_id and other.customer_external_id == "shop-6"
    # an anonymous earlier conversation still makes the next one the same contact's
    guest, guest_token = await conversations.start("web", "en", "Guest")
    again, _ = await conversations.start("web", "en", None, earlier_token=guest_token)
    assert again.customer_id == guest.customer_id
