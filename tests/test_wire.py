"""The wire's models (handoff/wire/): what they import, and how their refusals read."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from handoff.wire import agent, api_error, customer, editorial, staff

WIRE = Path(__file__).resolve().parent.parent / "handoff" / "wire"
ALLOWED = ("pydantic", "pydantic_core", "annotated_types", "handoff.errors", "handoff.store.records", "handoff.wire")


def test_the_wire_depends_only_on_pydantic_the_errors_and_the_records() -> None:
    for module in WIRE.glob("*.py"):
        for node in ast.walk(ast.parse(module.read_text())):
            names = ([alias.name for alias in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) and node.level == 0 else [])
            for name in names:
                ours = name.split(".")[0] in ("handoff", "connectors", "bot", "knowledge_index")
                if ours or name.split(".")[0] in ("aiohttp", "socketio", "sqlalchemy"):
                    assert name.startswith(ALLOWED), f"{module.name} imports {name}"


def refusal(model: type[BaseModel], payload: Any, **context: Any) -> tuple[str, str]:
    with pytest.raises(ValidationError) as caught:
        model.model_validate(payload, context=context)
    error = api_error(caught.value)
    return error.code, error.message


@pytest.mark.parametrize(("model", "payload", "context", "expected"), [
    (customer.SendMessage, None, {}, ("invalid_payload", "payload: must be a JSON object")),
    (customer.SendMessage, ["a"], {}, ("invalid_payload", "payload: must be a JSON object")),
    (customer.SendMessage, {}, {}, ("invalid_payload", "text: required")),
    (customer.SendMessage, {"text": "hi", "b": 1, "a": 2}, {}, ("invalid_payload", "a: unknown field")),
    (customer.SendMessage, {"text": 3}, {}, ("invalid_payload", "text: must be a string")),
    (customer.SendMessage, {"text": " \x1c "}, {}, ("invalid_payload", "text: must not be empty")),
    (customer.SendMessage, {"text": "x" * 2001}, {}, ("message_too_long", "text: must be at most 2000 characters")),
    (customer.SendMessage, {"text": "x" * 11}, {"max_message_length": 10},
     ("message_too_long", "text: must be at most 10 characters")),
    (customer.SendMessage, {"text": "hi", "client_id": "a b"}, {},
     ("invalid_payload", "client_id: must be 1 to 64 letters, digits, - or _")),
    (customer.SendMessage, {"text": "hi", "client_id": "x" * 65}, {},
     ("invalid_payload", "client_id: must be 1 to 64 letters, digits, - or _")),
    (agent.AgentMessage, {"conversation_id": "c", "text": "hi", "client_id": 7}, {},
     ("invalid_payload", "client_id: must be a string")),
    (agent.ResumeCases, {"cases": [{"conversation_id": "c", "after_seq": -1}]}, {},
     ("invalid_payload", "cases.0.after_seq: must be between 0 and 2147483648")),
    (customer.StartConversation, {"channel": "fax"}, {}, ("invalid_payload", "channel: must be one of web, mobile")),
    (customer.StartConversation, {"locale": "EN"}, {}, ("invalid_payload", "locale: must look like en or de-DE")),
    (customer.ResumeConversation, {"token": "t", "after_seq": -1}, {},
     ("invalid_payload", "after_seq: must be between 0 and 2147483648")),
    (customer.ResumeConversation, {"token": "t", "after_seq": True}, {},
     ("invalid_payload", "after_seq: must be an integer")),
    (customer.SetTyping, {"typing": "yes"}, {}, ("invalid_payload", "typing: must be true or false")),
    (customer.survey_answer(("rating",)), {"rating": 5, "comment": "x"}, {},
     ("invalid_payload", "comment: this survey does not ask it")),
    (customer.MessagesQuery, {"wait": "1e9"}, {},
     ("invalid_payload", "wait: must be a number of seconds between 0 and 30")),
    (customer.MessagesQuery, {"colour": "red"}, {}, ("invalid_payload", "colour: unknown parameter")),
    (agent.SetAvailability, {"availability": "asleep"}, {},
     ("invalid_payload", "availability: must be one of available, busy, away")),
    (agent.TransferCase, {"conversation_id": "c", "note": "x" * 21}, {"max_message_length": 20},
     ("message_too_long", "note: must be at most 20 characters")),
    (editorial.CreateDraft, {"case_id": "x" * 65}, {}, ("invalid_payload", "case_id: must be at most 64 characters")),
    (staff.AddEntitlement, {"name": "Gold", "ends_at": "soon"}, {},
     ("invalid_payload", "ends_at: must be an ISO 8601 time such as 2027-01-31T00:00:00Z")),
    (staff.UpdateContact, {"account_id": ""}, {}, ("invalid_payload", "account_id: must not be empty")),
    (staff.CancelCase, {"reason": "bored"}, {},
     ("invalid_payload", "reason: must be one of spam, duplicate, test, other")),
    (staff.NoFields, {"force": True}, {}, ("invalid_payload", "force: unknown field")),
])
def test_refusals_name_the_field_and_keep_the_codes(model: type[BaseModel], payload: Any, context: dict[str, Any],
                                                    expected: tuple[str, str]) -> None:
    assert refusal(model, payload, **context) == expected


def test_what_validates_comes_out_clean() -> None:
    assert customer.SendMessage.model_validate({"text": "  hi  ", "payload": ""}).model_dump() == {
        "text": "hi", "payload": None, "client_id": None}
    assert customer.SendMessage.model_validate({"text": "hi", "client_id": "9f1c-A_2"}).client_id == "9f1c-A_2"
    assert customer.ResumeConversation.model_validate({"token": "t", "after_seq": 4.0}).after_seq == 4
    assert editorial.CreateArticle.model_validate({"path": "a.md", "text": "x"}).text == "x\n"
    patch = staff.UpdateContact.model_validate({"email": "", "preferred": True})
    assert staff.changed(patch) == {"email": None, "preferred": True}
    entitlement = staff.AddEntitlement.model_validate({"name": "Gold", "starts_at": "2027-01-31"})
    assert entitlement.starts_at is not None and entitlement.starts_at.isoformat() == "2027-01-31T00:00:00+00:00"


def test_a_report_query_checks_the_period_with_today_from_the_context() -> None:
    from datetime import date

    today = {"today": date(2026, 6, 30)}
    asked = staff.TopicsQuery.model_validate({"from": " 2026-06-01 ", "channel": "", "tag": "bikes"}, context=today)
    assert asked.period(date(2026, 6, 30)) == (date(2026, 6, 1), date(2026, 6, 30))
    assert (asked.channel, asked.tag) == (None, "bikes")
    assert refusal(staff.ReportQuery, {"from": "2025-13-01"}, **today) == ("invalid_payload",
                                                                           "from: 2025-13-01 is no date")
    assert refusal(staff.ReportQuery, {"queue": "q" * 41}, **today) == ("invalid_payload",
                                                                        "queue: must be at most 40 characters")
    assert staff.ReportQuery.model_validate({"queue": " "}, context=today).queue is None
    assert refusal(staff.ReportQuery, {"to": "20250604"}, **today) == ("invalid_payload",
                                                                       "to: must be a date as YYYY-MM-DD")
    assert refusal(staff.ReportQuery, {"from": "2026-07-01"}, **today) == ("invalid_payload",
                                                                           "from: must not be after to")
    assert refusal(staff.ReportQuery, {"from": "2024-01-01"}, **today) == (
        "invalid_payload", "from, to: a period is at most 366 days")
    assert refusal(staff.ReportQuery, {"tag": "x"}, **today) == ("invalid_payload", "tag: unknown parameter")
    assert refusal(staff.ReportQuery, {"channel": "fax"}, **today) == (
        "invalid_payload", "channel: must be one of web, mobile, telegram")
