"""``casedesk kb article``: the article files from the command line, on a copy of the project's articles."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from knowledge_index.articles import load_articles

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def articles(tmp_path: Path) -> Path:
    shutil.copytree(ROOT / "training_data" / "articles", tmp_path / "articles")
    return tmp_path / "articles"


def casedesk(articles: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "handoff", "kb", "article", *args, "--articles", str(articles)],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)


def test_list_and_show(articles: Path) -> None:
    listed = casedesk(articles, "list")
    assert listed.returncode == 0, listed.stderr
    ids = [line.split()[0] for line in listed.stdout.splitlines()[:-1]]
    assert ids == [a.id for a in load_articles(articles)]
    assert listed.stdout.splitlines()[-1] == f"{len(ids)} articles"
    found = casedesk(articles, "list", "fork", "oil")
    assert "bike-suspension-oil-leak" in found.stdout and "bike-returns " not in found.stdout

    shown = casedesk(articles, "show", "bike-returns")
    assert shown.returncode == 0, shown.stderr
    head, text = shown.stdout.split("\n\n", 1)
    assert head.splitlines()[0] == "path: bikes/bike-returns.md"
    assert text == (articles / "bikes" / "bike-returns.md").read_text()
    missing = casedesk(articles, "show", "no-such-article")
    assert missing.returncode == 2 and "no article has the id 'no-such-article'" in missing.stderr


def test_add_question(articles: Path) -> None:
    added = casedesk(articles, "add-question", "bike-returns", "Can I return it after six weeks?")
    assert added.returncode == 0, added.stderr
    returns = next(a for a in load_articles(articles) if a.id == "bike-returns")
    assert returns.questions[-1] == "Can I return it after six weeks?"
    stale = casedesk(articles, "add-question", "bike-returns", "another", "--version", "0" * 64)
    assert stale.returncode == 2 and "changed since version" in stale.stderr
    assert next(a for a in load_articles(articles) if a.id == "bike-returns") == returns


def test_check_prints_file_and_line_of_every_problem(articles: Path) -> None:
    ok = casedesk(articles, "check")
    assert (ok.returncode, ok.stdout) == (0, "all article files are valid\n")
    sizing = articles / "bikes" / "bike-sizing.md"
    sizing.write_text(sizing.read_text().replace("title:", "titel:"))
    shipping = articles / "bikes" / "bike-shipping.md"
    shipping.write_text(shipping.read_text().replace("questions:", "questions: oops\nignored:", 1))
    bad = casedesk(articles, "check")
    assert bad.returncode == 1
    lines = sorted(bad.stdout.splitlines())
    assert len(lines) == 2
    assert lines[0].startswith(f"{shipping}:8: unknown key 'ignored'")
    assert lines[1] == (f"{sizing}:3: unknown key 'titel' (allowed: id, title, questions, locale, tags, url, "
                        "translation_of, draft)")
