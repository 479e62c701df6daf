"""The quality gate's regression questions (knowledge_index/quality_gate.py): which article each example
question expects, and the development set's file checks. The gate's comparison runs on the real stack
in tests/test_publishing.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from knowledge_index.articles import ArticleError
from knowledge_index.quality_gate import ESCALATE, Question, questions, read_development_set
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
