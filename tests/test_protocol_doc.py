"""docs/protocol.md documents every socket event the server handles or sends, every REST route, and
every field of the payloads the server builds."""

from __future__ import annotations

import ast
import enum
import re
import typing
from datetime import UTC, datetime
from pathlib import Path

from pydantic import BaseModel

from connectors import mobile_api, telegram
from handoff.cases import presence, routing, views
from handoff.settings import Settings
from handoff.staff.accounts import agent_view
from handoff.store.records import Agent, CaseEvent, Conversation, Message, Survey
from handoff.surveys import questions as survey_questions
from handoff.web import api, pages, widget
from handoff.web.agent import AgentNamespace
from handoff.web.chat import ChatNamespace
from handoff.web.routes import audit, contacts, editor, metrics, privacy, publishing, reports, surveys
from handoff.wire import agent as agent_wire
from handoff.wire import customer, editorial, replies, staff
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
    tables = (api.routes, audit.routes, contacts.routes, editor.routes, metrics.routes, pages.routes, privacy.routes,
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


# The drift test: docs/protocol.md and the wire's models (which make the OpenAPI document too) list
# the same fields. A table row's payload and ack, a REST row's body and response, and a payload of
# "Payloads" name exactly the fields of their model; `"field"?:` is a field that may be left out.

def cells(line: str) -> list[str]:
    return [cell.strip() for cell in re.split(r"(?<!\\)\|", line)[1:-1]]


def rows(text: str, heading: str) -> dict[str, list[str]]:
    """The rows of the table under ``### heading`` in ``text``, by their first cell's `name`."""
    table = text.split(f"### {heading}\n", 1)[1].split("\n### ", 1)[0]
    found = {}
    for line in table.splitlines():
        match = re.match(r"^\| `([^`]+)` \|", line)
        if match:
            found[match.group(1)] = cells(line)
    return found


def keys(text: str) -> tuple[set[str], set[str]]:
    """The keys at the top level of the first ``{...}`` in ``text``, and those of them marked ``?``."""
    start = text.index("{")
    depth, found, optional, i = 0, set(), set(), start
    while i < len(text):
        char = text[i]
        if char in "{[":
            depth += 1
        elif char in "}]":
            depth -= 1
            if depth == 0:
                break
        elif char == '"':
            end = text.index('"', i + 1)
            before = text[start:i].rstrip()
            if depth == 1 and before[-1] in "{,":
                found.add(text[i + 1:end])
                if text[end + 1:end + 2] == "?":
                    optional.add(text[i + 1:end])
            i = end
        i += 1
    return found, optional


def model_keys(model: type[BaseModel]) -> tuple[set[str], set[str]]:
    """A model's fields by their JSON names, and those that may be left out."""
    fields = {(info.alias or name): info for name, info in model.model_fields.items()}
    return set(fields), {name for name, info in fields.items() if not info.is_required()}


def enum_values(model: type[BaseModel]) -> dict[str, set[str]]:
    """The allowed values of the model's fields that are closed sets (a StrEnum)."""
    found = {}
    for name, info in model.model_fields.items():
        for kind in (info.annotation, *typing.get_args(info.annotation)):
            if isinstance(kind, type) and issubclass(kind, enum.Enum):
                found[info.alias or name] = {str(member.value) for member in kind}
    return found


def assert_payload(where: str, cell: str, model: type[BaseModel], *, optional_marked: bool = True) -> None:
    documented, optional = keys(cell)
    fields, may_be_left_out = model_keys(model)
    assert documented == fields, f"{where}: documents {sorted(documented)}, {model.__name__} has {sorted(fields)}"
    if optional_marked:
        assert optional == may_be_left_out, (
            f"{where}: marked optional {sorted(optional)}, {model.__name__} lets out {sorted(may_be_left_out)}")
    for name, values in enum_values(model).items():
        shown = set(re.findall(rf'"{name}"\??: ((?:"[a-z_]+"(?: \\\| )?)+)', cell))
        for listing in shown:
            assert set(re.findall(r'"([a-z_]+)"', listing)) == values, f"{where}: {name} is one of {sorted(values)}"


NAMESPACE_MODELS = {
    "Customer namespace `/chat`": (customer.CHAT_EVENTS, customer.CHAT_SENT, ChatNamespace),
    "Agent namespace `/agent`": (agent_wire.AGENT_EVENTS, agent_wire.AGENT_SENT, AgentNamespace),
}


def test_every_socket_event_documents_the_fields_of_its_models() -> None:
    for title, (events, sent, namespace) in NAMESPACE_MODELS.items():
        handled = {name[3:] for name in dir(namespace) if name.startswith("on_")} - {"connect", "disconnect"}
        assert set(events) == handled, f"{title}: events without models: {sorted(handled - set(events))}"
        table = rows(section(title), "Client -> server")
        for event, (payload_model, ack_model) in events.items():
            _, payload_cell, ack_cell = table[event]
            assert_payload(f"{title} {event} payload", payload_cell, payload_model)
            assert_payload(f"{title} {event} ack", ack_cell, ack_model, optional_marked=False)
        table = rows(section(title), "Server -> client")
        assert set(sent) == set(table), title
        for event, model in sent.items():
            cell = table[event][1]
            if cell.startswith("`{"):
                assert_payload(f"{title} {event}", cell, model, optional_marked=False)
            else:
                assert cell.startswith(f"`{model.__name__}`"), f"{title} {event}: is {model.__name__}, not {cell}"


PAYLOAD_MODELS: dict[str, tuple[type[BaseModel], type[BaseModel] | None]] = {  # name -> model, the one it extends
    "Message": (replies.Message, None),
    "Conversation": (replies.Conversation, None),
    "CaseSummary": (replies.CaseSummary, replies.CaseView),
    "Survey": (replies.Survey, None),
    "CaseSurvey": (replies.CaseSurvey, replies.Survey),
    "Colleague": (agent_wire.Colleague, None),
    "Agent": (staff.AgentView, None),
    "StaffAccount": (staff.StaffAccount, None),
    "Hit": (staff.Hit, None),
    "ArticleSummary": (editorial.ArticleSummary, None),
    "ArticleFile": (editorial.ArticleFile, None),
    "TryHit": (editorial.TryHit, None),
    "Decision": (editorial.Decision, None),
    "Contact": (staff.Contact, None),
    "ContactDetail": (staff.ContactDetail, staff.Contact),
    "Account": (staff.Account, None),
    "AccountDetail": (staff.AccountDetail, staff.Account),
    "Entitlement": (staff.Entitlement, None),
    "AuditEntry": (staff.AuditEntry, None),
    "Question": (customer.Question, None),
}


def test_every_payload_shows_the_fields_of_its_model() -> None:
    for name, (model, base) in PAYLOAD_MODELS.items():
        own = model.model_fields.keys() - (base.model_fields.keys() if base else set())
        text = payload(name)
        if "{" in text:
            documented, _ = keys(text)
            assert documented == own, f"{name}: documents {sorted(documented)}, the model has {sorted(own)}"
        else:  # prose: "X plus `"field"`, ..."
            assert set(re.findall(r'"([a-z_]+)": ', text)) == own, f"{name}: the model has {sorted(own)}"
    sla, _ = keys(payload("CaseSummary").split('"sla":', 1)[1])
    assert sla == set(replies.Sla.model_fields)
    case = set(replies.Case.model_fields) - set(replies.CaseSummary.model_fields)
    assert not undocumented(case, payload("Case")), f"Case: undocumented {undocumented(case, payload('Case'))}"
    event, _ = keys(payload("Case").split("`events`", 1)[1])
    assert event == model_keys(replies.CaseEvent)[0]
    job, _ = keys(section("REST").split("`PublishJob`: ", 1)[1])
    assert job == model_keys(editorial.PublishJob)[0]


def test_the_rest_rows_and_the_openapi_document_share_the_models() -> None:
    """The calls of the OpenAPI document: their rows name the fields of the same models, and a call that
    takes "the payload of" an event takes that event's model."""
    rest = {}
    for line in section("REST").splitlines():
        if line.startswith("| `"):
            row = cells(line)
            method, path = row[0].strip("`").split()[:2]
            rest[f"{method} {path.split('?')[0]}"] = row
    settings = Settings(survey_questions=tuple(survey_questions.QUESTIONS))
    for op in mobile_api.operations(settings):
        _, _, body_cell, response_cell = rest[f"{op.method} {op.path}"]
        if op.body is not None:
            mirrored = re.search(r"the (?:payload|body) of `([a-z_]+)`", body_cell)
            assert mirrored, f"{op.method} {op.path}: the body names no event"
            event_model = customer.CHAT_EVENTS[mirrored.group(1)][0]
            assert model_keys(op.body)[0] == model_keys(event_model)[0], f"{op.method} {op.path}"
        if isinstance(op.reply, type):
            assert_payload(f"{op.method} {op.path}", response_cell, op.reply, optional_marked=False)
    served = mobile_api.document(settings)["components"]["schemas"]
    for name, (model, _) in PAYLOAD_MODELS.items():
        if name in served:  # the document's shapes are the payloads' models
            assert set(served[name]["properties"]) == set(model_keys(model)[0]), name


def test_the_survey_models_follow_the_questions() -> None:
    """The wire's answer fields and their scales are the survey's questions' (handoff/surveys/questions.py)."""
    fields = {question.field: question for question in survey_questions.QUESTIONS.values()}
    assert set(customer.SURVEY_FIELDS) == set(fields)
    schema = customer.SurveyAnswer.model_json_schema()["properties"]
    for field, question in fields.items():
        if question.scale:
            bounds = schema[field].get("anyOf", [schema[field]])[0]
            assert (bounds["minimum"], bounds["maximum"]) == question.scale, field


def test_the_closed_sets_of_the_models_are_the_code_s() -> None:
    """The wire's closed sets that the rooms below also name (the wire imports none of them)."""
    assert tuple(agent_wire.Availability) == presence.AVAILABILITY
    assert tuple(replies.Channel) == routing.CHANNELS
    assert tuple(agent_wire.Assignment) == routing.ASSIGNMENT
    assert tuple(replies.Priority) == routing.PRIORITIES


EXTERNAL_BODIES = {"POST /webhook", "POST /channels/telegram"}  # Rasa's and Telegram's formats, not ours


def test_every_rest_body_and_query_documents_the_fields_of_its_model() -> None:
    for line in section("REST").splitlines():
        if not line.startswith("| `"):
            continue
        route, _, body_cell, response_cell = cells(line)
        method, target = route.strip("`").split()[:2]
        path, _, query = target.partition("?")
        call = f"{method} {path}"
        if call in staff.REST_QUERIES:
            query_model = staff.REST_QUERIES[call]
            assert set(re.findall(r"([a-z_]+)=", query)) == model_keys(query_model)[0], f"{call}: query {query}"
        if call in staff.REST_REPLIES | customer.REST_REPLIES:
            reply_model = (staff.REST_REPLIES | customer.REST_REPLIES)[call]
            assert_payload(f"{call} response", response_cell, reply_model, optional_marked=False)
        if call in staff.REST_BODIES:
            assert_payload(f"{call} body", body_cell, staff.REST_BODIES[call])
        elif "{" in body_cell and call not in EXTERNAL_BODIES:
            assert re.search(r"the (?:payload|body) of `([a-z_]+)`", body_cell), f"{call}: a body without a model"
