"""The knowledge base editor page (/panel/editor, docs/editing.md) in a real browser (Debian's Chromium driven
by playwright) against a real app whose articles_dir is a copy of the project's articles: the sign-in and its
role check, searching, opening and editing an article (the file in the copy changes), an example question
added, a conflict, an invalid edit's file:line message, and trying a question.

The screenshot goes to test-artifacts/editor-page.png (git-ignored)."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, expect

from harness.servers import ROOT, AppServer, free_port, serve_app
from knowledge_index.articles import load_articles
from tests.browser import ARTIFACTS, XSS, open_page, sign_in_staff

PASSWORD = "correct horse battery"
ARTICLE = "bike-suspension-oil-leak"


@pytest.fixture(scope="module")
def articles(tmp_path_factory: pytest.TempPathFactory) -> Path:
    copy = tmp_path_factory.mktemp("editor-page") / "articles"
    shutil.copytree(ROOT / "training_data" / "articles", copy)
    return copy


@pytest.fixture(scope="module")
def app(articles: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppServer]:
    app = serve_app(tmp_path_factory.mktemp("editor-page-app"), f"http://127.0.0.1:{free_port()}",
                    {"CASEDESK_ARTICLES_DIR": str(articles)})
    app.add_agent("plain-agent")
    app.add_agent("writer", roles=["editor"])
    app.add_agent("agent-writer", roles=["agent", "editor"])
    yield app
    app.stop()


async def test_editors_search_edit_and_try_questions(app: AppServer, articles: Path, browser: Browser) -> None:
    errors: list[str] = []
    page = await open_page(browser, f"{app.url}/panel/editor", errors)
    path = articles / "bikes" / f"{ARTICLE}.md"
    original = load_articles(articles)
    before = next(a for a in original if a.id == ARTICLE)

    # -- an account without the editor role is told so
    await sign_in_staff(page, "plain-agent")
    await expect(page.get_by_test_id("denied-message")).to_contain_text("does not have the editor role")
    await expect(page.get_by_test_id("editor-view")).to_be_hidden()
    await page.get_by_test_id("signout").click()
    await expect(page.get_by_test_id("login-view")).to_be_visible()

    # -- an editor sees every article, with its locale, tags and number of example questions
    await sign_in_staff(page, "writer")
    await expect(page.get_by_test_id("editor-view")).to_be_visible()
    items = page.get_by_test_id("article-item")
    await expect(items).to_have_count(len(original))
    await expect(page.get_by_test_id("list-status")).to_have_text(f"{len(original)} articles")

    # -- search with the keyboard, open an article with the keyboard
    await page.get_by_label("Search").fill("fork OIL")
    await page.get_by_label("Search").press("Enter")
    await expect(page.get_by_test_id("list-status")).to_contain_text("containing")
    ids = await items.evaluate_all("els => els.map(e => e.getAttribute('data-id'))")
    assert ARTICLE in ids and "bike-returns" not in ids
    item = page.locator(f'[data-testid="article-item"][data-id="{ARTICLE}"]')
    await expect(item.get_by_test_id("article-summary")).to_have_text(
        f"en · {', '.join(before.tags)} · {len(before.questions)} example questions")
    await item.locator("button").focus()
    await page.keyboard.press("Enter")
    title = page.get_by_label("Title")
    await expect(title).to_have_value(before.title)
    await expect(title).to_be_focused()
    await expect(page.get_by_label("Tags")).to_have_value(", ".join(before.tags))
    await expect(page.get_by_label("Body")).to_have_value(before.body)
    await expect(page.get_by_test_id("question")).to_have_text(list(before.questions))

    # -- edit the title and save: the page and the file in the copy show it; the rest is as it was
    await title.fill("Fork oil leaks: what to do")
    await page.get_by_test_id("save").click()
    await expect(page.get_by_test_id("save-status")).to_have_text(f"Saved to bikes/{ARTICLE}.md.")
    await expect(page.get_by_test_id("article-heading")).to_have_text("Fork oil leaks: what to do")
    await expect(item.get_by_test_id("article-title")).to_have_text("Fork oil leaks: what to do")
    assert 'title: "Fork oil leaks: what to do"\n' in path.read_text()
    after = next(a for a in load_articles(articles) if a.id == ARTICLE)
    assert (after.title, after.tags, after.questions, after.body) == (
        "Fork oil leaks: what to do", before.tags, before.questions, before.body)

    # -- text goes in as text: a title that would be markup if inserted as HTML
    await title.fill(XSS)
    await page.get_by_label("Tags").fill("suspension, fork, oil")
    await page.get_by_test_id("save").click()
    await expect(page.get_by_test_id("article-heading")).to_have_text(XSS)
    await expect(item.get_by_test_id("article-title")).to_have_text(XSS)
    after = next(a for a in load_articles(articles) if a.id == ARTICLE)
    assert (after.title, after.tags) == (XSS, ("suspension", "fork", "oil"))
    assert await page.evaluate("window.__pwned") is None

    # -- add an example question
    await page.get_by_label("New example question").fill("Oil on my fork stanchions, is that bad?")
    await page.get_by_test_id("add-question").click()
    await expect(page.get_by_test_id("question").last).to_have_text("Oil on my fork stanchions, is that bad?")
    await expect(page.get_by_label("New example question")).to_have_value("")
    after = next(a for a in load_articles(articles) if a.id == ARTICLE)
    assert after.questions == (*before.questions, "Oil on my fork stanchions, is that bad?")

    # -- an invalid edit shows the server's file:line message, and nothing is written
    text = path.read_text()
    line = text.splitlines().index(next(x for x in text.splitlines() if x.startswith("title:"))) + 1
    await title.fill("")
    await page.get_by_test_id("save").click()
    await expect(page.get_by_test_id("save-error")).to_have_text(
        f"{articles}/bikes/{ARTICLE}.md:{line}: title must not be empty")
    assert path.read_text() == text

    # -- someone else changes the file: saving says so; reloading shows their change
    path.write_text(text.replace("\n---\n", "\n---\nChanged on disk.\n\n", 1))
    await title.fill("My title")
    await page.get_by_test_id("save").click()
    await expect(page.get_by_test_id("save-error")).to_contain_text("Someone else changed this article")
    assert "My title" not in path.read_text()
    await page.get_by_test_id("reload").click()
    await expect(page.get_by_test_id("save-status")).to_have_text("Reloaded.")
    await expect(page.get_by_label("Body")).to_have_value(re.compile(r"^Changed on disk\."))
    await expect(title).to_have_value(XSS)
    await title.fill("Fork oil leaks: what to do")
    await page.get_by_test_id("save").click()
    await expect(page.get_by_test_id("save-status")).to_have_text(f"Saved to bikes/{ARTICLE}.md.")
    assert path.read_text().startswith(f'---\nid: {ARTICLE}\ntitle: "Fork oil leaks: what to do"\n')
    assert "Changed on disk." in path.read_text()

    # -- try a question: the decision and the ranked articles with their scores
    await page.get_by_label("Question", exact=True).fill("How do I return a bike?")
    await page.get_by_label("Question", exact=True).press("Enter")
    decision = page.get_by_test_id("try-decision")
    await expect(decision).to_have_attribute("data-kind", "answer")
    await expect(decision).to_have_text("Answer with one article: bike-returns")
    await expect(page.get_by_test_id("try-reason")).to_contain_text("Why: ")
    hits = page.get_by_test_id("try-hit")
    await expect(hits.first).to_have_attribute("data-id", "bike-returns")
    scores = [float(s) for s in await page.get_by_test_id("try-score").all_inner_texts()]
    assert scores and scores == sorted(scores, reverse=True)
    await page.get_by_label("Question", exact=True).fill("What is the capital of France?")
    await page.get_by_test_id("try-submit").click()
    await expect(decision).to_have_attribute("data-kind", "escalate")

    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / "editor-page.png"), full_page=True)

    assert errors == []


async def test_the_panel_links_editors_to_the_page(app: AppServer, browser: Browser) -> None:
    errors: list[str] = []
    page = await open_page(browser, f"{app.url}/panel", errors)
    await sign_in_staff(page, "agent-writer")
    await expect(page.get_by_test_id("app-view")).to_be_visible()
    await expect(page.get_by_test_id("reports-link")).to_be_hidden()
    await page.get_by_test_id("editor-link").click()
    await expect(page.get_by_test_id("editor-view")).to_be_visible()  # the sign-in is kept
    assert errors == []
