"""Answer from the knowledge base, or hand over to a person; resolve when the answer helped.

Every intent is routed by a plain rule to one of three actions, and the actions look at the
conversation themselves: a small-talk intent ("are ...", "hello, ...") whose text the knowledge base
matches strongly is answered from the article; "yes"/"no" act on an answer only when one was given.

Replies are Rasa ``custom`` payloads in the shape handoff/rasa_bridge.py reads:
``{"text": str, "data": {...}, "handoff": reason?, "resolve": reason?}``.
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
SMALL_TALK = {"greet": "utter_greet", "thank": "utter_welcome", "bot_challenge": "utter_iamabot"}
# A small-talk message this short is small talk, whatever the knowledge base says.
MIN_WORDS_FOR_ARTICLE = 3

Events = list[dict[str, Any]]


def _intent(tracker: Tracker) -> str | None:
    return (tracker.latest_message.get("intent") or {}).get("name")


def _reply(dispatcher: CollectingDispatcher, text: str, data: dict[str, Any], **flags: Any) -> None:
    dispatcher.utter_message(json_message={"text": text, "data": data, **flags})


async def answer_or(dispatcher: CollectingDispatcher, tracker: Tracker, fallback_response: str | None) -> Events:
    """Answer from the best article if it is good enough; else the fallback response, or a handoff."""
    ctx = context.current()
    query = tracker.latest_message.get("text") or ""
    hits = await asyncio.to_thread(ctx.index.search, query, ctx.top_k)
    ranked = [{"article_id": h.article_id, "title": h.title, "score": round(h.score, 4)} for h in hits]
    top = hits[0] if hits and hits[0].score >= ctx.answer_threshold else None

    if fallback_response and (top is None or len(query.split()) < MIN_WORDS_FOR_ARTICLE):
        dispatcher.utter_message(response=fallback_response)
        return [SlotSet("last_article", None)]
    if top is None:
        _reply(dispatcher, HANDOFF_TEXT["low_confidence"],
               {"kind": "handoff", "reason": "low_confidence", "hits": ranked, "threshold": ctx.answer_threshold},
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


class ActionAnswerFromKnowledge(Action):
    """Questions, unclear messages and small talk."""

    def name(self) -> str:
        return "action_answer_from_kb"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> Events:
        return await answer_or(dispatcher, tracker, SMALL_TALK.get(_intent(tracker) or ""))


class ActionEscalate(Action):
    """Asking for a person, or "no" to an answer. A "no" with no answer before it is read as a message."""

    def name(self) -> str:
        return "action_escalate"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> Events:
        article_id = tracker.get_slot("last_article")
        if _intent(tracker) == "deny":
            if not article_id:
                return await answer_or(dispatcher, tracker, "utter_ask_question")
            reason = "answer_not_helpful"
        else:
            reason = "customer_request"
        data: dict[str, Any] = {"kind": "handoff", "reason": reason}
        if article_id:
            data["article_id"] = article_id
        _reply(dispatcher, HANDOFF_TEXT[reason], data, handoff=reason)
        return [SlotSet("last_article", None)]


class ActionResolveByBot(Action):
    """Goodbye, or "yes" to an answer. A "yes" with no answer before it is read as a message."""

    def name(self) -> str:
        return "action_resolve_by_bot"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> Events:
        article_id = tracker.get_slot("last_article")
        if _intent(tracker) == "goodbye":
            text, reason = "Thanks for chatting with us. Goodbye!", "goodbye"
        elif article_id:
            text, reason = "Great, I'm glad that helped!", "answer_helped"
        else:
            return await answer_or(dispatcher, tracker, "utter_ask_question")
        data: dict[str, Any] = {"kind": "resolved"}
        if article_id:
            data["article_id"] = article_id
        _reply(dispatcher, text, data, resolve=reason)
        return [SlotSet("last_article", None)]
