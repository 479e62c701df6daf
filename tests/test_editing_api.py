"""The editors' REST API (docs/editing.md) on a real app, whose articles_dir is a copy of the project's
articles: the tests never change the repository's files."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.clients import http_json, sign_in
from harness.servers import ROOT, AppServer, free_port, serve_app
from knowledge_index.articles import load_articles

NEW = """---
id: bike-bell-fitting
title: Fitting a bell to your bike
tags: [bells, accessories]
questions:
  - Can you fit a bell to my bike?
---
Every Velora bike ships with a bell; our workshop fits one for free.
"""


@pytest.fixture(scope="module")
def articles(tmp_path_factory: pytest.TempPathFactory) -> Path:
    copy = tmp_path_factory.mktemp("editing") / "articles"
    shutil.copytree(ROOT / "training_data" / "articles", copy)
    return copy


@pytest.fixture(scope="module")
def app(articles: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppServer]:
    app = serve_app(tmp_path_factory.mktemp("editing-app"), f"http://127.0.0.1:{free_port()}",
                    {"CASEDESK_ARTICLES_DIR": str(articles)})
    app.add_agent("plain-agent")
    app.add_agent("writer", roles=["editor"])
    yield app
    app.stop()


@pytest.fixture
async def editor(app: AppServer) -> str:
    return await sign_in(app.url, "writer")


def snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


async def test_editors_list_search_and_read_articles(app: AppServer, editor: str, articles: Path) -> None:
    status, body = await http_json("GET", f"{app.url}/api/articles", token=editor)
    assert status == 200, body
    on_disk = load_articles(articles)
    assert [a["id"] for a in body["articles"]] == [a.id for a in on_disk]
    returns = next(a for a in body["articles"] if a["id"] == "bike-returns")
    original = next(a for a in on_disk if a.id == "bike-returns")
    assert returns == {"id": "bike-returns", "title": original.title, "locale": "en", "tags": list(original.tags),
                       "translation_of": None, "questions": len(original.questions), "draft": False,
                       "path": "bikes/bike-returns.md"}

    status, body = await http_json("GET", f"{app.url}/api/articles?q=fork+OIL", token=editor)
    assert status == 200, body
    assert "bike-suspension-oil-leak" in [a["id"] for a in body["articles"]]
    assert "bike-returns" not in [a["id"] for a in body["articles"]]

    status, body = await http_json("GET", f"{app.url}/api/articles/bike-returns", token=editor)
    assert status == 200, body
    article = body["article"]
    assert article["text"] == (articles / "bikes" / "bike-returns.md").read_text()
    assert article["questions"] == list(original.questions)
    assert article["body"] == original.body
    assert re.fullmatch(r"[0-9a-f]{64}", article["version"])

    status, body = await http_json("GET", f"{app.url}/api/articles/no-such-article", token=editor)
    assert (status, body["error"]["code"]) == (404, "not_found")
    status, body = await http_json("GET", f"{app.url}/api/articles?k=3", token=editor)
    assert (status, body["error"]["code"]) == (400, "invalid_payload")


async def test_create_writes_a_valid_file(app: AppServer, editor: str, articles: Path) -> None:
    status, body = await http_json("POST", f"{app.url}/api/articles",
                                   {"path": "bikes/bike-bell-fitting.md", "text": NEW}, token=editor)
    assert status == 201, body
    assert (articles / "bikes" / "bike-bell-fitting.md").read_text() == NEW
    assert "bike-bell-fitting" in [a.id for a in load_articles(articles)]
    assert body["article"]["id"] == "bike-bell-fitting"
    status, body = await http_json("POST", f"{app.url}/api/articles",
                                   {"path": "bikes/bike-bell-fitting.md", "text": NEW}, token=editor)
    assert (status, body["error"]["code"]) == (409, "conflict")


@pytest.mark.parametrize(("text", "where"), [
    (NEW.replace("title: Fitting a bell to your bike\n", ""), "bikes/bike-lights.md:1: missing required key 'title'"),
    (NEW.replace("tags:", "tagz:"), "bikes/bike-lights.md:4: unknown key 'tagz'"),
    (NEW.replace("bike-bell-fitting", "bike-returns"), "bikes/bike-lights.md:2: duplicate id 'bike-returns'"),
    ("no front matter\n", "bikes/bike-lights.md:1: missing front matter"),
])
async def test_an_invalid_article_is_refused_with_file_and_line_and_nothing_is_written(
        app: AppServer, editor: str, articles: Path, text: str, where: str) -> None:
    before = snapshot(articles)
    status, body = await http_json("POST", f"{app.url}/api/articles", {"path": "bikes/bike-lights.md",
                                                                        "text": text}, token=editor)
    assert (status, body["error"]["code"]) == (400, "invalid_payload"), body
    assert body["error"]["message"].startswith(f"{articles}/{where}"), body
    assert snapshot(articles) == before


async def test_an_update_based_on_a_stale_version_is_a_conflict(app: AppServer, editor: str, articles: Path) -> None:
    url = f"{app.url}/api/articles/bike-shipping"
    _, body = await http_json("GET", url, token=editor)
    first = body["article"]
    text = first["text"].replace("\n---\n", "\n---\nUpdated by the first editor.\n\n", 1)
    status, body = await http_json("PUT", url, {"text": text, "version": first["version"]}, token=editor)
    assert status == 200, body
    assert (articles / "bikes" / "bike-shipping.md").read_text() == text
    assert body["article"]["body"].startswith("Updated by the first editor.")

    stale = first["text"].replace("\n---\n", "\n---\nThe second editor's change.\n\n", 1)
    status, body = await http_json("PUT", url, {"text": stale, "version": first["version"]}, token=editor)
    assert (status, body["error"]["code"]) == (409, "conflict"), body
    assert (articles / "bikes" / "bike-shipping.md").read_text() == text

    status, body = await http_json("PUT", url, {"text": text.replace("title:", "titel:"),
                                                "version": first["version"]}, token=editor)
    assert (status, body["error"]["code"]) == (409, "conflict")  # a stale version, whatever the text
    _, body = await http_json("GET", url, token=editor)
    invalid = body["article"]["text"].replace("title:", "titel:")
    status, body = await http_json("PUT", url, {"text": invalid, "version": body["article"]["version"]}, token=editor)
    assert (status, body["error"]["code"]) == (400, "invalid_payload")
    assert body["error"]["message"] == (f"{articles}/bikes/bike-shipping.md:3: unknown key 'titel' (allowed: id, "
                                        "title, questions, locale, tags, url, translation_of, draft)")
    assert (articles / "bikes" / "bike-shipping.md").read_text() == text


@pytest.mark.parametrize("path", ["../escape.md", "../../escape.md", "/tmp/escape.md", "bikes/../../escape.md",
                                  ".git/x.md", "bikes/x.txt"])
async def test_paths_outside_the_articles_directory_are_refused(app: AppServer, editor: str, articles: Path,
                                                               path: str) -> None:
    before = snapshot(articles.parent)
    status, body = await http_json("POST", f"{app.url}/api/articles", {"path": path, "text": NEW}, token=editor)
    assert (status, body["error"]["code"]) == (400, "invalid_payload"), body
    assert snapshot(articles.parent) == before
    assert not Path("/tmp/escape.md").exists()


async def test_add_an_example_question(app: AppServer, editor: str, articles: Path) -> None:
    url = f"{app.url}/api/articles/bike-sizing/questions"
    before = (articles / "bikes" / "bike-sizing.md").read_text()
    status, body = await http_json("POST", url, {"question": "Which frame size: S or M?"}, token=editor)
    assert status == 201, body
    assert body["article"]["questions"][-1] == "Which frame size: S or M?"
    after = (articles / "bikes" / "bike-sizing.md").read_text()
    assert after.replace('  - "Which frame size: S or M?"\n', "") == before
    sizing = next(a for a in load_articles(articles) if a.id == "bike-sizing")
    assert sizing.questions[-1] == "Which frame size: S or M?"
    status, body = await http_json("POST", url, {"question": "Which frame size: S or M?"}, token=editor)
    assert (status, body["error"]["code"]) == (400, "invalid_payload")
    status, body = await http_json("POST", url, {"question": "and for kids?", "version": "0" * 64}, token=editor)
    assert (status, body["error"]["code"]) == (409, "conflict")


def kb_query(question: str) -> tuple[list[tuple[str, float]], str]:
    """The ranked articles and the decision line of ``casedesk kb query`` on the tests' index."""
    index = str(ROOT / ".cache" / "test-index")
    out = subprocess.run([sys.executable, "-m", "handoff", "kb", "query", "--index", index, question], cwd=ROOT,
                         check=True, capture_output=True, text=True).stdout
    ranked = [(m[1], float(m[0])) for m in re.findall(r"^\s*\d+\s+([0-9.]+)\s+[-0-9.]+\s+(\S+)", out, re.M)]
    decision = re.search(r"^decision: (.*)$", out, re.M)
    assert decision, out
    return ranked, decision.group(1)


@pytest.mark.parametrize("question", ["How do I return a bike?", "my fork leaks oil",
                                      "What is the capital of France?"])
async def test_trying_a_question_shows_what_the_bot_would_do(app: AppServer, editor: str, question: str) -> None:
    status, body = await http_json("POST", f"{app.url}/api/kb/try", {"question": question}, token=editor)
    assert status == 200, body
    ranked, decision_line = kb_query(question)
    assert [(h["article_id"], round(h["score"], 3)) for h in body["hits"]] == ranked
    decision: dict[str, Any] = body["decision"]
    offered = f" {', '.join(decision['article_ids'])}" if decision["article_ids"] else ""
    assert f"{decision['kind']}{offered} ({decision['reason']})" == decision_line
    assert body["language"] == "en"
    expected = {"How do I return a bike?": ("answer", ["bike-returns"]),
                "What is the capital of France?": ("escalate", [])}.get(question)
    if expected:
        assert (decision["kind"], decision["article_ids"]) == expected


@pytest.mark.parametrize(("method", "path", "payload"), [
    ("GET", "/api/articles", None),
    ("GET", "/api/articles/bike-returns", None),
    ("POST", "/api/articles", {"path": "bikes/x.md", "text": NEW}),
    ("PUT", "/api/articles/bike-returns", {"text": NEW, "version": "0" * 64}),
    ("POST", "/api/articles/bike-returns/questions", {"question": "q?"}),
    ("POST", "/api/kb/try", {"question": "How do I return a bike?"}),
])
async def test_only_editors_may(app: AppServer, articles: Path, method: str, path: str, payload: Any) -> None:
    before = snapshot(articles)
    status, body = await http_json(method, f"{app.url}{path}", payload)
    assert (status, body["error"]["code"]) == (401, "unauthorized")
    status, body = await http_json(method, f"{app.url}{path}", payload, token="not-a-token")
    assert (status, body["error"]["code"]) == (401, "unauthorized")
    agent = await sign_in(app.url, "plain-agent")
    status, body = await http_json(method, f"{app.url}{path}", payload, token=agent)
    assert (status, body["error"]["code"]) == (403, "forbidden")
    assert snapshot(articles) == before
