"""Answer from the knowledge base, or hand over to a person; resolve when the answer helped.

Every intent is routed by a plain rule to one of three actions, and the actions look at the
conversation themselves: a small-talk intent ("are ...", "hello, ...") whose text the knowledge base
matches strongly is answered from the article; "yes"/"no" act on an answer only when one was given.

The bot's own words around an article follow the question's language (`knowledge_index.index.Route`):
English, German or Arabic, English for any other. Rasa's small-talk responses (bot/domain.yml) stay
English.

Replies are Rasa ``custom`` payloads in the shape handoff/rasa_bridge.py reads:
``{"text": str, "data": {...}, "handoff": reason?, "resolve": reason?}``.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from bot.actions import context
from knowledge_index.decision import Decision, decide
from knowledge_index.entries import plain_text
from knowledge_index.index import Hit, Route
from knowledge_index.multilingual import query_language

PHRASES: dict[str, dict[str, str]] = {
    "en": {
        "did_it_help": "Did this answer your question?", "yes": "Yes", "no": "No", "neither": "Neither",
        "which": "Which of these is closest to your question?",
        "low_confidence": "I'm not sure I can answer that one correctly. "
                          "I'm connecting you with a person from our team.",
        "customer_request": "Of course. I'm connecting you with a person from our team.",
        "answer_not_helpful": "Sorry that didn't help. I'm connecting you with a person from our team.",
        "no_offered_article_fits": "Sorry I couldn't find the right article. "
                                   "I'm connecting you with a person from our team.",
        "answer_helped": "Great, I'm glad that helped!",
        "goodbye": "Thanks for chatting with us. Goodbye!",
    },
    "de": {
        "did_it_help": "Hat das Ihre Frage beantwortet?", "yes": "Ja", "no": "Nein", "neither": "Keiner davon",
        "which": "Welcher dieser Artikel passt am besten zu Ihrer Frage?",
        "low_confidence": "Ich bin nicht sicher, ob ich das richtig beantworten kann. "
                          "Ich verbinde Sie mit jemandem aus unserem Team.",
        "customer_request": "Gern. Ich verbinde Sie mit jemandem aus unserem Team.",
        "answer_not_helpful": "Schade, dass das nicht geholfen hat. Ich verbinde Sie mit jemandem aus unserem Team.",
        "no_offered_article_fits": "Leider habe ich nicht den richtigen Artikel gefunden. "
                                   "Ich verbinde Sie mit jemandem aus unserem Team.",
        "answer_helped": "Schön, dass ich helfen konnte!",
        "goodbye": "Danke für Ihre Nachricht. Auf Wiedersehen!",
    },
    "ar": {
        "did_it_help": "هل أجاب هذا عن سؤالك؟", "yes": "نعم", "no": "لا", "neither": "لا هذا ولا ذاك",
        "which": "أيّ من هذه المقالات أقرب إلى سؤالك؟",
        "low_confidence": "لست متأكدًا من أنني أستطيع الإجابة عن ذلك بشكل صحيح. سأوصلك بأحد أعضاء فريقنا.",
        "customer_request": "بالتأكيد. سأوصلك بأحد أعضاء فريقنا.",
        "answer_not_helpful": "يؤسفني أن ذلك لم يساعد. سأوصلك بأحد أعضاء فريقنا.",
        "no_offered_article_fits": "عذرًا، لم أجد المقالة المناسبة. سأوصلك بأحد أعضاء فريقنا.",
        "answer_helped": "رائع، يسعدني أن ذلك ساعدك!",
        "goodbye": "شكرًا لتواصلك معنا. إلى اللقاء!",
    },
}
SMALL_TALK = {"greet": "utter_greet", "thank": "utter_welcome", "bot_challenge": "utter_iamabot"}
# A small-talk message this short is small talk, whatever the knowledge base says.
MIN_WORDS_FOR_ARTICLE = 3

Events = list[dict[str, Any]]


def _language(tracker: Tracker) -> str:
    """The language of the customer's message; for a button's payload, that of their last question."""
    text = tracker.latest_message.get("text") or ""
    return (tracker.get_slot("language") or "en") if text.startswith("/") else query_language(text)


def _intent(tracker: Tracker) -> str | None:
    """The NLU's intent; None for typed text in another language than English, which the
    English-trained NLU cannot classify (such a message is a question for the knowledge base)."""
    text = tracker.latest_message.get("text") or ""
    if not text.startswith("/") and query_language(text) != "en":
        return None
    return (tracker.latest_message.get("intent") or {}).get("name")


def _reply(dispatcher: CollectingDispatcher, text: str, data: dict[str, Any], **flags: Any) -> None:
    dispatcher.utter_message(json_message={"text": text, "data": data, **flags})


def _phrases(language: str) -> dict[str, str]:
    return PHRASES.get(language, PHRASES["en"])


def _article_reply(
    dispatcher: CollectingDispatcher, article_id: str, score: float, extra: dict[str, Any], language: str
) -> Events:
    record = context.current().index.article(article_id)
    if record is None:
        return []
    say = _phrases(language)
    _reply(dispatcher, f"{plain_text(record.body)}\n\n{say['did_it_help']}", {
        "kind": "answer",
        "article": {"id": record.id, "title": record.title, "url": record.url, "locale": record.locale},
        "score": round(score, 4),
        "buttons": [{"title": say["yes"], "payload": "/affirm"}, {"title": say["no"], "payload": "/deny"}],
        **extra,
    })
    return [SlotSet("last_article", record.id), SlotSet("offered_articles", None)]


@dataclass(frozen=True)
class Consideration:
    """What the bot makes of a question: its route, the ranked articles and the decision."""

    route: Route
    hits: list[Hit]
    decision: Decision


async def consider(ctx: context.ActionContext, query: str) -> Consideration:
    """Search the context's index for ``query`` and decide, as the bot does (editors try questions with it)."""
    route = ctx.index.route(query)
    hits = await asyncio.to_thread(ctx.index.search, query, ctx.top_k)
    return Consideration(route, hits, decide(hits, route.thresholds))


async def answer_or(dispatcher: CollectingDispatcher, tracker: Tracker, fallback_response: str | None) -> Events:
    """Answer, offer two close articles, or hand over, as the decision says; small talk keeps its reply."""
    ctx = context.current()
    query = tracker.latest_message.get("text") or ""
    considered = await consider(ctx, query)
    route, hits, decision = considered.route, considered.hits, considered.decision
    why = {
        "decision": decision.kind, "reason": decision.reason, "confidence": round(decision.confidence, 4),
        "hits": [{"article_id": h.article_id, "title": h.title, "score": round(h.score, 4)} for h in hits],
        "language": route.language, "model": route.model,
    }
    say = _phrases(route.language)
    language = [SlotSet("language", route.language)]
    if fallback_response and (decision.kind == "escalate" or len(query.split()) < MIN_WORDS_FOR_ARTICLE):
        dispatcher.utter_message(response=fallback_response)
        return [SlotSet("last_article", None), SlotSet("offered_articles", None), *language]
    if decision.kind == "answer":
        return _article_reply(dispatcher, decision.article_ids[0], decision.confidence, why, route.language) + language
    if decision.kind == "clarify":
        choices = [ctx.index.article(article_id) for article_id in decision.article_ids]
        buttons = [{"title": c.title, "payload": f'/choose_article{{"article_id": "{c.id}"}}'} for c in choices if c]
        neither = {"title": say["neither"], "payload": "/deny"}
        offered = {"offered": [c.id for c in choices if c]}
        _reply(dispatcher, say["which"], {"kind": "clarify", "buttons": [*buttons, neither], **offered, **why})
        return [SlotSet("last_article", None), SlotSet("offered_articles", ",".join(decision.article_ids)), *language]
    _reply(dispatcher, say["low_confidence"], {"kind": "handoff", **why, "reason": "low_confidence"},
           handoff="low_confidence")
    return [SlotSet("last_article", None), SlotSet("offered_articles", None), *language]


class ActionAnswerFromKnowledge(Action):
    """Questions, unclear messages, small talk, and the customer's pick among offered articles."""

    def name(self) -> str:
        return "action_answer_from_kb"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> Events:
        if _intent(tracker) == "choose_article":
            offered = (tracker.get_slot("offered_articles") or "").split(",")
            chosen = next(tracker.get_latest_entity_values("article_id"), None)
            if chosen is not None and chosen in offered:
                extra = {"decision": "chosen", "offered": offered}
                return _article_reply(dispatcher, chosen, 1.0, extra, _language(tracker))
        return await answer_or(dispatcher, tracker, SMALL_TALK.get(_intent(tracker) or ""))


class ActionEscalate(Action):
    """Asking for a person, or "no" to an answer. A "no" with no answer before it is read as a message."""

    def name(self) -> str:
        return "action_escalate"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> Events:
        article_id = tracker.get_slot("last_article")
        intent = _intent(tracker)
        if intent is None:
            return await answer_or(dispatcher, tracker, None)
        if intent != "deny":
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
        _reply(dispatcher, _phrases(_language(tracker))[reason], data, handoff=reason)
        return [SlotSet("last_article", None), SlotSet("offered_articles", None)]


class ActionResolveByBot(Action):
    """Goodbye, or "yes" to an answer. A "yes" with no answer before it is read as a message."""

    def name(self) -> str:
        return "action_resolve_by_bot"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> Events:
        article_id = tracker.get_slot("last_article")
        intent = _intent(tracker)
        if intent is None:
            return await answer_or(dispatcher, tracker, None)
        if intent == "goodbye":
            reason = "goodbye"
        elif article_id:
            reason = "answer_helped"
        else:
            return await answer_or(dispatcher, tracker, "utter_ask_question")
        text = _phrases(_language(tracker))[reason]
        data: dict[str, Any] = {"kind": "resolved"}
        if article_id:
            data["article_id"] = article_id
        _reply(dispatcher, text, data, resolve=reason)
        return [SlotSet("last_article", None)]
