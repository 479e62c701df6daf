"""Content gaps for editors on a real app (docs/editing.md, "Content gaps", "Drafts"): editors read the
gaps report, and draft an article from an agent's reply in a resolved case. The database holds the
report tests' cases (tests/report_seed.py) and tests/draft_seed.py's; the articles are a copy."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from harness.clients import http_json, sign_in
from harness.servers import ROOT, AppServer, free_port, serve_app
from knowledge_index.article_files import ArticleFiles
from knowledge_index.articles import ID_PATTERN, load_articles
from tests import draft_seed, report_seed

PERIOD = "from=2025-06-02&to=2025-06-04"


@pytest.fixture(scope="module")
def articles(tmp_path_factory: pytest.TempPathFactory) -> Path:
    copy = tmp_path_factory.mktemp("drafting") / "articles"
    shutil.copytree(ROOT / "training_data" / "articles", copy)
    return copy


@pytest.fixture(scope="module")
def app(articles: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppServer]:
    workdir = tmp_path_factory.mktemp("drafting-app")
    asyncio.run(draft_seed.seed(f"sqlite+aiosqlite:///{workdir / 'casedesk.db'}",
                                datetime(2025, 6, 4, 17, tzinfo=UTC)))
    started = serve_app(workdir, f"http://127.0.0.1:{free_port()}", {"CASEDESK_ARTICLES_DIR": str(articles)},
                        settings_file=report_seed.SETTINGS_FILE)
    started.add_agent("writer", roles=["editor"])
    try:
        yield started
    finally:
        started.stop()


@pytest.fixture
async def editor(app: AppServer) -> str:
    return await sign_in(app.url, "writer")


def snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


async def test_editors_read_the_content_gaps_with_the_cases_asked_in(app: AppServer, editor: str) -> None:
    status, body = await http_json("GET", f"{app.url}/api/reports/gaps?{PERIOD}", token=editor)
    assert status == 200, body
    gift = next(g for g in body["groups"] if g["representative"] == "Are gift cards available in your shop?")
    assert [a["question"] for a in gift["asked"]] == [gift["representative"], *gift["examples"]]
    assert {a["question"]: (a["case_id"], a["reason"], a["resolved_by_agent"]) for a in gift["asked"]} == {
        "Are gift cards available in your shop?": ("c10", "low_confidence", False),
        "Do you sell gift cards?": ("c03", "low_confidence", True),
        "Can I buy a gift voucher for my brother?": ("c05", "low_confidence", False),
    }
    shown = [a["question"] for g in body["groups"] for a in g["asked"]]
    assert draft_seed.ADDRESS_QUESTION_MASKED in shown and draft_seed.ADDRESS_QUESTION not in shown

    for report in ("volume", "satisfaction", "topics"):  # the other reports stay the supervisors'
        status, body = await http_json("GET", f"{app.url}/api/reports/{report}?{PERIOD}", token=editor)
        assert (status, body["error"]["code"]) == (403, "forbidden"), report
        assert "needs the supervisor role" in body["error"]["message"]
    status, body = await http_json("GET", f"{app.url}/api/reports/cases.csv?{PERIOD}", token=editor)
    assert status == 403
    ann = await sign_in(app.url, "ann", report_seed.PASSWORD)
    status, body = await http_json("GET", f"{app.url}/api/reports/gaps?{PERIOD}", token=ann)
    assert (status, body["error"]["code"]) == (403, "forbidden")
    assert body["error"]["message"] == "this needs the supervisor or editor role, which ann does not have"
    status, body = await http_json("GET", f"{app.url}/api/reports/gaps?{PERIOD}")
    assert (status, body["error"]["code"]) == (401, "unauthorized")


async def test_a_draft_holds_the_masked_question_and_reply_and_is_not_answered_from(
        app: AppServer, editor: str, articles: Path) -> None:
    status, body = await http_json("POST", f"{app.url}/api/articles/drafts", {"case_id": "d01"}, token=editor)
    assert status == 201, body
    draft = body["article"]
    assert body["case_id"] == "d01"
    assert (draft["draft"], draft["title"], draft["questions"]) == (
        True, draft_seed.ADDRESS_QUESTION_MASKED, [draft_seed.ADDRESS_QUESTION_MASKED])
    assert draft["body"] == f"{draft_seed.FIRST_REPLY}\n\n{draft_seed.SECOND_REPLY_MASKED}"
    assert ID_PATTERN.fullmatch(draft["id"]) and draft["id"].startswith("can-i-change-the-delivery-address")
    assert draft["path"] == f"drafts/{draft['id']}.md"
    on_disk = (articles / draft["path"]).read_text()
    assert on_disk == draft["text"] and "\ndraft: true\n" in on_disk
    assert "jane.doe" not in on_disk and "23456789" not in on_disk and draft_seed.NOTE not in on_disk

    # Listed and read by editors, left out of what the index is built from.
    assert draft["id"] not in [a.id for a in load_articles(articles)]
    assert draft["id"] in [f.article.id for f in ArticleFiles(articles).all()]
    status, body = await http_json("GET", f"{app.url}/api/articles?q=delivery+address", token=editor)
    assert [(a["id"], a["draft"]) for a in body["articles"] if a["path"].startswith("drafts/")] == [
        (draft["id"], True)]
    status, body = await http_json("POST", f"{app.url}/api/articles/drafts", {"case_id": "d01"}, token=editor)
    assert (status, body["article"]["id"]) == (201, draft["id"] + "-2")

    # An editor publishes it by removing the draft line.
    text = draft["text"].replace("\ndraft: true\n", "\n")
    status, body = await http_json("PUT", f"{app.url}/api/articles/{draft['id']}",
                                   {"text": text, "version": draft["version"]}, token=editor)
    assert (status, body["article"]["draft"]) == (200, False), body
    assert draft["id"] in [a.id for a in load_articles(articles)]


async def test_a_case_without_a_gap_question_drafts_from_the_customers_first_message(
        app: AppServer, editor: str) -> None:
    status, body = await http_json("POST", f"{app.url}/api/articles/drafts", {"case_id": "c06"}, token=editor)
    assert status == 201, body
    assert (body["article"]["questions"], body["article"]["body"]) == (
        ["Oil is leaking from my fork seals"], "Please send us a photo.")


async def test_drafts_are_refused_for_cases_without_an_agents_reply(
        app: AppServer, editor: str, articles: Path) -> None:
    before = snapshot(articles)
    refused = {
        "d02": (400, "invalid_payload", "case_id: no agent wrote in case"),
        "d03": (400, "invalid_payload", "was not resolved by an agent (it is with_agent)"),
        "c05": (400, "invalid_payload", "was not resolved by an agent (it is abandoned)"),
        "c01": (400, "invalid_payload", "was not resolved by an agent (the bot resolved it)"),
        "no-such-case": (404, "not_found", "no case has the id 'no-such-case'"),
    }
    for case_id, (code, error, message) in refused.items():
        status, body = await http_json("POST", f"{app.url}/api/articles/drafts", {"case_id": case_id}, token=editor)
        assert (status, body["error"]["code"]) == (code, error), case_id
        assert message in body["error"]["message"], (case_id, body)
    for payload, message in (({}, "case_id: required"), ({"case_id": 3}, "case_id: must be a string"),
                             ({"case_id": "x" * 65}, "case_id: must be at most 64 characters"),
                             ({"case_id": "d01", "title": "x"}, "title")):
        status, body = await http_json("POST", f"{app.url}/api/articles/drafts", payload, token=editor)
        assert (status, body["error"]["code"]) == (400, "invalid_payload"), payload
        assert message in body["error"]["message"], (payload, body)
    ann = await sign_in(app.url, "ann", report_seed.PASSWORD)
    status, body = await http_json("POST", f"{app.url}/api/articles/drafts", {"case_id": "d01"}, token=ann)
    assert (status, body["error"]["code"]) == (403, "forbidden")
    status, body = await http_json("POST", f"{app.url}/api/articles/drafts", {"case_id": "d01"})
    assert (status, body["error"]["code"]) == (401, "unauthorized")
    assert snapshot(articles) == before
