"""The editor page's "Publish" section (handoff/web/static/editor-publish.js, docs/editing.md) in a real browser
against the product as it runs (the app and Rasa, with a copy of the project's articles and of the tests'
index): a running publish shown on the page's load (and a second one refused meanwhile), an invalid
article's file:line, an example question added through the page and published (its question improved
in the gate's report), a breaking edit refused with its regressions listed, and a rollback through the
page, live in the history. Customer text in the report is shown as text.

The screenshots go to test-artifacts/ (git-ignored): editor-publish.png (the section after the refused
publish, as docs/images/editor-publish.png shows it) and editor-history.png (after the rollback)."""

from __future__ import annotations

import fcntl
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, expect

from harness.clients import http_json, sign_in
from harness.editing import articles_and_index, save_breaking_edit
from harness.servers import ActionRelay, AppProcess, RasaProcess, start_app
from tests.browser import ARTIFACTS, XSS, open_page, sign_in_staff

PASSWORD = "correct horse battery"
UNANSWERED = "where is the truck with my table right now"  # escalated by the project's articles
TRACKING = "furniture-delivery-tracking"
MARKUP = f"is my wardrobe on the lorry yet? {XSS}"  # escalated today; answered once it is an example question
PUBLISH_MS = 300_000  # a publish embeds new texts, may train Rasa and answers every regression question twice


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("publish-page")


@pytest.fixture(scope="module")
def app(workdir: Path, rasa: RasaProcess, actions: ActionRelay) -> Iterator[AppProcess]:
    """The app behind the session's Rasa, whose actions it serves meanwhile."""
    started = start_app(workdir / "app", rasa.url, articles_and_index(workdir))
    try:
        started.add_agent("erin", roles=["editor"])
        with actions.serving(started.url):
            yield started
    finally:
        started.stop()


async def test_editors_publish_see_the_gate_and_roll_back_from_the_page(
        app: AppProcess, workdir: Path, browser: Browser) -> None:
    token = await sign_in(app.url, "erin")
    # -- a publish running when the page loads (started elsewhere, by the API): it waits for the index's write
    # lock, held here as another writer (`casedesk kb build`) would hold it
    with open(workdir / "index" / ".lock", "ab") as other_writer:
        fcntl.flock(other_writer.fileno(), fcntl.LOCK_EX)
        status, started = await http_json("POST", f"{app.url}/api/kb/publish", token=token)
        assert status == 202, started
        errors: list[str] = []
        page = await open_page(browser, f"{app.url}/panel/editor", errors)
        await sign_in_staff(page, "erin")
        section = page.get_by_test_id("publish")
        button = page.get_by_test_id("publish-start")
        outcome = page.get_by_test_id("publish-outcome")
        await expect(outcome).to_have_attribute("data-state", "running")
        await expect(button).to_be_disabled()
        await expect(page.locator('[data-testid="publish-step"][data-step="publish"]')).to_have_attribute(
            "data-state", "running", timeout=PUBLISH_MS)  # check, index, rasa and gate done: waiting for the lock
        await expect(page.locator('[data-testid="publish-step"][data-step="gate"]')).to_have_attribute(
            "data-state", "done")
        await expect(page.get_by_test_id("publish-meta")).to_contain_text("Started by erin")
        await expect(page.get_by_test_id("rollback")).to_be_disabled()  # not while a publish runs
        status, conflict = await http_json("POST", f"{app.url}/api/kb/publish", token=token)
        assert (status, conflict["error"]["code"]) == (409, "conflict")
    # the lock is released: the publish ends, and the page, still following it, shows it
    await expect(outcome).to_have_attribute("data-state", "published", timeout=PUBLISH_MS)
    _, last = await http_json("GET", f"{app.url}/api/kb/publish", token=token)
    first = last["job"]  # a publish to come back to
    assert (first["id"], first["state"]) == (started["job"]["id"], "published")
    await expect(page.get_by_test_id("publish-version")).to_have_text(first["version"])
    await expect(button).to_be_enabled()
    await expect(page.get_by_test_id("history-entry")).to_have_count(1)
    await expect(page.get_by_test_id("rollback")).to_be_disabled()  # nothing before the first publish

    # -- an invalid article file: failed, with its file and line
    broken = workdir / "articles" / "bikes" / "bike-bells.md"
    broken.write_text("---\nid: bike-bells\ntitel: Bells\n---\nText.\n")  # as an editor might, in git
    try:
        await button.click()
        await expect(outcome).to_have_attribute("data-state", "failed", timeout=PUBLISH_MS)
    finally:
        broken.unlink()
    await expect(page.get_by_test_id("publish-failure")).to_contain_text(f"{broken}:3:")
    check = page.locator('[data-testid="publish-step"][data-step="check"]')
    await expect(check).to_have_attribute("data-state", "failed")
    await expect(check.get_by_test_id("step-detail")).to_contain_text("titel")
    await expect(page.get_by_test_id("history-entry")).to_have_count(1)

    # -- example questions added through the page, then published: the question is answered now
    await page.locator(f'[data-testid="article-item"][data-id="{TRACKING}"] button').click()
    for question in (UNANSWERED, MARKUP):
        await page.get_by_test_id("new-question").fill(question)
        await page.get_by_test_id("add-question").click()
        await expect(page.get_by_test_id("question").last).to_have_text(question)
    await button.click()
    await expect(button).to_be_disabled()
    await expect(outcome).to_have_attribute("data-state", "published", timeout=PUBLISH_MS)
    await expect(button).to_be_enabled()
    states = await page.get_by_test_id("publish-step").evaluate_all("els => els.map(e => e.dataset.state)")
    assert states == ["done"] * 5
    await expect(page.locator('[data-testid="publish-step"][data-step="index"]')).to_contain_text("1 changed")
    await expect(page.get_by_test_id("publish-progress-text")).to_contain_text("texts embedded")
    version = await page.get_by_test_id("publish-version").inner_text()
    assert version != first["version"]
    improved = page.locator('[data-testid="gate-change"][data-verdict="improved"]')
    await expect(improved.filter(has_text=UNANSWERED).first).to_be_visible()
    await expect(improved.filter(has_text=UNANSWERED).first.get_by_test_id("change-outcomes")).to_have_text(
        re.compile(rf"→ answer {TRACKING}$"))
    await expect(improved.get_by_test_id("change-question").filter(has_text=MARKUP)).to_have_text([MARKUP])  # as text
    await expect(page.get_by_test_id("gate-metric")).to_have_count(3)  # examples, development, handovers
    live = page.locator('[data-testid="history-entry"][data-live="true"]')
    await expect(page.get_by_test_id("history-entry")).to_have_count(2)
    await expect(live).to_have_attribute("data-version", version)
    await expect(live.get_by_test_id("history-changes")).to_contain_text(f"changed: {TRACKING}")
    await expect(live.get_by_test_id("history-by")).to_have_text("erin")
    await expect(page.get_by_test_id("rollback")).to_be_enabled()

    # -- a breaking edit (the shipping article takes the returns article's questions): refused, regressions listed
    await save_breaking_edit(app.url, token)
    await button.click()
    await expect(outcome).to_have_attribute("data-state", "refused", timeout=PUBLISH_MS)
    await expect(outcome).to_contain_text("Refused by the quality gate")
    await expect(page.get_by_test_id("refused-because").locator("li").first).to_contain_text("examples")
    gate = page.locator('[data-testid="publish-step"][data-step="gate"]')
    await expect(gate).to_have_attribute("data-state", "failed")
    await expect(page.locator('[data-testid="publish-step"][data-step="publish"]')).to_have_attribute(
        "data-state", "waiting")
    changes = page.get_by_test_id("gate-change")
    await expect(changes.first).to_have_attribute("data-verdict", "regressed")  # regressions first
    verdicts = await changes.evaluate_all("els => els.map(e => e.dataset.verdict)")
    assert verdicts == sorted(verdicts, key=["regressed", "changed", "improved"].index)
    regressed = page.locator('[data-testid="gate-change"][data-verdict="regressed"]')
    returns_question = regressed.filter(has=page.get_by_test_id("change-expected").get_by_text("bike-returns"))
    await expect(returns_question.first.get_by_test_id("change-outcomes")).to_contain_text("answer bike-returns →")
    await expect(page.locator('[data-testid="gate-metric"].worse')).not_to_have_count(0)
    await expect(page.get_by_test_id("history-entry")).to_have_count(2)  # nothing new was published
    ARTIFACTS.mkdir(exist_ok=True)
    await section.screenshot(path=str(ARTIFACTS / "editor-publish.png"))  # docs/images/editor-publish.png

    # -- a rollback through the page, confirmed: the first publish is live again
    await page.get_by_test_id("rollback").click()
    await expect(page.get_by_test_id("rollback-question")).to_contain_text(first["version"])
    await page.get_by_test_id("rollback-no").click()
    await expect(page.get_by_test_id("rollback-confirm")).to_be_hidden()
    await expect(page.get_by_test_id("history-entry")).to_have_count(2)  # cancelled: nothing happened
    await page.get_by_test_id("rollback").click()
    await page.get_by_test_id("rollback-yes").click()
    await expect(page.get_by_test_id("rollback-done")).to_contain_text(f"version {first['version']} is live again")
    await expect(page.get_by_test_id("rollback-restored")).to_have_text(
        "Files restored: furniture/furniture-delivery-tracking.md.")
    await expect(page.get_by_test_id("rollback-kept")).to_contain_text("bikes/bike-shipping.md")  # edited since
    newest = page.get_by_test_id("history-entry").first
    await expect(page.get_by_test_id("history-entry")).to_have_count(3)
    await expect(newest).to_have_attribute("data-action", "rollback")
    await expect(newest).to_have_attribute("data-live", "true")
    await expect(newest.get_by_test_id("history-live")).to_have_text("live")
    await expect(newest.get_by_test_id("history-changes")).to_contain_text(f"From {version}")
    await expect(page.locator('[data-testid="history-entry"][data-live="true"]')).to_have_count(1)
    await expect(page.get_by_test_id("rollback")).to_be_disabled()  # the first publish is live: none before it
    await expect(page.get_by_test_id("question").filter(has_text=UNANSWERED)).to_have_count(0)  # reloaded
    await page.screenshot(path=str(ARTIFACTS / "editor-history.png"), full_page=True)
    tracking = (workdir / "articles" / "furniture" / f"{TRACKING}.md").read_text()
    assert UNANSWERED not in tracking
    _, health = await http_json("GET", f"{app.url}/healthz")
    assert health["index"]["version"] == first["version"]
    assert await page.evaluate("window.__pwned") is None
    assert errors == []
