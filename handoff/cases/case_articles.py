"""The knowledge articles of a case: those the bot answered with or offered, and whether they helped."""

from __future__ import annotations

from handoff.cases.rasa_bridge import BotReply
from handoff.store.sql import SqlCaseStore


async def record(store: SqlCaseStore, conversation_id: str, seq: int, reply: BotReply) -> None:
    """The articles of the bot's ``reply`` (stored as message ``seq``), and the customer's verdict on them."""
    data = reply.data
    shown = [data["article"]["id"]] if data.get("kind") == "answer" else data.get("offered", [])
    if shown:
        await store.add_case_articles(conversation_id, seq, shown)
    if reply.resolve_reason == "answer_helped":
        await store.article_feedback(conversation_id, True, data.get("article_id"))
    elif reply.handoff_reason in ("answer_not_helpful", "no_offered_article_fits"):
        await store.article_feedback(conversation_id, False, data.get("article_id"))
