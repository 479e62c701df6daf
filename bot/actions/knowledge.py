"""Answer from the knowledge base, or hand over to a person; resolve when the answer helped.

Replies are Rasa ``custom`` payloads in the shape handoff/rasa_bridge.py reads:
``{"text": str, "data": {...}, "handoff": reason?, "resolve": bool?}``.
"""

from __future__ import annotations

import asyncio
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from bot.actions import context
from knowledge_index.entries import plain_text

HELPED_BUTTONS = [{"title": "Yes", "payload": "/affirm"}, {"title": "No", "payload": "/deny"}]
HANDOFF_TEXT = {
    "low_confidence": "I'm not sure I can answer that one correctly. "
                      "I'm connecting you with a person from our team.",
    "customer_request": "Of course. I'm connecting you with a person from our team.",
    "answer_not_helpful": "Sorry that didn't help. I'm connecting you with a person from our team.",
}


def _reply(dispatcher: CollectingDispatcher, text: str, data: dict[str, Any], **flags: Any) -> None:
    dispatcher.utter_message(json_message={"text": text, "data": data, **flags})


class ActionAnswerFromKnowledge(Action):
    def name(self) -> str:
        return "action_answer_from_kb"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        ctx = context.current()
        query = tracker.latest_message.get("text") or ""
        hits = await asyncio.to_thread(ctx.index.search, query, ctx.top_k)
        ranked = [{"article_id": h.article_id, "title": h.title, "score": round(h.score, 4)} for h in hits]
        top = hits[0] if hits else None
        if top is None or top.score < ctx.answer_threshold:
            _reply(dispatcher, HANDOFF_TEXT["low_confidence"],
                   {"kind": "handoff", "reason": "low_confidence", "hits": ranked,
                    "threshold": ctx.answer_threshold},
                   handoff="low_confidence")
            return [SlotSet("last_article", None)]
        article = ctx.index.article(top.article_id)
        body = plain_text(article.body) if article is not None else top.title
        _reply(dispatcher, f"{body}\n\nDid this answer your question?", {
            "kind": "answer",
            "article": {"id": top.article_id, "title": top.title, "url": top.url},
            "score": round(top.score, 4),
            "threshold": ctx.answer_threshold,
            "buttons": HELPED_BUTTONS,
            "hits": ranked,
        })
        return [SlotSet("last_article", top.article_id)]


class ActionEscalate(Action):
    def name(self) -> str:
        return "action_escalate"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        intent = (tracker.latest_message.get("intent") or {}).get("name")
        reason = "answer_not_helpful" if intent == "deny" else "customer_request"
        data: dict[str, Any] = {"kind": "handoff", "reason": reason}
        if tracker.get_slot("last_article"):
            data["article_id"] = tracker.get_slot("last_article")
        _reply(dispatcher, HANDOFF_TEXT[reason], data, handoff=reason)
        return []


class ActionResolveByBot(Action):
    def name(self) -> str:
        return "action_resolve_by_bot"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        intent = (tracker.latest_message.get("intent") or {}).get("name")
        text = ("Thanks for chatting with us. Goodbye!" if intent == "goodbye"
                else "Great, I'm glad that helped!")
        data: dict[str, Any] = {"kind": "resolved"}
        if tracker.get_slot("last_article"):
            data["article_id"] = tracker.get_slot("last_article")
        _reply(dispatcher, text, data, resolve=True)
        return []
