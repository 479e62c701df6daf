"""The message catalogue (handoff/catalogue): every key in every language, with the same values to
fill in; the widget's own labels in the same languages."""

from __future__ import annotations

import re
import string
from pathlib import Path

import pytest

from bot.actions import knowledge
from handoff import catalogue

WIDGET = Path(__file__).resolve().parent.parent / "connectors" / "static" / "widget.js"


def named_values(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def test_the_catalogue_speaks_english_german_and_arabic() -> None:
    assert catalogue.languages() == ("en", "ar", "de")


@pytest.mark.parametrize("language", ["de", "ar"])
def test_every_key_is_in_every_language_with_the_same_values_to_fill_in(language: str) -> None:
    english = catalogue.keys("en")
    assert catalogue.keys(language) == english
    for key in sorted(english):
        translated, original = catalogue.text(language, key), catalogue.text("en", key)
        assert translated.strip() and translated != original, key
        assert named_values(translated) == named_values(original), key


def test_texts_are_chosen_by_language_with_english_for_any_other() -> None:
    assert catalogue.text("de-AT", "system.joined", agent="Anna") == "Anna ist der Unterhaltung beigetreten."
    assert catalogue.text("ar_EG", "bot.yes") == "نعم"
    assert catalogue.text("fr", "bot.no") == catalogue.text(None, "bot.no") == "No"
    assert catalogue.language_of("other") == "en"
    with pytest.raises(KeyError):
        catalogue.text("de", "system.no_such_message")


def test_the_bot_has_a_phrase_for_every_reply_it_gives() -> None:
    reasons = {"low_confidence", "customer_request", "answer_not_helpful", "no_offered_article_fits",
               "answer_helped", "goodbye", "did_it_help", "yes", "no", "neither", "which", "ask_question"}
    for language in catalogue.languages():
        phrases = catalogue.phrases(language, "bot")
        assert reasons | set(knowledge.SMALL_TALK.values()) <= set(phrases)


def test_the_widget_labels_are_in_the_catalogues_languages_each_with_every_label() -> None:
    source = WIDGET.read_text()
    table = source[source.index("var I18N = {"):source.index("};", source.index("var I18N = {"))]
    blocks = dict(re.findall(r"\n    (\w\w): \{(.*?)\}(?=,\n    \w\w: \{|\n  $|$)", table, re.S))
    assert sorted(blocks) == sorted(catalogue.languages())
    labels = {language: set(re.findall(r"(\w+): \"", body)) for language, body in blocks.items()}
    assert labels["de"] == labels["en"] == labels["ar"]
