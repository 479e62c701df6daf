"""Draft articles (`draft: true`, knowledge_index/articles.py): parsed and validated like any key, left
out of what the index is built from, listed and written by ArticleFiles."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from harness.servers import ROOT
from knowledge_index.article_files import ArticleFiles
from knowledge_index.articles import ArticleError, load_articles, parse_article
from knowledge_index.embedder import MiniLMEmbedder
from knowledge_index.index import ensure_index

ARTICLE = """---
id: {id}
title: Gift cards
{draft}questions:
  - Do you sell gift cards?
---
Not yet, sorry.
"""


def text(article_id: str = "gift-cards", draft: str | None = "true") -> str:
    return ARTICLE.format(id=article_id, draft="" if draft is None else f"draft: {draft}\n")


def test_draft_is_an_optional_boolean() -> None:
    assert parse_article(text(draft=None), "a.md").draft is False
    assert parse_article(text(draft="true"), "a.md").draft is True
    assert parse_article(text(draft="false"), "a.md").draft is False
    for value, described in (('"true"', "a string"), ("1", "a number"), ("", "null"), ("[yes]", "a list")):
        with pytest.raises(ArticleError) as caught:
            parse_article(text(draft=value), "a.md")
        assert str(caught.value) == f"a.md:4: draft must be true or false, not {described}", value


def test_load_articles_leaves_drafts_out_unless_asked(tmp_path: Path) -> None:
    (tmp_path / "gift-cards.md").write_text(text())
    (tmp_path / "gift-vouchers.md").write_text(text("gift-vouchers", None))
    assert [a.id for a in load_articles(tmp_path)] == ["gift-vouchers"]
    assert [(a.id, a.draft) for a in load_articles(tmp_path, drafts=True)] == [
        ("gift-cards", True), ("gift-vouchers", False)]
    # A draft's id is taken all the same.
    (tmp_path / "again.md").write_text(text("gift-cards", None))
    with pytest.raises(ArticleError, match="duplicate id 'gift-cards'"):
        load_articles(tmp_path)


def test_a_published_translation_of_a_draft_is_refused(tmp_path: Path) -> None:
    (tmp_path / "gift-cards.md").write_text(text())
    translation = text("gift-cards-de", None).replace(
        "questions:", "locale: de\ntranslation_of: gift-cards\nquestions:")
    (tmp_path / "gift-cards-de.md").write_text(translation)
    with pytest.raises(ArticleError, match="that article is a draft"):
        load_articles(tmp_path)
    (tmp_path / "gift-cards-de.md").write_text(translation.replace("questions:", "draft: true\nquestions:"))
    assert load_articles(tmp_path) == []


def test_the_index_has_no_drafts_but_the_editors_files_do(tmp_path: Path) -> None:
    articles = tmp_path / "articles"
    articles.mkdir()
    shutil.copy(ROOT / "training_data" / "articles" / "bikes" / "bike-returns.md", articles)
    files = ArticleFiles(articles)
    created = files.create_draft("gift-cards", lambda article_id: text(article_id))
    again = files.create_draft("gift-cards", lambda article_id: text(article_id))
    assert (created.path, created.article.draft, again.path) == ("drafts/gift-cards.md", True, "drafts/gift-cards-2.md")
    assert [(f.article.id, f.article.draft) for f in files.all()] == [
        ("bike-returns", False), ("gift-cards", True), ("gift-cards-2", True)]
    assert files.get("gift-cards").text == text("gift-cards")

    embedder = MiniLMEmbedder()
    index, _ = ensure_index(articles, tmp_path / "index", embedder)
    assert (len(index.articles), index.article("gift-cards"), index.article("bike-returns") is not None) == (
        1, None, True)
    # Published by removing the draft line, the next build has it.
    published = files.update("gift-cards", text("gift-cards", None), created.version)
    assert published.article.draft is False
    index, rebuilt = ensure_index(articles, tmp_path / "index", embedder)
    assert rebuilt and index.article("gift-cards") is not None
