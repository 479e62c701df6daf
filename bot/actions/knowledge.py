"""Answer from the knowledge base, or hand over to a person; resolve when the answer helped.

Every intent is routed by a plain rule to one of three actions, and the actions look at the
conversation themselves: a small-talk intent ("are ...", "hello, ...") whose text the knowledge base
matches strongly is answered from the article; "yes"/"no" act on an answer only when one was given; and
a long message that the knowledge base answers is a question, whatever intent the NLU took it for.

The bot's own words (around an article, a hand-over, small talk) come from the message catalogue
(handoff/catalogue) in the customer's language (`_language`): English, German or Arabic, English for
any other; every reply's ``data`` names it (``language``), so the app speaks it too. The NLU is trained
in the three languages: the request for a person and the short answers are trusted in any language.

Replies are Rasa ``custom`` payloads in the shape handoff/cases/rasa_bridge.py reads:
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
from handoff import catalogue
from knowledge_index.decision import Decision, decide
from knowledge_index.entries import plain_text
from knowledge_index.index import Hit, Route
from knowledge_index.multilingual import query_language

# The small-talk intents and their replies (keys of the catalogue's ``bot`` table).
SMALL_TALK = {"greet": "greet", "thank": "welcome", "bot_challenge": "iamabot"}
# Intents the NLU is trained on in every language the product speaks (training_data/bot/nlu.yml): the
# short answers and the request for a person are trusted whatever the language; small talk in English,
# German and Arabic. Any other typed text that is not English is a question for the knowledge base.
EVERY_LANGUAGE = frozenset({"request_human", "goodbye", "affirm", "deny"})
TRAINED_LANGUAGES = frozenset({"en", "de", "ar"})
# Answers this short say nothing of the language ("ok", "ja"): the conversation's language stays.
SHORT_ANSWERS = frozenset({"affirm", "deny", "goodbye", "greet", "thank"})
# A small-talk message this short is small talk, whatever the knowledge base says.
MIN_WORDS_FOR_ARTICLE = 3
# A message this long that the knowledge base answers is a question, whatever `EVERY_LANGUAGE` intent the
# NLU took it for: its classifier can be sure of itself on words it never saw (docs/evaluation.md, "Intents").
MIN_WORDS_FOR_QUESTION = 6

Events = list[dict[str, Any]]


def _nlu_intent(tracker: Tracker) -> str | None:
    return (tracker.latest_message.get("intent") or {}).get("name")


def _language(tracker: Tracker) -> str:
    """The language of the customer's message; for a button's payload, or a short answer with no sign
    of its language ("ok"), that of the conversation so far (the ``language`` slot)."""
    text = tracker.latest_message.get("text") or ""
    earlier = tracker.get_slot("language")
    if text.startswith("/"):
        return earlier or "en"
    guess = query_language(text)
    if earlier and guess == "en" and _nlu_intent(tracker) in SHORT_ANSWERS:
        return str(earlier)
    return guess


def _intent(tracker: Tracker) -> str | None:
    """The NLU's intent where it can be trusted (`EVERY_LANGUAGE`, `TRAINED_LANGUAGES`); None for other
    typed text in another language than English (such a message is a question for the knowledge base)."""
    text = tracker.latest_message.get("text") or ""
    intent = _nlu_intent(tracker)
    if text.startswith("/") or intent in EVERY_LANGUAGE:
        return intent
    language = query_language(text)
    if language == "en" or (language in TRAINED_LANGUAGES and intent in SMALL_TALK):
        return intent
    return None


async def _a_question(tracker: Tracker) -> bool:
    """The typed message is long (`MIN_WORDS_FOR_QUESTION`) and the knowledge base answers it."""
    text = tracker.latest_message.get("text") or ""
    if text.startswith("/") or len(text.split()) < MIN_WORDS_FOR_QUESTION:
        return False
    return (await consider(context.current(), text)).decision.kind == "answer"


def _reply(dispatcher: CollectingDispatcher, text: str, data: dict[str, Any], **flags: Any) -> None:
    dispatcher.utter_message(json_message={"text": text, "data": data, **flags})


def _phrases(language: str) -> dict[str, str]:
    """The bot's words in ``language`` (the message catalogue's ``bot`` table, handoff/catalogue)."""
    return catalogue.phrases(language, "bot")


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


async def answer_or(dispatcher: CollectingDispatcher, tracker: Tracker, small_talk: str | None) -> Events:
    """Answer, offer two close articles, or hand over, as the decision says; small talk keeps its reply
    (``small_talk``: its key in the catalogue's ``bot`` table)."""
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
    if small_talk and (decision.kind == "escalate" or len(query.split()) < MIN_WORDS_FOR_ARTICLE):
        heard = _language(tracker)  # "danke" from a German customer stays German
        _reply(dispatcher, _phrases(heard)[small_talk], {"kind": "small_talk", "language": heard})
        return [SlotSet("last_article", None), SlotSet("offered_articles", None), SlotSet("language", heard)]
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
                extra = {"decision": "chosen", "offered": offered, "language": _language(tracker)}
                return _article_reply(dispatcher, chosen, 1.0, extra, _language(tracker))
        return await answer_or(dispatcher, tracker, SMALL_TALK.get(_intent(tracker) or ""))


class ActionEscalate(Action):
    """Asking for a person, or "no" to an answer. A "no" with no answer before it is read as a message."""

    def name(self) -> str:
        return "action_escalate"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> Events:
        article_id = tracker.get_slot("last_article")
        intent = _intent(tracker)
        if intent is None or await _a_question(tracker):
            return await answer_or(dispatcher, tracker, None)
        if intent != "deny":
            reason = "customer_request"
        elif article_id:
            reason = "answer_not_helpful"
        elif tracker.get_slot("offered_articles"):
            reason = "no_offered_article_fits"
        else:
            return await answer_or(dispatcher, tracker, "ask_question")
        language = _language(tracker)
        data: dict[str, Any] = {"kind": "handoff", "reason": reason, "language": language}
        if article_id:
            data["article_id"] = article_id
        _reply(dispatcher, _phrases(language)[reason], data, handoff=reason)
        return [SlotSet("last_article", None), SlotSet("offered_articles", None), SlotSet("language", language)]


class ActionResolveByBot(Action):
    """Goodbye, or "yes" to an answer. A "yes" with no answer before it is read as a message."""

    def name(self) -> str:
        return "action_resolve_by_bot"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> Events:
        article_id = tracker.get_slot("last_article")
        intent = _intent(tracker)
        if intent is None or await _a_question(tracker):
            return await answer_or(dispatcher, tracker, None)
        if intent == "goodbye":
            reason = "goodbye"
        elif article_id:
            reason = "answer_helped"
        else:
            return await answer_or(dispatcher, tracker, "ask_question")
        language = _language(tracker)
        data: dict[str, Any] = {"kind": "resolved", "language": language}
        if article_id:
            data["article_id"] = article_id
        _reply(dispatcher, _phrases(language)[reason], data, resolve=reason)
        return [SlotSet("last_article", None), SlotSet("language", language)]
