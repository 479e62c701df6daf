"""Editing article files (knowledge_index/article_files.py) on a copy of the project's articles."""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

import pytest

from knowledge_index.article_files import ArticleFiles, ArticleNotFound, EditRefused, VersionConflict
from knowledge_index.articles import ArticleError, load_articles

ROOT = Path(__file__).resolve().parent.parent
NEW = """---
id: bike-bell-fitting
title: Fitting a bell to your bike
tags: [bells]
questions: [Can you fit a bell, "Do bikes come with a bell: yes or no"]
---
Every Velora bike ships with a bell; our workshop fits one for free.
"""


@pytest.fixture
def files(tmp_path: Path) -> ArticleFiles:
    shutil.copytree(ROOT / "training_data" / "articles", tmp_path / "articles")
    return ArticleFiles(tmp_path / "articles")


def snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_lists_and_searches_every_article(files: ArticleFiles) -> None:
    listed = files.all()
    assert [f.article.id for f in listed] == [a.id for a in load_articles(files.root)]
    found = files.search("fork OIL")
    assert "bike-suspension-oil-leak" in [f.article.id for f in found]
    assert all("oil" in (f.article.body + " ".join(f.article.questions)).lower() for f in found)


def test_create_writes_a_valid_file_and_update_needs_the_current_version(files: ArticleFiles) -> None:
    created = files.create("bikes/bike-bell-fitting.md", NEW)
    assert (files.root / "bikes" / "bike-bell-fitting.md").read_text() == NEW
    assert created.article.questions == ("Can you fit a bell", "Do bikes come with a bell: yes or no")
    assert "bike-bell-fitting" in [a.id for a in load_articles(files.root)]
    with pytest.raises(VersionConflict):
        files.create("bikes/bike-bell-fitting.md", NEW)

    changed = files.update("bike-bell-fitting", NEW.replace("for free", "for EUR 5"), created.version)
    assert changed.version != created.version
    with pytest.raises(VersionConflict):
        files.update("bike-bell-fitting", NEW, created.version)
    assert "EUR 5" in files.get("bike-bell-fitting").article.body
    with pytest.raises(EditRefused, match="id"):
        files.update("bike-bell-fitting", NEW.replace("id: bike-bell-fitting", "id: other-id"), changed.version)


@pytest.mark.parametrize(("text", "error"), [
    (NEW.replace("title: Fitting a bell to your bike\n", ""), "bike-bell-fitting.md:1: missing required key 'title'"),
    (NEW.replace("tags:", "tagz:"), "bike-bell-fitting.md:4: unknown key 'tagz'"),
    (NEW.replace("tags: [bells]", "tags: [bells"), "bike-bell-fitting.md:5: invalid YAML"),
    (NEW.replace("bike-bell-fitting", "bike-returns"), "bike-bell-fitting.md:2: duplicate id 'bike-returns'"),
    (NEW.replace("tags:", "translation_of: no-such-article\ntags:"), "bike-bell-fitting.md:4: translation_of"),
])
def test_an_invalid_article_is_refused_with_file_and_line_and_nothing_is_written(
        files: ArticleFiles, text: str, error: str) -> None:
    before = snapshot(files.root)
    with pytest.raises(ArticleError) as refused:
        files.create("bikes/bike-bell-fitting.md", text)
    assert str(refused.value).startswith(str(files.root / "bikes") + "/")
    assert error in str(refused.value)
    original = files.get("bike-returns")
    with pytest.raises(ArticleError):
        files.update("bike-returns", original.text.replace("title:", "titel:"), original.version)
    assert snapshot(files.root) == before


@pytest.mark.parametrize("path", ["../escape.md", "/tmp/escape.md", "bikes/../../escape.md", ".hidden/x.md",
                                  "bikes/x.txt", "bikes\\..\\x.md", ""])
def test_paths_outside_the_directory_are_refused(files: ArticleFiles, path: str) -> None:
    before = snapshot(files.root.parent)
    with pytest.raises(EditRefused):
        files.create(path, NEW)
    assert snapshot(files.root.parent) == before


def test_a_symbolic_link_out_of_the_directory_is_refused(files: ArticleFiles, tmp_path: Path) -> None:
    (tmp_path / "outside").mkdir()
    (files.root / "linked").symlink_to(tmp_path / "outside")
    with pytest.raises(EditRefused, match="outside"):
        files.create("linked/x.md", NEW)
    assert not list((tmp_path / "outside").iterdir())


def test_an_article_reached_through_a_symbolic_link_out_of_the_directory_is_not_written(
        files: ArticleFiles, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "bike-bell-fitting.md").write_text(NEW)
    (files.root / "linked").symlink_to(outside)
    with pytest.raises(ArticleNotFound):  # the search for articles does not follow links to directories
        files.add_question("bike-bell-fitting", "bell?")
    assert "bike-bell-fitting" not in [item.article.id for item in files.all()]
    assert (outside / "bike-bell-fitting.md").read_text() == NEW


def test_add_question_keeps_the_rest_of_the_file(files: ArticleFiles) -> None:
    original = files.get("bike-returns")
    added = files.add_question("bike-returns", "Can I return it: after 40 days?")
    assert added.article.questions == (*original.article.questions, "Can I return it: after 40 days?")
    assert added.text.replace('  - "Can I return it: after 40 days?"\n', "") == original.text
    with pytest.raises(EditRefused):
        files.add_question("bike-returns", "Can I return it: after 40 days?")
    with pytest.raises(VersionConflict):
        files.add_question("bike-returns", "another one", based_on=original.version)
    flow = files.create("bikes/bike-bell-fitting.md", NEW)
    assert files.add_question("bike-bell-fitting", "bell?").article.questions == (*flow.article.questions, "bell?")


def test_check_reports_every_invalid_file(files: ArticleFiles) -> None:
    assert files.check() == []
    for name in ("bike-returns", "bike-basic-service"):
        path = files.root / "bikes" / f"{name}.md"
        path.write_text(path.read_text().replace("title:", "titel:"))
    errors = sorted(str(e) for e in files.check())
    assert len(errors) == 2
    assert errors[0].endswith("bike-basic-service.md:3: unknown key 'titel' (allowed: id, title, questions, locale, "
                              "tags, url, translation_of, draft)")


def test_of_two_edits_based_on_one_version_exactly_one_is_written(files: ArticleFiles) -> None:
    """Two editors (two `ArticleFiles`, as two app processes would have) update one article at once."""
    original = files.get("bike-returns")
    outcomes: list[str] = []
    start = threading.Barrier(8)

    def edit(number: int) -> None:
        text = original.text.replace("title: Returning a bike", f"title: Returning a bike ({number})")
        start.wait()
        try:
            ArticleFiles(files.root).update("bike-returns", text, original.version)
            outcomes.append(f"written {number}")
        except VersionConflict:
            outcomes.append("conflict")

    threads = [threading.Thread(target=edit, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    written = [o for o in outcomes if o.startswith("written")]
    assert len(written) == 1 and outcomes.count("conflict") == 7, outcomes
    assert files.get("bike-returns").article.title == f"Returning a bike ({written[0].split()[1]})"
