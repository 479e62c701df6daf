"""The quality gate's regression questions (knowledge_index/quality_gate.py): which article each example
question expects, and the development set's file checks. The gate's comparison runs on the real stack
in tests/test_publishing.py."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from knowledge_index.articles import ArticleError, load_articles
from knowledge_index.multilingual import query_language
from knowledge_index.quality_gate import ESCALATE, Question, check, questions, read_development_set
from knowledge_index.storage import ArticleRecord

ROOT = Path(__file__).resolve().parent.parent


def article(article_id: str, *asked: str) -> ArticleRecord:
    return ArticleRecord(article_id, article_id.title(), None, "Text.", "en", (), asked)


def expected(found: list[Question]) -> dict[str, str]:
    return {q.text: q.expected for q in found if q.source == "examples"}


def test_a_question_keeps_the_article_that_held_it_when_copied_and_follows_it_when_moved() -> None:
    published = [article("returns", "How do I return a bike?", "Can I send it back?"),
                 article("shipping", "How much is shipping?", "Do you ship to Austria?")]
    now = [article("returns", "How do I return a bike?"),  # "Can I send it back?" moved to shipping
           article("shipping", "How do I return a bike?", "Can I send it back?",  # one copied, one moved
                   "When will it arrive?")]  # new; "How much is shipping?" and the Austria one removed
    assert expected(questions(now, published, [])) == {
        "How do I return a bike?": "returns",  # a copy elsewhere does not take it
        "Can I send it back?": "shipping",  # moved
        "When will it arrive?": "shipping",  # new
        "How much is shipping?": "shipping",  # removed from an article that still exists: still expected
        "Do you ship to Austria?": "shipping",
    }
    gone = questions([article("returns", "How do I return a bike?")], published, [])
    assert "How much is shipping?" not in expected(gone)  # its article is gone too


def test_the_development_set_names_existing_articles_with_file_and_line(tmp_path: Path) -> None:
    shipped = read_development_set(ROOT / "training_data" / "regression-questions.yml")
    assert len(shipped) >= 40 and {q.source for q in shipped} == {"development"}
    assert sum(q.expected == ESCALATE for q in shipped) >= 5
    path = tmp_path / "questions.yml"
    path.write_text("questions:\n  - question: where is my bike\n    answer: bike-tracking\n  - question: hi\n")
    with pytest.raises(ArticleError, match=rf"^{path}:4: each item needs exactly `question` and `answer`"):
        read_development_set(path)
    path.write_text("questions:\n  - question: where is my bike\n    answer: bike-tracking\n")
    found = read_development_set(path)
    with pytest.raises(ArticleError, match="answers name articles that do not exist: bike-tracking"):
        questions([article("returns")], [], found, str(path))
    path.write_text("questions: [\n")
    with pytest.raises(ArticleError, match=rf"^{path}:2: not valid YAML"):
        read_development_set(path)
    assert read_development_set(tmp_path / "missing.yml") == []


def test_the_shipped_development_set_covers_near_misses_and_languages_with_the_ids_the_bot_returns() -> None:
    shipped = read_development_set(ROOT / "training_data" / "regression-questions.yml")
    articles = load_articles(ROOT / "training_data" / "articles")
    by_id = {a.id: a for a in articles}
    # A question expects its topic's article in the question's language when there is one, else the
    # original (KnowledgeIndex.search): a German question about returns expects bike-returns-de.
    versions = {(a.translation_of or a.id, a.locale.split("-")[0]): a.id for a in articles}
    for q in shipped:
        if q.expected != ESCALATE:
            topic = by_id[q.expected].translation_of or q.expected
            assert q.expected == versions.get((topic, query_language(q.text)), topic), q.text
    by_language: dict[str, list[Question]] = {}
    for q in shipped:
        by_language.setdefault(query_language(q.text), []).append(q)
    assert set(by_language) == {"en", "de", "ar"}
    for language in ("de", "ar"):
        answerable = [q for q in by_language[language] if q.expected != ESCALATE]
        assert len(answerable) >= 20 and len(by_language[language]) - len(answerable) >= 3
    assert sum(q.expected == ESCALATE for q in by_language["en"]) >= 25 + 7  # near misses and off-topic ones
    assert any(q.expected == "bike-returns-de" for q in by_language["de"])


def test_answering_a_question_to_hand_over_refuses_the_publish_on_its_own(tmp_path: Path) -> None:
    from knowledge_index.embedder import MiniLMEmbedder
    from knowledge_index.index import KnowledgeIndex

    fixtures = load_articles(ROOT / "tests" / "fixtures" / "articles")
    embedder = MiniLMEmbedder()
    published = KnowledgeIndex.build(fixtures, embedder, tmp_path / "published")
    near_miss = "Do you sell gift vouchers?"  # no article covers it; the payment article shares words
    payments = next(a for a in fixtures if a.id == "payment-methods")
    edited = [a if a.id != "payment-methods" else dataclasses.replace(a, questions=(*a.questions, near_miss))
              for a in fixtures]
    candidate = KnowledgeIndex.build(edited, embedder, tmp_path / "candidate")
    development = [Question(near_miss, ESCALATE, "development"),
                   *(Question(text, "payment-methods", "development") for text in payments.questions)]
    development += [Question(f"{text} please", "bike-returns", "development")
                    for text in next(a for a in fixtures if a.id == "bike-returns").questions]
    report = check(candidate, published, development, tolerance=0.2)
    assert report.questions["handovers"] == 1
    assert report.published["handovers"] == 1.0 and report.candidate["handovers"] == 0.0
    # The development share as a whole drops by less than the tolerance; the handovers share refuses it.
    assert report.published["development"] - report.candidate["development"] <= 0.2
    assert not report.passed and report.refused_because == ["handovers: 100.0% -> 0.0% (tolerance 20.0%)"]
