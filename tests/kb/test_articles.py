"""Tests for knowledge_index's article files: parsing, validation with file and line, translations, the
fingerprint, and the entries an article is indexed by."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from knowledge_index.articles import Article, ArticleError, fingerprint, load_articles, parse_article
from knowledge_index.entries import entries_for, first_paragraph
from tests.kb.kb_fixture import FIXTURE_IDS, FIXTURES, GOOD, replace_line, write

# --- articles ----------------------------------------------------------------------------------

def test_parse_good_article(tmp_path: Path) -> None:
    path = write(tmp_path, "returns.md", GOOD)

    [article] = load_articles(tmp_path)

    assert article == Article(
        id="bike-returns",
        title="Returning a bike",
        body="You can return an unused bike within 30 days.\n\nRefunds take 5 days.",
        locale="en",
        tags=("returns", "bikes"),
        questions=("How do I return a bike?", "Can I send my bicycle back?"),
        url=None,
        path=str(path),
    )


def test_parse_all_optional_keys_crlf_and_bom(tmp_path: Path) -> None:
    text = (
        "\ufeff---\r\nid: table-assembly\r\ntitle: Assembling a table\r\nlocale: de-CH\r\n"
        "tags: []\r\nurl: https://velora.example/help/table   # optional\r\n"
        "questions: ['How do I assemble my table?']\r\n---\r\n\r\nUse the bolts.\r\n"
    )
    (tmp_path / "table.md").write_bytes(text.encode("utf-8"))
    [article] = load_articles(tmp_path)
    assert article == parse_article(text.lstrip("\ufeff"), str(tmp_path / "table.md"))
    assert (article.locale, article.tags, article.url) == ("de-CH", (), "https://velora.example/help/table")
    assert article.questions == ("How do I assemble my table?",)
    assert article.body == "Use the bolts."


def test_load_fixture_articles_recursively_sorted_by_id() -> None:
    articles = load_articles(FIXTURES)
    assert [article.id for article in articles] == FIXTURE_IDS
    by_id = {article.id: article for article in articles}
    assert by_id["bike-returns"].path == str(FIXTURES / "bikes" / "bike-returns.md")
    assert by_id["warranty"].url is None
    assert by_id["shipping-times"].locale == "en"


INVALID_ARTICLES = {
    # name: (text, line, message fragment)
    "no front matter": ("Just text.\n", 1, "missing front matter"),
    "no opening delimiter": (GOOD.split("\n", 1)[1], 1, "missing front matter"),
    "front matter not closed": (replace_line(GOOD, 8, "body starts"), 1, "front matter is not closed"),
    "empty front matter": ("---\n---\nText.\n", 1, "front matter is empty"),
    "front matter is a list": ("---\n- a\n- b\n---\nText.\n", 2, "must be a mapping"),
    "yaml syntax error": (replace_line(GOOD, 3, "title: Returning: a bike"), 3, "invalid YAML: mapping values"),
    "yaml unclosed flow list": (replace_line(GOOD, 4, "tags: [returns, bikes"), 5, "flow sequence at line 4"),
    "yaml tab indentation": (replace_line(GOOD, 6, "\t- How do I return a bike?"), 6, "invalid YAML"),
    "missing id": (replace_line(GOOD, 2, None), 1, "missing required key 'id'"),
    "missing title": (replace_line(GOOD, 3, None), 1, "missing required key 'title'"),
    "missing questions": (
        "---\nid: bike-returns\ntitle: Returning a bike\n---\nText.\n",
        1,
        "missing required key 'questions'",
    ),
    "missing body": (GOOD.split("---\nYou")[0] + "---\n", 8, "missing body"),
    "blank body": (GOOD.split("---\nYou")[0] + "---\n  \n\n", 8, "missing body"),
    "empty title": (replace_line(GOOD, 3, 'title: ""'), 3, "title must not be empty"),
    "null title": (replace_line(GOOD, 3, "title:"), 3, "title must not be empty"),
    "title is a list": (replace_line(GOOD, 3, "title: [a, b]"), 3, "title must be a string, not a list"),
    "title is a date": (replace_line(GOOD, 3, "title: 2024-01-01"), 3, "not a date (quote it)"),
    "id is a number": (replace_line(GOOD, 2, "id: 42"), 2, "id must be a string, not a number"),
    "id with capitals": (replace_line(GOOD, 2, "id: Bike_Returns"), 2, "id 'Bike_Returns' must be"),
    "id too short": (replace_line(GOOD, 2, "id: b"), 2, "id 'b' must be"),
    "id starts with dash": (replace_line(GOOD, 2, "id: -bike"), 2, "id '-bike' must be"),
    "tags is a string": (replace_line(GOOD, 4, "tags: returns"), 4, "tags must be a list of strings, not a string"),
    "questions is a string": (
        "---\nid: bike-returns\ntitle: Returning a bike\nquestions: How?\n---\nText.\n",
        4,
        "questions must be a list of strings",
    ),
    "questions empty list": (
        "---\nid: bike-returns\ntitle: Returning a bike\nquestions: []\n---\nText.\n",
        4,
        "questions must not be empty",
    ),
    "empty question": (replace_line(GOOD, 7, '  - ""'), 7, "questions must not contain empty items"),
    "blank question": (replace_line(GOOD, 7, '  - "   "'), 7, "questions must not contain empty items"),
    "null question": (replace_line(GOOD, 7, "  -"), 7, "questions must not contain empty items"),
    "question is a number": (replace_line(GOOD, 7, "  - 42"), 7, "questions items must be strings, not a number"),
    "unknown key": (replace_line(GOOD, 4, "author: me"), 4, "unknown key 'author'"),
    "duplicate key": (replace_line(GOOD, 4, "title: Again"), 4, "duplicate key 'title'"),
    "bad url": (replace_line(GOOD, 4, "url: velora.example/help"), 4, "must be an absolute http(s) URL"),
    "bad locale": (replace_line(GOOD, 4, "locale: english please"), 4, "locale 'english please'"),
}


@pytest.mark.parametrize("name", list(INVALID_ARTICLES))
def test_invalid_article_reports_file_and_line(tmp_path: Path, name: str) -> None:
    text, line, fragment = INVALID_ARTICLES[name]
    write(tmp_path, "good.md", GOOD.replace("bike-returns", "other-article"))
    bad = write(tmp_path, "sub/bad.md", text)

    with pytest.raises(ArticleError) as caught:
        load_articles(tmp_path)

    error = caught.value
    assert (error.path, error.line) == (str(bad), line)
    assert fragment in error.message
    assert str(error) == f"{bad}:{line}: {error.message}"


def test_duplicate_ids_name_both_files(tmp_path: Path) -> None:
    first = write(tmp_path, "a/returns.md", GOOD)
    second = write(tmp_path, "b/returns-again.md", "---\n# same id\n" + GOOD.split("\n", 1)[1])

    with pytest.raises(ArticleError) as caught:
        load_articles(tmp_path)

    error = caught.value
    assert (error.path, error.line) == (str(second), 3)
    assert f"duplicate id 'bike-returns': already used by {first}:2" in str(error)


def translation(article_id: str, locale: str, of: str) -> str:
    return (f"---\nid: {article_id}\ntitle: Ein Fahrrad zurückgeben\nlocale: {locale}\ntranslation_of: {of}\n"
            "questions:\n  - Wie gebe ich ein Fahrrad zurück?\n---\nInnerhalb von 30 Tagen.\n")


def test_translations_are_read_and_checked_across_files(tmp_path: Path) -> None:
    write(tmp_path, "returns.md", GOOD)
    german = write(tmp_path, "de/returns.md", translation("bike-returns-de", "de", "bike-returns"))
    loaded = {article.id: article for article in load_articles(tmp_path)}
    assert loaded["bike-returns-de"].translation_of == "bike-returns"
    assert loaded["bike-returns"].translation_of is None
    plain = fingerprint(loaded.values())

    cases = [
        ("bike-returns-de", "de", "bike-return", "translation_of 'bike-return': no article has that id"),
        ("bike-returns-de", "en", "bike-returns", "translation_of 'bike-returns': both articles have locale 'en'"),
        ("bike-returns-de", "de", "bike-returns-de", "translation_of names the article itself"),
    ]
    for article_id, locale, of, message in cases:
        german.write_text(translation(article_id, locale, of), encoding="utf-8")
        with pytest.raises(ArticleError) as caught:
            load_articles(tmp_path)
        assert (caught.value.path, caught.value.line, caught.value.message) == (str(german), 5, message)

    german.write_text(translation("bike-returns-de", "de", "bike-returns"), encoding="utf-8")
    second = write(tmp_path, "de/returns-2.md", translation("bike-returns-de2", "de-AT", "bike-returns-de"))
    with pytest.raises(ArticleError, match="that article is itself a translation; name its original 'bike-returns'"):
        load_articles(tmp_path)
    second.write_text(translation("bike-returns-de2", "DE", "bike-returns"), encoding="utf-8")
    with pytest.raises(ArticleError) as caught:
        load_articles(tmp_path)
    assert str(caught.value) == f"{second}:5: 'bike-returns' already has a 'DE' translation: {german}"
    second.unlink()
    assert fingerprint(load_articles(tmp_path)) == plain
    german.write_text(translation("bike-returns-de", "de-CH", "bike-returns"), encoding="utf-8")
    assert fingerprint(load_articles(tmp_path)) != plain  # the locale is content


def test_missing_directory_and_empty_directory(tmp_path: Path) -> None:
    with pytest.raises(ArticleError, match="no such articles directory"):
        load_articles(tmp_path / "nope")
    write(tmp_path, ".hidden/draft.md", "not an article")
    assert load_articles(tmp_path) == []


def test_fingerprint_depends_on_content_not_paths_or_order(tmp_path: Path) -> None:
    articles = load_articles(FIXTURES)
    moved = tmp_path / "elsewhere"
    shutil.copytree(FIXTURES, moved)
    assert fingerprint(load_articles(moved)) == fingerprint(articles)
    assert fingerprint(reversed(articles)) == fingerprint(articles)
    assert re.fullmatch(r"[0-9a-f]{64}", fingerprint(articles))

    edited = moved / "warranty.md"
    edited.write_text(edited.read_text(encoding="utf-8").replace("2-year", "3-year"), encoding="utf-8")
    assert fingerprint(load_articles(moved)) != fingerprint(articles)


def test_entries_are_questions_title_and_first_paragraph() -> None:
    by_id = {article.id: article for article in load_articles(FIXTURES)}
    entries = entries_for(by_id["shipping-times"])
    assert [entry.kind for entry in entries] == ["question", "question", "question", "title", "body"]
    # The body starts with a heading, which is skipped; markup is removed.
    assert entries[-1].text.startswith("Orders leave our warehouse within 2 business days.")
    assert first_paragraph("Open **Orders** and [print the label](https://x.example).\n\nMore.") == (
        "Open Orders and print the label."
    )
