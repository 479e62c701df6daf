"""Message ids on both stores: a client id stores a message once per conversation, and the conversations
whose latest message waits for a bot turn are found (handoff/cases/pending_turns.py)."""

from __future__ import annotations

from datetime import timedelta

from handoff.cases.conversations import Conversations
from handoff.store.records import Reason, Status, utcnow


async def test_a_client_id_stores_a_message_once_in_its_conversation(conversations: Conversations) -> None:
    store = conversations.store
    first, _ = await conversations.start("web", "en", None)
    second, _ = await conversations.start("web", "en", None)
    stored = await store.append_message(first.id, sender="customer", sender_name="C", text="hi", client_id="m-1")
    again = await store.append_message(first.id, sender="customer", sender_name="C", text="hi?", client_id="m-1")
    assert again.repeated and not stored.repeated
    assert (again.message.seq, again.message.text, again.message.client_id) == (1, "hi", "m-1")
    assert (await store.message_by_client_id(first.id, "m-1")) == again.message
    elsewhere = await store.append_message(second.id, sender="customer", sender_name="C", text="hi", client_id="m-1")
    assert not elsewhere.repeated and elsewhere.message.seq == 1  # ids are the conversation's own
    for _ in range(2):  # without an id, every send is a message
        await store.append_message(first.id, sender="customer", sender_name="C", text="again")
    assert [(m.seq, m.client_id) for m in await store.messages_after(first.id)] == [(1, "m-1"), (2, None), (3, None)]
    assert (await conversations.get(first.id)).last_seq == 3  # the repeat took no number


async def test_the_conversations_waiting_for_a_bot_turn_are_found(conversations: Conversations) -> None:
    store = conversations.store
    asked, answered, noted, queued = [(await conversations.start("web", "en", None))[0] for _ in range(4)]
    for c in (asked, answered, noted, queued):
        await store.append_message(c.id, sender="customer", sender_name="C", text="where is my order?")
    await store.append_message(answered.id, sender="bot", sender_name="Bot", text="Here.")
    await store.append_message(noted.id, sender="note", sender_name="Agent", text="a note")
    await store.change_status(queued.id, expected=Status.BOT, status=Status.QUEUED, reason=Reason.CUSTOMER_REQUEST,
                              actor="bot", fields={})
    assert await store.awaiting_bot() == [asked.id, noted.id]
    assert await store.awaiting_bot(before=utcnow() - timedelta(minutes=1)) == []
