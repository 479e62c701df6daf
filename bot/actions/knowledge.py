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

The actions are instances holding what they search: an `IndexSource`, the index the app answers from
now (it swaps to a newly published version while it runs); `actions` makes them, and the app registers
them with its action server (bot/action_endpoint.py). Each turn's language is detected once (`Turn`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from handoff import catalogue
from knowledge_index.decision import Decision, decide
from knowledge_index.entries import plain_text
from knowledge_index.index import Hit, KnowledgeIndex, Route
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
IndexSource = Callable[[], KnowledgeIndex]  # the index in use now
TOP_K = 3  # articles the bot searches for


@dataclass(frozen=True)
class Turn:
    """The customer's latest message, as the actions read it; its language is detected once."""

    text: str
    nlu_intent: str | None
    earlier_language: str | None  # of the conversation so far (the ``language`` slot)

    @classmethod
    def of(cls, tracker: Tracker) -> Turn:
        return cls(tracker.latest_message.get("text") or "", (tracker.latest_message.get("intent") or {}).get("name"),
                   tracker.get_slot("language"))

    @property
    def pressed(self) -> bool:
        """A button's payload, not typed text."""
        return self.text.startswith("/")

    @cached_property
    def written_in(self) -> str:
        """The language the text is written in (`query_language`), detected once."""
        return query_language(self.text)

    @property
    def language(self) -> str:
        """The language to answer in: the message's; for a button's payload, or a short answer with no
        sign of its language ("ok"), that of the conversation so far."""
        if self.pressed:
            return self.earlier_language or "en"
        if self.earlier_language and self.written_in == "en" and self.nlu_intent in SHORT_ANSWERS:
            return self.earlier_language
        return self.written_in

    @property
    def intent(self) -> str | None:
        """The NLU's intent where it can be trusted (`EVERY_LANGUAGE`, `TRAINED_LANGUAGES`); None for other
        typed text in another language than English (such a message is a question for the knowledge base)."""
        if self.pressed or self.nlu_intent in EVERY_LANGUAGE:
            return self.nlu_intent
        if self.written_in == "en" or (self.written_in in TRAINED_LANGUAGES and self.nlu_intent in SMALL_TALK):
            return self.nlu_intent
        return None


async def _a_question(index: KnowledgeIndex, turn: Turn) -> bool:
    """The typed message is long (`MIN_WORDS_FOR_QUESTION`) and the knowledge base answers it."""
    if turn.pressed or len(turn.text.split()) < MIN_WORDS_FOR_QUESTION:
        return False
    return (await consider(index, turn.text, turn.written_in)).decision.kind == "answer"


def _reply(dispatcher: CollectingDispatcher, text: str, data: dict[str, Any], **flags: Any) -> None:
    dispatcher.utter_message(json_message={"text": text, "data": data, **flags})


def _phrases(language: str) -> dict[str, str]:
    """The bot's words in ``language`` (the message catalogue's ``bot`` table, handoff/catalogue)."""
    return catalogue.phrases(language, "bot")


def _article_reply(
    dispatcher: CollectingDispatcher, index: KnowledgeIndex, article_id: str, score: float, extra: dict[str, Any],
    language: str,
) -> Events:
    record = index.article(article_id)
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


async def consider(index: KnowledgeIndex, query: str, language: str | None = None) -> Consideration:
    """Search ``index`` for ``query`` (written in ``language``; None: detect it) and decide, as the bot
    does (editors try questions with it)."""
    route = index.route(query, language)
    hits = await asyncio.to_thread(index.search, query, TOP_K, language=route.language)
    return Consideration(route, hits, decide(hits, route.thresholds))


async def answer_or(dispatcher: CollectingDispatcher, index: KnowledgeIndex, turn: Turn,
                    small_talk: str | None) -> Events:
    """Answer, offer two close articles, or hand over, as the decision says; small talk keeps its reply
    (``small_talk``: its key in the catalogue's ``bot`` table)."""
    query = turn.text
    considered = await consider(index, query, turn.written_in)
    route, hits, decision = considered.route, considered.hits, considered.decision
    why = {
        "decision": decision.kind, "reason": decision.reason, "confidence": round(decision.confidence, 4),
        "hits": [{"article_id": h.article_id, "title": h.title, "score": round(h.score, 4)} for h in hits],
        "language": route.language, "model": route.model,
    }
    say = _phrases(route.language)
    language = [SlotSet("language", route.language)]
    if small_talk and (decision.kind == "escalate" or len(query.split()) < MIN_WORDS_FOR_ARTICLE):
        heard = turn.language  # "danke" from a German customer stays German
        _reply(dispatcher, _phrases(heard)[small_talk], {"kind": "small_talk", "language": heard})
        return [SlotSet("last_article", None), SlotSet("offered_articles", None), SlotSet("language", heard)]
    if decision.kind == "answer":
        return _article_reply(dispatcher, index, decision.article_ids[0], decision.confidence, why,
                              route.language) + language
    if decision.kind == "clarify":
        choices = [index.article(article_id) for article_id in decision.article_ids]
        buttons = [{"title": c.title, "payload": f'/choose_article{{"article_id": "{c.id}"}}'} for c in choices if c]
        neither = {"title": say["neither"], "payload": "/deny"}
        offered = {"offered": [c.id for c in choices if c]}
        _reply(dispatcher, say["which"], {"kind": "clarify", "buttons": [*buttons, neither], **offered, **why})
        return [SlotSet("last_article", None), SlotSet("offered_articles", ",".join(decision.article_ids)), *language]
    _reply(dispatcher, say["low_confidence"], {"kind": "handoff", **why, "reason": "low_confidence"},
           handoff="low_confidence")
    return [SlotSet("last_article", None), SlotSet("offered_articles", None), *language]


class KnowledgeAction(Action):  # type: ignore[misc]  # rasa_sdk has no types
    """An action that searches the index the app answers from now."""

    def __init__(self, index: IndexSource) -> None:
        self._index = index


class ActionAnswerFromKnowledge(KnowledgeAction):
    """Questions, unclear messages, small talk, and the customer's pick among offered articles."""

    def name(self) -> str:
        return "action_answer_from_kb"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> Events:
        turn, index = Turn.of(tracker), self._index()
        if turn.intent == "choose_article":
            offered = (tracker.get_slot("offered_articles") or "").split(",")
            chosen = next(tracker.get_latest_entity_values("article_id"), None)
            if chosen is not None and chosen in offered:
                extra = {"decision": "chosen", "offered": offered, "language": turn.language}
                return _article_reply(dispatcher, index, chosen, 1.0, extra, turn.language)
        return await answer_or(dispatcher, index, turn, SMALL_TALK.get(turn.intent or ""))


class ActionEscalate(KnowledgeAction):
    """Asking for a person, or "no" to an answer. A "no" with no answer before it is read as a message."""

    def name(self) -> str:
        return "action_escalate"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> Events:
        article_id = tracker.get_slot("last_article")
        turn, index = Turn.of(tracker), self._index()
        intent = turn.intent
        if intent is None or await _a_question(index, turn):
            return await answer_or(dispatcher, index, turn, None)
        if intent != "deny":
            reason = "customer_request"
        elif article_id:
            reason = "answer_not_helpful"
        elif tracker.get_slot("offered_articles"):
            reason = "no_offered_article_fits"
        else:
            return await answer_or(dispatcher, index, turn, "ask_question")
        language = turn.language
        data: dict[str, Any] = {"kind": "handoff", "reason": reason, "language": language}
        if article_id:
            data["article_id"] = article_id
        _reply(dispatcher, _phrases(language)[reason], data, handoff=reason)
        return [SlotSet("last_article", None), SlotSet("offered_articles", None), SlotSet("language", language)]


class ActionResolveByBot(KnowledgeAction):
    """Goodbye, or "yes" to an answer. A "yes" with no answer before it is read as a message."""

    def name(self) -> str:
        return "action_resolve_by_bot"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> Events:
        article_id = tracker.get_slot("last_article")
        turn, index = Turn.of(tracker), self._index()
        intent = turn.intent
        if intent is None or await _a_question(index, turn):
            return await answer_or(dispatcher, index, turn, None)
        if intent == "goodbye":
            reason = "goodbye"
        elif article_id:
            reason = "answer_helped"
        else:
            return await answer_or(dispatcher, index, turn, "ask_question")
        language = turn.language
        data: dict[str, Any] = {"kind": "resolved", "language": language}
        if article_id:
            data["article_id"] = article_id
        _reply(dispatcher, _phrases(language)[reason], data, resolve=reason)
        return [SlotSet("last_article", None), SlotSet("language", language)]


def actions(index: IndexSource) -> list[KnowledgeAction]:
    """The bot's custom actions, searching what ``index`` gives."""
    return [ActionAnswerFromKnowledge(index), ActionEscalate(index), ActionResolveByBot(index)]
