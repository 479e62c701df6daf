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
from knowledge_index.decision import decide
from knowledge_index.entries import plain_text

HELPED_BUTTONS = [{"title": "Yes", "payload": "/affirm"}, {"title": "No", "payload": "/deny"}]
HANDOFF_TEXT = {
    "low_confidence": "I'm not sure I can answer that one correctly. "
                      "I'm connecting you with a person from our team.",
    "customer_request": "Of course. I'm connecting you with a person from our team.",
    "answer_not_helpful": "Sorry that didn't help. I'm connecting you with a person from our team.",
    "no_offered_article_fits": "Sorry I couldn't find the right article. "
                               "I'm connecting you with a person from our team.",
}
NEITHER_BUTTON = {"title": "Neither", "payload": "/deny"}
SMALL_TALK = {"greet": "utter_greet", "thank": "utter_welcome", "bot_challenge": "utter_iamabot"}
# A small-talk message this short is small talk, whatever the knowledge base says.
MIN_WORDS_FOR_ARTICLE = 3

Events = list[dict[str, Any]]


def _intent(tracker: Tracker) -> str | None:
    return (tracker.latest_message.get("intent") or {}).get("name")


def _reply(dispatcher: CollectingDispatcher, text: str, data: dict[str, Any], **flags: Any) -> None:
    dispatcher.utter_message(json_message={"text": text, "data": data, **flags})


def _article_reply(dispatcher: CollectingDispatcher, article_id: str, score: float, extra: dict[str, Any]) -> Events:
    record = context.current().index.article(article_id)
    if record is None:
        return []
    _reply(dispatcher, f"{plain_text(record.body)}\n\nDid this answer your question?", {
        "kind": "answer",
        "article": {"id": record.id, "title": record.title, "url": record.url},
        "score": round(score, 4),
        "buttons": HELPED_BUTTONS,
        **extra,
    })
    return [SlotSet("last_article", record.id), SlotSet("offered_articles", None)]


async def answer_or(dispatcher: CollectingDispatcher, tracker: Tracker, fallback_response: str | None) -> Events:
    """Answer, offer two close articles, or hand over, as the decision says; small talk keeps its reply."""
    ctx = context.current()
    query = tracker.latest_message.get("text") or ""
    hits = await asyncio.to_thread(ctx.index.search, query, ctx.top_k)
    decision = decide(hits, ctx.thresholds)
    why = {
        "decision": decision.kind, "reason": decision.reason, "confidence": round(decision.confidence, 4),
        "hits": [{"article_id": h.article_id, "title": h.title, "score": round(h.score, 4)} for h in hits],
    }
    if fallback_response and (decision.kind == "escalate" or len(query.split()) < MIN_WORDS_FOR_ARTICLE):
        dispatcher.utter_message(response=fallback_response)
        return [SlotSet("last_article", None), SlotSet("offered_articles", None)]
    if decision.kind == "answer":
        return _article_reply(dispatcher, decision.article_ids[0], decision.confidence, why)
    if decision.kind == "clarify":
        choices = [ctx.index.article(article_id) for article_id in decision.article_ids]
        buttons = [{"title": c.title, "payload": f'/choose_article{{"article_id": "{c.id}"}}'} for c in choices if c]
        _reply(dispatcher, "Which of these is closest to your question?",
               {"kind": "clarify", "buttons": [*buttons, NEITHER_BUTTON], **why})
        return [SlotSet("last_article", None), SlotSet("offered_articles", ",".join(decision.article_ids))]
    _reply(dispatcher, HANDOFF_TEXT["low_confidence"], {"kind": "handoff", **why, "reason": "low_confidence"},
           handoff="low_confidence")
    return [SlotSet("last_article", None), SlotSet("offered_articles", None)]


class ActionAnswerFromKnowledge(Action):
    """Questions, unclear messages, small talk, and the customer's pick among offered articles."""

    def name(self) -> str:
        return "action_answer_from_kb"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> Events:
        if _intent(tracker) == "choose_article":
            offered = (tracker.get_slot("offered_articles") or "").split(",")
            chosen = next(tracker.get_latest_entity_values("article_id"), None)
            if chosen is not None and chosen in offered:
                return _article_reply(dispatcher, chosen, 1.0, {"decision": "chosen", "offered": offered})
        return await answer_or(dispatcher, tracker, SMALL_TALK.get(_intent(tracker) or ""))


class ActionEscalate(Action):
    """Asking for a person, or "no" to an answer. A "no" with no answer before it is read as a message."""

    def name(self) -> str:
        return "action_escalate"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> Events:
        article_id = tracker.get_slot("last_article")
        if _intent(tracker) != "deny":
            reason = "customer_request"
        elif article_id:
            reason = "answer_not_helpful"
        elif tracker.get_slot("offered_articles"):
            reason = "no_offered_article_fits"
        else:
            return await answer_or(dispatcher, tracker, "utter_ask_question")
        data: dict[str, Any] = {"kind": "handoff", "reason": reason}
        if article_id:
            data["article_id"] = article_id
        _reply(dispatcher, HANDOFF_TEXT[reason], data, handoff=reason)
        return [SlotSet("last_article", None), SlotSet("offered_articles", None)]


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
