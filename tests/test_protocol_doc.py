"""docs/protocol.md documents every socket event the server handles or sends, every REST route, and
every field of the payloads the server builds."""

from __future__ import annotations

import ast
import re
from datetime import UTC, datetime
from pathlib import Path

from connectors import mobile_api, telegram
from handoff.cases import views
from handoff.staff.accounts import agent_view
from handoff.store.records import Agent, CaseEvent, Conversation, Message, Survey
from handoff.surveys import questions as survey_questions
from handoff.web import api, pages, widget
from handoff.web.agent import AgentNamespace
from handoff.web.chat import ChatNamespace
from handoff.web.routes import contacts, editor, privacy, publishing, reports, surveys
from knowledge_index.article_files import ArticleFile
from knowledge_index.articles import parse_article
from knowledge_index.decision import Decision
from knowledge_index.index import Hit

ROOT = Path(__file__).resolve().parent.parent
DOC = (ROOT / "docs" / "protocol.md").read_text()
NAMESPACES = {"CHAT": "Customer namespace `/chat`", "AGENT": "Agent namespace `/agent`"}


def section(title: str) -> str:
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", DOC, re.S | re.M)
    assert match, f"docs/protocol.md has no section {title!r}"
    return match.group(1)


def test_every_socket_event_is_documented_in_its_namespace() -> None:
    namespaces = (("Customer namespace `/chat`", ChatNamespace), ("Agent namespace `/agent`", AgentNamespace))
    for title, namespace in namespaces:
        events = {name[3:] for name in dir(namespace) if name.startswith("on_")} - {"connect", "disconnect"}
        assert events, namespace
        documented = set(re.findall(r"^\| `([a-z_]+)` \|", section(title), re.M))
        assert events <= documented, f"{title}: undocumented events {sorted(events - documented)}"


def test_every_rest_route_is_documented() -> None:
    rest = section("REST")
    tables = (api.routes, contacts.routes, editor.routes, pages.routes, privacy.routes,
              publishing.routes, reports.routes, surveys.routes, widget.routes,
              mobile_api.routes, telegram.routes)
    routes = [(r.method, r.path) for table in tables for r in table]  # type: ignore[attr-defined]
    assert routes
    for method, path in routes:
        assert f"`{method} {path}" in rest, f"undocumented route {method} {path}"
    assert "`POST /webhook`" in rest


def test_every_error_code_is_documented() -> None:
    from handoff.errors import HTTP_STATUS

    table = section("Error shape")
    for code, status in HTTP_STATUS.items():
        assert re.search(rf"^\| `{code}` \| ({status}|-) \|", table, re.M), code


def test_every_event_the_server_sends_is_documented_in_its_namespace() -> None:
    """Every ``emit("event", ..., namespace=CHAT | AGENT)`` in handoff/ and connectors/ is a row of that namespace's
    "Server -> client" table."""
    sent: set[tuple[str, str]] = set()
    for module in [*(ROOT / "handoff").rglob("*.py"), *(ROOT / "connectors").rglob("*.py")]:
        for node in ast.walk(ast.parse(module.read_text())):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "emit"):
                continue
            event = node.args[0]
            namespace = next((k.value for k in node.keywords if k.arg == "namespace"), None)
            assert isinstance(event, ast.Constant) and isinstance(namespace, ast.Name), ast.unparse(node)
            sent.add((namespace.id, event.value))
    assert {namespace for namespace, _ in sent} == set(NAMESPACES)
    for namespace, event in sent:
        table = section(NAMESPACES[namespace]).split("### Server -> client", 1)[1]
        assert f"| `{event}` |" in table, f"{NAMESPACES[namespace]}: {event} is sent but not documented"


def payload(name: str) -> str:
    """The paragraphs of docs/protocol.md from the line that starts with **name** to the next such line."""
    match = re.search(rf"^\*\*{re.escape(name)}\*\*(.*?)(?=^\*\*|\Z)", section("Payloads"), re.S | re.M)
    assert match, f"docs/protocol.md has no payload {name}"
    return match.group(1)


def undocumented(keys: set[str], text: str) -> list[str]:
    return sorted(k for k in keys if f'"{k}"' not in text and f"`{k}`" not in text)


def test_every_payload_field_is_documented() -> None:
    now = datetime(2026, 11, 22, 13, 20, tzinfo=UTC)
    conversation = Conversation(
        id="c_1", number=1, customer_id="u_1", customer_name="Customer", customer_preferred=False,
        channel="web", locale="en", status="queued", resolution=None,
        escalation_reason="low_confidence", agent_id=None, agent_name=None, last_seq=2, created_at=now,
        queued_at=now, last_activity_at=now, survey_answered=False, queue="general", priority="normal",
    )
    seen = views.conversation_view(conversation, views.QueuePlace(1, 1, 60))
    text = "---\nid: a-1\ntitle: A\nquestions: [q]\n---\nBody.\n"
    article_file = ArticleFile(parse_article(text, "a-1.md"), "a-1.md", text, "0" * 64)
    summary = views.case_summary(conversation, None, 0.8)
    fields = {
        "Conversation": set(seen),
        "CaseSummary": (set(summary) - set(seen)) | set(summary["sla"]),
        "Case": set(views.event_view(CaseEvent(None, "bot", "conversation_started", "customer", now))),
        "Message": set(views.message_view(Message("c_1", 1, "customer", "Customer", "hi", {}, now))),
        "Survey": set(views.survey_view(Survey(5, None, None, now))),
        "CaseSurvey": set(views.case_survey_view(Survey(5, None, "a_1", now), [])) - set(views.survey_view(
            Survey(5, None, None, now))),
        "Agent": set(agent_view(Agent("a_1", "agent", "Agent", "hash"))),
        "ArticleSummary": set(editor.summary_view(article_file)),
        "ArticleFile": set(editor.detail_view(article_file)),
        "TryHit": set(editor.hit_view(Hit("a-1", "A", None, 0.5, "q"))),
        "Decision": set(editor.decision_view(Decision("answer", ("a-1",), 0.5, "score 0.500 >= 0.3"))),
        "Question": {key for question in survey_questions.describe(tuple(survey_questions.QUESTIONS))
                     for key in question} | set(survey_questions.QUESTIONS),
    }
    for name, keys in fields.items():
        assert keys, name
        assert not undocumented(keys, payload(name)), f"{name}: undocumented fields {undocumented(keys, payload(name))}"


def test_every_timeline_reason_is_documented_and_every_documented_one_exists() -> None:
    """docs/protocol.md's "Timeline reasons" table and `Reason` name the same reasons."""
    from handoff.store.records import Reason

    table = DOC.split("Timeline reasons:", 1)[1].split("\n\n", 2)[1]
    documented = {name for row in table.splitlines()[2:] for name in re.findall(r"`([a-z_]+)`", row.split("|")[1])}
    assert documented == {str(reason) for reason in Reason}
