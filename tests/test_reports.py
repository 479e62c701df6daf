"""The supervisors' reports, on the seeded cases of tests/report_seed.py, whose figures each test states.

The reports run in-process on the seeded database, SQLite and PostgreSQL, with the app's own
knowledge index and encoder (handoff/editorial/live_index.py), then through the REST endpoints of a real app
process (started on loopback on a seeded SQLite database), with a case driven through the app too.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from handoff.cases import masking
from handoff.editorial.live_index import LiveIndex
from handoff.reports.content_gaps import unanswered
from handoff.reports.exports import cell
from handoff.reports.figures import Reports, Scope
from handoff.settings import load_settings
from handoff.store.sql import SqlCaseStore
from harness import postgres
from harness.clients import TIMEOUT, Recorder, agent_socket, http_json, queued_customer, sign_in
from harness.servers import ROOT, AppServer, free_port, serve_app
from tests import report_seed

FIRST, LAST = date(2025, 6, 2), date(2025, 6, 4)
SEEDED = Scope(FIRST, LAST)
GIFT_CARDS = ["Do you sell gift cards?", "Can I buy a gift voucher for my brother?",
              "Are gift cards available in your shop?"]


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def seeded(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The URL of the seeded database; the reports run on both stores (a new SQLite file, a new
    PostgreSQL database: tests/conftest.py)."""
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('reports') / 'casedesk.db'}"
        asyncio.run(report_seed.seed(url))
        yield url
        return
    with postgres.database(request.getfixturevalue("postgres_server")) as url:
        asyncio.run(report_seed.seed(url))
        yield url


@pytest.fixture(scope="module")
def live_index() -> LiveIndex:
    """The app's knowledge index (the seed articles) and its encoder, as the app loads them."""
    settings = load_settings(None, {}, index_dir=str(ROOT / ".cache" / "test-index"),
                             articles_dir=str(ROOT / "training_data" / "articles"),
                             model_cache_dir=str(ROOT / ".cache" / "models"))
    index = LiveIndex(settings)
    index.start()
    return index


@pytest.fixture
async def reports(seeded: str, live_index: LiveIndex) -> AsyncIterator[Reports]:
    store = await SqlCaseStore.open(seeded)
    try:
        yield Reports(store, live_index.article, live_index.encoder)
    finally:
        await store.close()


def by(rows: list[dict[str, Any]], key: str) -> dict[Any, dict[str, Any]]:
    return {row[key]: row for row in rows}


def without(row: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {k: v for k, v in row.items() if k not in keys}


# -- the reports, in-process ---------------------------------------------------------------------

async def test_volume_counts_cases_per_day_and_channel(reports: Reports) -> None:
    volume = await reports.volume(SEEDED)
    assert volume["period"] == {"from": "2025-06-02", "to": "2025-06-04", "channel": None, "queue": None}
    assert (volume["total"], volume["channels"]) == (12, ["mobile", "telegram", "web"])
    assert volume["by_channel"] == {"mobile": 3, "telegram": 0, "web": 9}
    assert volume["days"] == [
        {"date": "2025-06-02", "total": 3, "channels": {"mobile": 1, "telegram": 0, "web": 2}},
        {"date": "2025-06-03", "total": 4, "channels": {"mobile": 0, "telegram": 0, "web": 4}},
        {"date": "2025-06-04", "total": 5, "channels": {"mobile": 2, "telegram": 0, "web": 3}},
    ]
    # Whole UTC days: c00 at 23:59:59 the day before and c13 at midnight after count only when included.
    wider = await reports.volume(Scope(date(2025, 6, 1), date(2025, 6, 5)))
    assert [(d["date"], d["total"]) for d in wider["days"]] == [
        ("2025-06-01", 1), ("2025-06-02", 3), ("2025-06-03", 4), ("2025-06-04", 5), ("2025-06-05", 1)]
    mobile = await reports.volume(Scope(FIRST, LAST, channel="mobile"))
    assert (mobile["total"], mobile["channels"]) == (3, ["mobile"])
    assert [d["channels"] for d in mobile["days"]] == [{"mobile": 1}, {"mobile": 0}, {"mobile": 2}]
    workshop = await reports.volume(Scope(FIRST, LAST, queue="workshop"))
    assert [d["total"] for d in workshop["days"]] == [0, 1, 0]


async def test_deflection_gives_outcomes_the_bots_share_and_escalation_reasons(reports: Reports) -> None:
    deflection = await reports.deflection(SEEDED)
    assert deflection["cases"] == 12
    assert deflection["outcomes"] == {"bot": 2, "agent": 4, "abandoned": 2, "cancelled": 1, "open": 3}
    assert deflection["bot_share_percent"] == 25.0  # 2 of the 8 that ended (cancelled and open ones aside)
    assert deflection["escalated"] == 8
    assert deflection["escalation_reasons"] == [
        {"reason": "low_confidence", "count": 4}, {"reason": "answer_not_helpful", "count": 2},
        {"reason": "customer_request", "count": 1}, {"reason": "no_offered_article_fits", "count": 1}]
    workshop = await reports.deflection(Scope(FIRST, LAST, queue="workshop"))
    assert (workshop["outcomes"]["agent"], workshop["bot_share_percent"]) == (1, 0.0)
    empty = await reports.deflection(Scope(date(2024, 1, 1), date(2024, 1, 31)))
    assert (empty["cases"], empty["bot_share_percent"], empty["escalation_reasons"]) == (0, None, [])


async def test_satisfaction_by_queue_agent_article_and_topic(reports: Reports) -> None:
    figures = await reports.satisfaction(SEEDED)
    # Ratings 5, 4, 2, 4, 1, 5; NPS 10, 9, 3, 6, 10 (c04 gave none): 3 promoters, 2 detractors of 5.
    assert figures["overall"] == {"answers": 6, "mean_rating": 3.5, "csat_percent": 66.7, "nps": 20.0,
                                  "nps_answers": 5, "mean_effort": 3.4, "effort_answers": 5}
    queues = by(figures["by_queue"], "queue")
    assert [row["queue"] for row in figures["by_queue"]] == ["general", None, "workshop"]
    assert without(queues["general"], "queue") == {"answers": 3, "mean_rating": 3.67, "csat_percent": 66.7,
                                                   "nps": 33.3, "nps_answers": 3, "mean_effort": 3.67,
                                                   "effort_answers": 3}
    assert (queues[None]["mean_rating"], queues[None]["nps"], queues[None]["nps_answers"]) == (4.5, 100.0, 1)
    assert (queues["workshop"]["mean_rating"], queues["workshop"]["csat_percent"], queues["workshop"]["nps"]) == (
        1.0, 0.0, -100.0)
    agents = by(figures["by_agent"], "agent_name")
    assert [row["agent_name"] for row in figures["by_agent"]] == [None, "Ann", "Ben"]
    assert {name: (row["answers"], row["mean_rating"], row["csat_percent"], row["nps"], row["mean_effort"])
            for name, row in agents.items()} == {
        None: (2, 4.5, 100.0, 100.0, 2.0), "Ann": (2, 2.5, 50.0, 0.0, 3.5), "Ben": (2, 3.5, 50.0, 0.0, 4.0)}
    articles = by(figures["by_article"], "article_id")
    assert list(articles) == ["furniture-dining-table-assembly", "bike-returns", "bike-suspension-oil-leak"]
    dining = articles["furniture-dining-table-assembly"]
    assert (dining["title"], dining["answers"], dining["mean_rating"], dining["nps"], dining["mean_effort"]) == (
        "Assembling your dining table", 3, 4.67, 100.0, 2.33)
    assert (articles["bike-returns"]["mean_rating"], articles["bike-returns"]["nps"]) == (4.0, None)
    topics = by(figures["by_topic"], "tag")
    assert [row["tag"] for row in figures["by_topic"]][:4] == ["assembly", "dining-table", "furniture", "bikes"]
    assert (topics["bikes"]["answers"], topics["bikes"]["mean_rating"], topics["bikes"]["nps"]) == (2, 2.5, -100.0)
    assert topics["suspension"]["mean_rating"] == 1.0 and topics["returns"]["mean_rating"] == 4.0


async def test_times_give_percentiles_and_sla_breaches_per_queue(reports: Reports) -> None:
    times = await reports.times(SEEDED)
    general, workshop = times["queues"]
    assert (general["queue"], general["cases"], workshop["queue"], workshop["cases"]) == ("general", 7, "workshop", 1)
    # First responses 30, 60, 90, 400 s; resolutions by agents 600, 900, 1800 s (linear percentiles).
    assert general["first_response"] == {"count": 4, "p50": 75.0, "p90": 307.0, "mean": 145.0}
    assert general["resolution"] == {"count": 3, "p50": 900.0, "p90": 1620.0, "mean": 1100.0}
    assert (general["first_response_breaches"], general["first_response_breach_percent"]) == (3, 42.9)
    assert (general["resolution_breaches"], general["resolution_breach_percent"]) == (0, 0.0)
    assert workshop["first_response"] == {"count": 1, "p50": 120.0, "p90": 120.0, "mean": 120.0}
    assert workshop["resolution"]["p50"] == 8000.0
    assert (workshop["resolution_breaches"], workshop["resolution_breach_percent"]) == (1, 100.0)
    overall = times["overall"]
    assert overall["first_response"] == {"count": 5, "p50": 90.0, "p90": 288.0, "mean": 140.0}
    assert overall["resolution"] == {"count": 4, "p50": 1350.0, "p90": 6140.0, "mean": 2825.0}
    assert (overall["cases"], overall["first_response_breaches"], overall["resolution_breaches"]) == (8, 3, 1)
    mobile = await reports.times(Scope(FIRST, LAST, channel="mobile"))
    assert [(q["queue"], q["cases"], q["first_response"]["p50"]) for q in mobile["queues"]] == [("general", 3, 215.0)]


async def test_content_gaps_group_paraphrases_and_keep_other_questions_apart(reports: Reports) -> None:
    gaps = await reports.gaps(SEEDED)
    assert (gaps["questions"], gaps["considered"], gaps["groups_total"]) == (7, 7, 4)
    gift, table, instalments, crack = gaps["groups"]
    # The three wordings of one question the bot could not answer are one gap, asked in three cases.
    assert (gift["count"], gift["cases"], gift["reasons"]) == (3, 3, {"low_confidence": 3})
    assert sorted([gift["representative"], *gift["examples"]]) == sorted(GIFT_CARDS)
    assert gift["representative"] != "Can I buy a gift voucher for my brother?"  # the outlying wording
    assert gift["articles"] == [
        {"article_id": "bike-refund-timing", "title": "When you will receive your refund", "count": 2},
        {"article_id": "furniture-returns", "title": "Returning furniture", "count": 1}]
    assert gift["last_asked_at"] == "2025-06-04T11:00:00Z"
    # Two assembly problems the dining-table article did not solve ("no" typed or pressed): the
    # customer's question, never the "no".
    assert (table["count"], table["reasons"]) == (2, {"answer_not_helpful": 2})
    assert sorted([table["representative"], *table["examples"]]) == [
        "The assembly instructions for my table are missing page 4",
        "the holes in the table legs don't line up with the frame"]
    assert table["articles"] == [{"article_id": "furniture-dining-table-assembly",
                                  "title": "Assembling your dining table", "count": 2}]
    # Different questions stay apart; equal counts: the latest asked first.
    assert (instalments["representative"], instalments["examples"]) == (report_seed.XSS_QUESTION, [])
    assert instalments["articles"][0]["article_id"] == "bike-shipping"
    assert (crack["representative"], crack["reasons"]) == (
        "there is a crack along the grain of the tabletop", {"no_offered_article_fits": 1})
    assert [a["article_id"] for a in crack["articles"]] == ["furniture-wobbly-table", "furniture-wood-care"]
    # c13, the day after, asked about gift cards too: not in this period.
    later = await reports.gaps(Scope(date(2025, 6, 5), date(2025, 6, 5)))
    assert [(g["count"], g["representative"]) for g in later["groups"]] == [(1, "Do you sell gift cards?")]


async def test_content_gap_examples_go_through_the_mask(seeded: str, live_index: LiveIndex) -> None:
    store = await SqlCaseStore.open(seeded)
    try:
        masked = Reports(store, live_index.article, live_index.encoder, mask=lambda text: text.replace("gift", "****"))
        [gift, *_] = (await masked.gaps(SEEDED))["groups"]
    finally:
        await store.close()
    shown = [gift["representative"], *gift["examples"]]
    assert len(shown) == 3 and all("gift" not in text for text in shown) and any("****" in text for text in shown)


async def test_content_gaps_mask_contact_details_as_the_settings_say(tmp_path: Path, live_index: LiveIndex) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'casedesk.db'}"
    store = await SqlCaseStore.open(url)
    question = "Can you deliver a table to my office? Mail ilse.berg@example.com or call 0151 23456789"
    report_seed.insert(url, [report_seed.Case("g1", datetime(2025, 7, 1, 9, tzinfo=UTC)).ask(0, question)
                             .hand_over(2, "low_confidence", hits=report_seed.hits(("bike-refund-timing", 0.2)))])
    try:
        for settings, expected in (
            (load_settings(None, {}), "Can you deliver a table to my office? Mail [email] or call [phone]"),
            (load_settings(None, {}, mask_in_reports=()), question),
        ):
            reports = Reports(store, live_index.article, live_index.encoder, masking.for_reports(settings))
            [group] = (await reports.gaps(Scope(date(2025, 7, 1), date(2025, 7, 1))))["groups"]
            assert group["count"] == 1 and {group["representative"], *group["examples"]} == {expected}
    finally:
        await store.close()


def message(seq: int, sender: str, text: str, data: dict[str, Any] | None = None) -> Any:
    """A stored message row as the store hands it back (data as JSON text)."""
    return SimpleNamespace(conversation_id="c", seq=seq, sender=sender, text=text, data=json.dumps(data or {}),
                           created_at=datetime(2025, 6, 2, 9, 0, seq, tzinfo=UTC))


def test_an_unanswered_question_is_the_customers_own_words() -> None:
    answer = {"kind": "answer", "article": {"id": "a1"}}
    # A typed "no" after an answer: the question is the one answered.
    declined = {"kind": "handoff", "reason": "answer_not_helpful"}
    typed_no = [message(1, "customer", "my table wobbles"), message(2, "bot", "...", answer),
                message(3, "customer", "no"), message(4, "bot", "...", declined)]
    [found] = unanswered("c", typed_no, set())
    assert (found.seq, found.text, found.reason, found.articles) == (1, "my table wobbles", declined["reason"], ("a1",))
    # An article chosen among two offered, then "no": still the first question, with the chosen article.
    chosen = [message(1, "customer", "crack in the top"),
              message(2, "bot", "?", {"kind": "clarify", "offered": ["a1", "a2"]}),
              message(3, "customer", "Wood care", {"payload": '/choose_article{"article_id": "a2"}'}),
              message(4, "bot", "...", {"kind": "answer", "article": {"id": "a2"}, "decision": "chosen"}),
              message(5, "customer", "No", {"payload": "/deny"}),
              message(6, "bot", "...", {"kind": "handoff", "reason": "answer_not_helpful"})]
    [found] = unanswered("c", chosen, set())
    assert (found.text, found.articles) == ("crack in the top", ("a2",))
    # Low confidence: the closest article found; asking for a person is no gap; an article judged
    # unhelpful without a handoff is one (not_helpful).
    mixed = [message(1, "customer", "gift cards?"),
             message(2, "bot", "...", {"kind": "handoff", "reason": "low_confidence",
                                       "hits": [{"article_id": "a3"}, {"article_id": "a4"}]}),
             message(3, "customer", "delivery to Austria?"), message(4, "bot", "...", answer),
             message(5, "customer", "opening hours?"), message(6, "bot", "...", answer),
             message(7, "customer", "a person please"),
             message(8, "bot", "...", {"kind": "handoff", "reason": "customer_request"})]
    found_all = unanswered("c", mixed, {4})
    assert [(q.text, q.reason, q.articles) for q in found_all] == [
        ("gift cards?", "low_confidence", ("a3",)), ("delivery to Austria?", "not_helpful", ("a1",))]


async def test_topics_rank_tags_and_articles_by_cases(reports: Reports) -> None:
    topics = await reports.topics(SEEDED)
    assert (topics["tag"], topics["cases"], topics["with_articles"]) == (None, 12, 7)
    assert [(t["tag"], t["cases"], t["escalated"]) for t in topics["tags"][:4]] == [
        ("furniture", 5, 3), ("assembly", 4, 2), ("dining-table", 3, 2), ("bikes", 2, 1)]
    assert by(topics["tags"], "tag")["furniture"]["mean_rating"] == 4.67
    dining = topics["articles"][0]
    assert without(dining, "tags") == {
        "article_id": "furniture-dining-table-assembly", "title": "Assembling your dining table", "cases": 3,
        "escalated": 2, "escalated_percent": 66.7, "answers": 3, "mean_rating": 4.67, "not_helped": 2}
    assert dining["tags"] == ["assembly", "dining-table", "furniture"]
    assert [a["article_id"] for a in topics["articles"][1:]] == [
        "bike-returns", "bike-suspension-oil-leak", "furniture-chair-assembly", "furniture-wobbly-table",
        "furniture-wood-care"]
    # The product manager's question: which furniture is hardest to assemble?
    assembly = await reports.topics(SEEDED, tag="assembly")
    assert assembly["with_articles"] == 4
    assert [(a["title"], a["cases"], a["escalated"]) for a in assembly["articles"]] == [
        ("Assembling your dining table", 3, 2), ("Assembling dining chairs", 1, 0)]
    assert [(t["tag"], t["cases"]) for t in assembly["tags"]] == [
        ("assembly", 4), ("furniture", 4), ("dining-table", 3), ("chairs", 1)]


def test_csv_cells_that_could_run_as_formulas_are_text() -> None:
    for risky in ("=1+1", "+49 30 1234", "-2 stars", "@SUM(A1)", "\tgreat", "\rx"):
        assert cell(risky) == "'" + risky
    assert [cell(v) for v in ("fine = good", 5, None, -1.5)] == ["fine = good", 5, None, -1.5]
    assert cell(datetime(2025, 6, 2, 9, tzinfo=UTC)) == "2025-06-02T09:00:00Z"


# -- REST, against a real app process ------------------------------------------------------------

@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppServer]:
    """The app on a seeded SQLite database; nothing listens where Rasa should be (the bot hands over)."""
    workdir = tmp_path_factory.mktemp("reports-app")
    asyncio.run(report_seed.seed(f"sqlite+aiosqlite:///{workdir / 'casedesk.db'}"))
    started = serve_app(workdir, f"http://127.0.0.1:{free_port()}", settings_file=report_seed.SETTINGS_FILE)
    try:
        yield started
    finally:
        started.stop()


def get_text(url: str, token: str | None = None) -> tuple[int, dict[str, str], str]:
    request = urllib.request.Request(url)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
            return response.status, dict(response.headers), response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read().decode()


SEEDED_QUERY = "from=2025-06-02&to=2025-06-04"


async def test_rest_reports_need_a_supervisor_and_valid_parameters(app: AppServer) -> None:
    url = f"{app.url}/api/reports"
    for path in ("volume", "cases.csv", "surveys.csv"):
        status, body = await http_json("GET", f"{url}/{path}?{SEEDED_QUERY}")
        assert (status, body["error"]["code"]) == (401, "unauthorized"), path
    ann = await sign_in(app.url, "ann", report_seed.PASSWORD)
    for path in ("gaps", "cases.csv"):
        status, body = await http_json("GET", f"{url}/{path}?{SEEDED_QUERY}", token=ann)
        assert (status, body["error"]["code"]) == (403, "forbidden"), path
        assert "supervisor" in body["error"]["message"]
    sup = await sign_in(app.url, report_seed.SUPERVISOR_NAME, report_seed.PASSWORD)
    bad = {
        "from=2025-13-01": "from: 2025-13-01 is no date", "to=20250604": "to: must be a date as YYYY-MM-DD",
        "from=2025-06-05&to=2025-06-04": "from: must not be after to",
        "from=2024-01-01&to=2025-06-04": "from, to: a period is at most 366 days",
        "channel=fax": "channel: must be one of web, mobile, telegram", "colour=red": "colour: unknown parameter",
        "queue=general&queue=workshop": "queue: given more than once", "tag=assembly": "tag: unknown parameter",
    }
    for query, message in bad.items():
        status, body = await http_json("GET", f"{url}/volume?{query}", token=sup)
        assert (status, body) == (400, {"error": {"code": "invalid_payload", "message": message}}), query
    status, body = await http_json("GET", f"{url}/cases.csv?to=yesterday", token=sup)
    assert (status, body["error"]["code"]) == (400, "invalid_payload")
    status, body = await http_json("GET", f"{url}/everything", token=sup)
    assert (status, body["error"]["code"]) == (404, "not_found")

    status, body = await http_json("GET", f"{url}/deflection?{SEEDED_QUERY}&channel=&queue=", token=sup)
    assert status == 200, body
    assert (body["report"], body["cases"], body["bot_share_percent"]) == ("deflection", 12, 25.0)
    status, body = await http_json("GET", f"{url}/topics?{SEEDED_QUERY}&tag=assembly", token=sup)
    assert [a["article_id"] for a in body["articles"]] == [
        "furniture-dining-table-assembly", "furniture-chair-assembly"]
    status, body = await http_json("GET", f"{url}/gaps?{SEEDED_QUERY}&channel=mobile", token=sup)
    assert [g["representative"] for g in body["groups"]] == [
        report_seed.XSS_QUESTION, "there is a crack along the grain of the tabletop", "Do you sell gift cards?"]


async def test_rest_reports_count_a_case_driven_through_the_app(app: AppServer) -> None:
    before = datetime.now(UTC).date()
    customer, conversation_id = await queued_customer(app.url, "I want to talk to a human")  # Rasa is down
    sup = await sign_in(app.url, report_seed.SUPERVISOR_NAME, report_seed.PASSWORD)
    agent: Recorder = await agent_socket(app.url, sup)
    try:
        await agent.ok("accept_case", {"conversation_id": conversation_id})
        await agent.ok("send_message", {"conversation_id": conversation_id, "text": "Hello, how can I help?"})
        await agent.ok("resolve_case", {"conversation_id": conversation_id, "category": "question_answered"})
        await customer.ok("answer_survey", {"rating": 5, "comment": "+quick"})
    finally:
        await agent.close()
        await customer.close()
    url = f"{app.url}/api/reports"
    status, volume = await http_json("GET", f"{url}/volume", token=sup)  # the last 30 days by default
    assert status == 200, volume
    today = date.fromisoformat(volume["period"]["to"])
    assert today in (before, datetime.now(UTC).date())
    assert volume["period"]["from"] == (today - timedelta(days=29)).isoformat() and len(volume["days"]) == 30
    assert (volume["total"], volume["days"][-1]["channels"]) == (1, {"mobile": 0, "telegram": 0, "web": 1})
    status, deflection = await http_json("GET", f"{url}/deflection", token=sup)
    assert (deflection["outcomes"]["agent"], deflection["escalation_reasons"]) == (
        1, [{"reason": "bot_unavailable", "count": 1}])
    status, times = await http_json("GET", f"{url}/times", token=sup)
    [general] = times["queues"]
    assert (general["queue"], general["first_response"]["count"], general["resolution"]["count"]) == ("general", 1, 1)
    assert 0 <= general["first_response"]["p50"] <= general["resolution"]["p50"] < 60
    status, satisfaction = await http_json("GET", f"{url}/satisfaction", token=sup)
    assert [(a["agent_name"], a["mean_rating"]) for a in satisfaction["by_agent"]] == [("Sam", 5.0)]
    status, _, text = get_text(f"{url}/surveys.csv", sup)
    [header, row] = list(csv.reader(io.StringIO(text)))
    assert dict(zip(header, row, strict=True))["comment"] == "'+quick"


async def test_csv_exports_of_cases_and_surveys(app: AppServer) -> None:
    sup = await sign_in(app.url, report_seed.SUPERVISOR_NAME, report_seed.PASSWORD)
    status, headers, text = get_text(f"{app.url}/api/reports/cases.csv?{SEEDED_QUERY}", sup)
    assert status == 200 and headers["Content-Type"] == "text/csv; charset=utf-8"
    assert headers["Content-Disposition"] == 'attachment; filename="cases-2025-06-02-2025-06-04.csv"'
    [header, *rows] = list(csv.reader(io.StringIO(text)))
    assert header[:3] == ["case_number", "id", "created_at"] and header[-1] == "title"
    cases = {row[1]: dict(zip(header, row, strict=True)) for row in rows}
    assert sorted(cases) == [f"c{n:02}" for n in range(1, 13)]
    assert cases["c07"]["title"] == "'" + report_seed.SPAM  # a formula from a customer stays text
    c03 = cases["c03"]
    assert (c03["channel"], c03["status"], c03["resolution"], c03["agent"], c03["queue"]) == (
        "mobile", "resolved", "agent", "ben", "general")
    assert (c03["first_response_seconds"], c03["resolution_seconds"], c03["first_response_sla"]) == (
        "400.0", "1800.0", "breached")
    assert (c03["created_at"], c03["rating"], c03["title"]) == ("2025-06-02T11:00:00Z", "2", "Do you sell gift cards?")
    assert cases["c08"]["articles"] == "furniture-wobbly-table furniture-wood-care"  # one message: by id
    assert (cases["c09"]["status"], cases["c09"]["rating"], cases["c09"]["closed_at"]) == ("bot", "", "")

    status, _, text = get_text(f"{app.url}/api/reports/surveys.csv?{SEEDED_QUERY}&channel=web", sup)
    [header, *rows] = list(csv.reader(io.StringIO(text)))
    assert header == ["case_number", "conversation_id", "answered_at", "rating", "nps", "effort", "answered_via",
                      "agent", "queue", "channel", "comment"]
    answers = [dict(zip(header, row, strict=True)) for row in rows]
    assert [(a["conversation_id"], a["rating"], a["nps"], a["agent"], a["comment"]) for a in answers] == [
        ("c01", "5", "10", "", ""), ("c02", "4", "9", "ann", "Thanks, the new page helped"),
        ("c04", "4", "", "", "'=1+1"), ("c06", "1", "6", "ann", "'@team the fork still leaks"),
        ("c11", "5", "10", "ben", "'\tgreat")]
