"""Which NLU intents the actions trust in which language, and the language they answer in (a real
rasa-sdk Tracker, as Rasa sends it to the action server)."""

from __future__ import annotations

from typing import Any

import pytest
from rasa_sdk import Tracker

from bot.actions import knowledge


def tracker(text: str, intent: str, language_slot: str | None = None) -> Tracker:
    latest = {"text": text, "intent": {"name": intent, "confidence": 0.95}, "entities": []}
    return Tracker("c_test", {"language": language_slot}, latest, [], False, None, {}, "action_listen")


@pytest.mark.parametrize(("text", "intent"), [
    ("I want to talk to a person", "request_human"),
    ("Ich möchte mit einem Menschen sprechen", "request_human"),
    ("أريد التحدث إلى موظف", "request_human"),
    ("Tschüss", "goodbye"),
    ("نعم", "affirm"),
    ("nein, leider nicht", "deny"),
    ("je veux parler à un humain", "request_human"),  # any language
    ("Hallo zusammen, ist da jemand?", "greet"),
    ("مرحبا", "greet"),
    ("/affirm", "affirm"),
])
def test_the_nlus_intent_is_trusted(text: str, intent: str) -> None:
    assert knowledge.Turn.of(tracker(text, intent)).intent == intent


@pytest.mark.parametrize(("text", "intent"), [
    ("bonjour, ça va ?", "greet"),  # small talk only in the languages the NLU is trained in
    ("Wie lange dauert die Lieferung nach Wien?", "ask_question"),
])
def test_other_typed_text_in_another_language_is_a_question_for_the_knowledge_base(text: str, intent: str) -> None:
    assert knowledge.Turn.of(tracker(text, intent)).intent is None


@pytest.mark.parametrize(("text", "intent", "slot", "language"), [
    ("Ich möchte mit einem Menschen sprechen", "request_human", None, "de"),
    ("أريد التحدث إلى موظف", "request_human", "en", "ar"),
    ("ok", "affirm", "de", "de"),  # no sign of a language: the conversation's stays
    ("ok", "affirm", None, "en"),
    ("/deny", "deny", "ar", "ar"),
    ("I want to talk to a person", "request_human", "de", "en"),
])
def test_the_reply_language(text: str, intent: str, slot: str | None, language: str) -> None:
    assert knowledge.Turn.of(tracker(text, intent, slot)).language == language


async def test_a_short_message_is_taken_as_the_nlu_says_without_asking_the_knowledge_base() -> None:
    no_index: Any = None  # the knowledge base must not be asked: any use of it fails
    short = knowledge.Turn.of(tracker("Ich will einen Mitarbeiter", "request_human"))
    assert not await knowledge._a_question(no_index, short)
    assert not await knowledge._a_question(no_index, knowledge.Turn.of(tracker("/deny", "deny")))
