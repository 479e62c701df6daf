"""Sends that clients repeat: what makes a retried send the same message (docs/operations.md, "Exactly-once
delivery").

A client that got no answer to a send cannot know whether it was stored: it sends again. With the same
``client_id`` in the same conversation it is the message stored the first time (the store keeps the id,
unique per conversation); a press of the bot's buttons that is no longer offered, repeated right after
the same press (the customer's latest message), is that press. Either way nothing new is stored and no
further bot turn runs: the caller answers with the stored message."""

from __future__ import annotations

from handoff.store.records import Message
from handoff.store.sql import SqlCaseStore


async def last_offer(store: SqlCaseStore, conversation_id: str) -> tuple[set[str], str | None]:
    """The payloads of the buttons the bot offered in the conversation's latest message, and that message's
    ``kind`` (none when the latest is not the bot's)."""
    last = await store.last_message_from(conversation_id, ["bot", "agent", "customer"])
    if last is None or last.sender != "bot":
        return set(), None
    return {b.get("payload") for b in last.data.get("buttons", [])}, last.data.get("kind")


async def offered(store: SqlCaseStore, conversation_id: str) -> set[str]:
    """The payloads of the buttons the bot offered in the conversation's latest message."""
    return (await last_offer(store, conversation_id))[0]


async def repeated(store: SqlCaseStore, conversation_id: str, client_id: str | None, senders: frozenset[str],
                   payload: str | None = None) -> Message | None:
    """The message a send repeats, if it repeats one: the conversation's message with ``client_id`` (when
    one of ``senders`` sent it), or, for a press of a button (``payload``) the bot no longer offers, the
    customer's latest message when it is the same press."""
    if client_id is not None:
        stored = await store.message_by_client_id(conversation_id, client_id)
        if stored is not None and stored.sender in senders:
            return stored
    if payload is None or payload in await offered(store, conversation_id):
        return None
    last = await store.last_message_from(conversation_id, ["customer"])
    return last if last is not None and last.data.get("payload") == payload else None
