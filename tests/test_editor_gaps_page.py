"""The editor page's "Content gaps" section (handoff/web/static/editor-gaps.js, docs/editing.md) in a real browser
against a real app: the unanswered questions of the last 30 days grouped by meaning, one added as an example
question to an article, a draft made from an agent's reply (opened in the editor, its file in a copy of the
articles) and marked ready, a refused draft, and customer text shown as text.

The screenshots go to test-artifacts/ (git-ignored): editor-gaps.png (the whole page, a draft open) and
editor-gaps-section.png (the section, as docs/images/editor-gaps.png shows it)."""

from __future__ import annotations

import asyncio
import re
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from playwright.async_api import Browser, expect

from harness.servers import ROOT, AppServer, free_port, serve_app
from knowledge_index.article_files import ArticleFiles
from knowledge_index.articles import load_articles
from tests import draft_seed, report_seed
from tests.browser import ARTIFACTS, open_page, sign_in_staff

RECENTLY = (datetime.now(UTC) - timedelta(days=1)).replace(minute=0, second=0, microsecond=0)


@pytest.fixture(scope="module")
def articles(tmp_path_factory: pytest.TempPathFactory) -> Path:
    copy = tmp_path_factory.mktemp("gaps-page") / "articles"
    shutil.copytree(ROOT / "training_data" / "articles", copy)
    return copy


@pytest.fixture(scope="module")
def app(articles: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppServer]:
    workdir = tmp_path_factory.mktemp("gaps-page-app")
    url = f"sqlite+aiosqlite:///{workdir / 'casedesk.db'}"
    asyncio.run(draft_seed.seed(url, RECENTLY))
    report_seed.insert(url, [report_seed.Case("d04", RECENTLY + timedelta(minutes=40)).ask(0, report_seed.XSS_QUESTION)
                             .hand_over(2, "low_confidence", hits=report_seed.hits(("bike-shipping", 0.17)))])
    started = serve_app(workdir, f"http://127.0.0.1:{free_port()}", {"CASEDESK_ARTICLES_DIR": str(articles)},
                        settings_file=report_seed.SETTINGS_FILE)
    started.add_agent("writer", roles=["editor"])
    try:
        yield started
    finally:
        started.stop()


async def test_editors_fill_content_gaps_from_the_page(app: AppServer, articles: Path, browser: Browser) -> None:
    errors: list[str] = []
    page = await open_page(browser, f"{app.url}/panel/editor", errors)
    await sign_in_staff(page, "writer")
    gaps = page.get_by_test_id("gaps")
    await expect(gaps).to_be_visible()

    # -- the last 30 days by default: the recent cases' questions, not the 2025 ones
    today = datetime.now(UTC).date()
    await expect(page.get_by_label("From", exact=True)).to_have_value(str(today - timedelta(days=29)))
    await expect(page.get_by_label("To", exact=True)).to_have_value(str(today))
    await expect(page.get_by_test_id("gaps-status")).to_have_text(re.compile(r"^4 unanswered questions in \d groups"))
    questions = await page.get_by_test_id("gap-question").all_inner_texts()
    assert sorted(questions) == sorted([draft_seed.ADDRESS_QUESTION_MASKED, draft_seed.ICELAND, draft_seed.NORWAY,
                                        report_seed.XSS_QUESTION])
    assert await page.evaluate("window.__pwned") is None
    counts = [int(re.sub(r"\D", "", c)) for c in await page.get_by_test_id("gap-count").all_inner_texts()]
    assert sum(counts) == 4 and counts == sorted(counts, reverse=True)
    await expect(gaps.get_by_test_id("gap-articles").first).to_contain_text("bike-shipping")

    # -- a question added as an example question to the article the bot tried
    iceland = page.locator('[data-testid="gap-example"][data-case="d02"]')
    await expect(iceland.get_by_label("Add as question to…")).to_have_value("bike-shipping")
    await iceland.get_by_test_id("gap-add").click()
    await expect(iceland.get_by_test_id("gap-status")).to_have_text("Added as an example question to bike-shipping.")
    await expect(page.get_by_test_id("question").last).to_have_text(draft_seed.ICELAND)
    shipping = next(a for a in load_articles(articles) if a.id == "bike-shipping")
    assert shipping.questions[-1] == draft_seed.ICELAND

    # -- no reply in the case: the draft is refused with the server's reason; an open case offers none
    await iceland.get_by_test_id("gap-draft").click()
    await expect(iceland.get_by_test_id("gap-error")).to_contain_text("no agent wrote in case")
    norway = page.locator('[data-testid="gap-example"][data-case="d03"]')
    await expect(norway.get_by_test_id("gap-draft")).to_have_count(0)
    await expect(norway).to_contain_text("No agent resolved this case")

    # -- a draft from the agent's reply, opened in the editor
    address = page.locator('[data-testid="gap-example"][data-case="d01"]')
    await address.get_by_test_id("gap-draft").click()
    await expect(address.get_by_test_id("gap-status")).to_contain_text("written to drafts/")
    await expect(page.get_by_test_id("article-heading")).to_have_text(draft_seed.ADDRESS_QUESTION_MASKED)
    await expect(page.get_by_label("Body")).to_have_value(
        f"{draft_seed.FIRST_REPLY}\n\n{draft_seed.SECOND_REPLY_MASKED}")
    await expect(page.get_by_test_id("question")).to_have_text([draft_seed.ADDRESS_QUESTION_MASKED])
    await expect(page.get_by_test_id("draft-notice")).to_be_visible()
    await expect(page.get_by_test_id("article-meta")).to_contain_text("· draft")
    [draft] = [f for f in ArticleFiles(articles).all() if f.article.draft]
    assert "jane.doe" not in draft.text and draft.article.id not in [a.id for a in load_articles(articles)]
    item = page.locator(f'[data-testid="article-item"][data-id="{draft.article.id}"]')
    await expect(item.get_by_test_id("article-summary")).to_contain_text("draft · en")
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / "editor-gaps.png"), full_page=True)
    await gaps.screenshot(path=str(ARTIFACTS / "editor-gaps-section.png"))  # docs/images/editor-gaps.png

    # -- edited and marked ready: the file keeps the edit and loses its draft line
    await page.get_by_label("Title").fill("Changing the delivery address")
    await page.get_by_test_id("save").click()
    await expect(page.get_by_test_id("save-status")).to_have_text(f"Saved to {draft.path}.")
    await page.get_by_test_id("mark-ready").click()
    await expect(page.get_by_test_id("draft-notice")).to_be_hidden()
    await expect(page.get_by_test_id("save-status")).to_contain_text("Marked ready")
    published = next(a for a in load_articles(articles) if a.id == draft.article.id)
    assert (published.title, published.draft) == ("Changing the delivery address", False)
    assert "draft" not in (articles / draft.path).read_text().split("\n---\n")[0]
    assert errors == []
