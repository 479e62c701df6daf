"""The running app answers as its OpenAPI document says (assembled from the wire's models by
connectors/mobile_api.py, served at /api/openapi.json): schemathesis generates requests from the
document, valid ones and invalid ones,
sends them to a real app process, and checks every answer's status code, content type and body
against the document, that invalid requests are refused, that no call passes without the token it
needs, and that nothing fails with a 500. Deterministic (derandomized, a fixed number of examples) and
offline: the document is the app's, nothing is fetched from elsewhere."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import hypothesis
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import positive_data_acceptance

from connectors import mobile_api
from handoff.errors import HTTP_STATUS
from handoff.wire import staff
from harness.clients import agent_socket, http_json, sign_in
from harness.servers import AppProcess, free_port, start_app

EXAMPLES = 25  # per operation, generation mode and setting of the path
QUICK_WAIT = 0.2  # seconds: long-polls the generator asks for are cut to this, to keep the run short


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppProcess]:
    """The app with nothing listening where Rasa should be: the bot hands every conversation over at once."""
    process = start_app(tmp_path_factory.mktemp("openapi"), f"http://127.0.0.1:{free_port()}")
    yield process
    process.stop()


def error_code_matches_status(ctx: schemathesis.CheckContext, response: schemathesis.Response,
                              case: schemathesis.Case) -> bool | None:
    """An error answer carries the one error shape, with the code of its HTTP status (handoff/errors.py)."""
    if response.status_code < 400:
        return None
    code = response.json()["error"]["code"]
    assert HTTP_STATUS[code] == response.status_code, f"{code} answered with {response.status_code}"
    return True


def only_the_button_refused(ctx: schemathesis.CheckContext, response: schemathesis.Response,
                            case: schemathesis.Case) -> bool | None:
    """A well-formed button press is refused only for its payload: the bot must have offered it in its
    latest message, which the document cannot say."""
    if response.status_code == 400:
        assert response.json()["error"]["message"].startswith("payload:"), response.text
    return True


def presses_a_button(case: schemathesis.Case) -> bool:
    return case.operation.path.endswith("/messages") and isinstance(case.body, dict) and bool(case.body.get("payload"))


def shorten_wait(case: schemathesis.Case) -> None:
    wait = (case.query or {}).get("wait")
    if isinstance(wait, int | float) and not isinstance(wait, bool) and 0 <= wait <= mobile_api.MAX_WAIT_SECONDS:
        case.query["wait"] = min(wait, QUICK_WAIT)


def run_one(strategy: Any, mode: GenerationMode, base_url: str, session: requests.Session) -> int:
    """Send the cases of ``strategy`` and check each answer; returns how many were sent."""
    sent = 0

    @hypothesis.settings(max_examples=EXAMPLES, derandomize=True, database=None, deadline=None,
                         suppress_health_check=list(HealthCheck), print_blob=False)
    @given(case=strategy)
    def check(case: schemathesis.Case) -> None:
        nonlocal sent
        shorten_wait(case)
        extra, excluded = [error_code_matches_status], []
        if mode == GenerationMode.POSITIVE and presses_a_button(case):
            extra.append(only_the_button_refused)
            excluded.append(positive_data_acceptance)
        case.call_and_validate(base_url=base_url, session=session, timeout=10,
                               additional_checks=extra, excluded_checks=excluded)
        sent += 1

    check()
    return sent


MOBILE = {(r.method, r.path) for r in mobile_api.routes}  # type: ignore[attr-defined]


def run(schema: Any, base_url: str, headers: dict[str, str], path: dict[str, str] | None) -> int:
    """Every operation of the customers' API in ``schema``, in both generation modes; returns how many cases
    were sent. (The staff's operations of the same document: tests/test_fuzzing.py.)"""
    sent = 0
    with requests.Session() as session:
        for result in schema.get_all_operations():
            operation = result.ok()
            if (operation.method.upper(), operation.path) not in MOBILE:
                continue
            fixed = path if path and "{conversation_id}" in operation.path else None
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                strategy = operation.as_strategy(generation_mode=mode, headers=headers, path_parameters=fixed)
                try:
                    sent += run_one(strategy, mode, base_url, session)
                except hypothesis.errors.Unsatisfiable:
                    # Nothing of the request can be made invalid: no body, no query, the path fixed (or plain).
                    assert mode == GenerationMode.NEGATIVE, operation.path
                    assert not operation.body and not list(operation.query), operation.path
                    assert fixed or "{" not in operation.path, operation.path
    return sent


async def test_the_app_answers_as_its_openapi_document_says(app: AppProcess) -> None:
    status, started = await http_json("POST", f"{app.url}/api/conversations", {"name": "Dana"})
    assert status == 201, started
    conversation_id, token = started["conversation"]["id"], started["token"]
    status, sent = await http_json("POST", f"{app.url}/api/conversations/{conversation_id}/messages",
                                   {"text": "Where is my parcel?"}, token=token)
    assert status == 201, sent
    # A second conversation, resolved by an agent, so that its survey can be answered once.
    _, other = await http_json("POST", f"{app.url}/api/conversations", {})
    await http_json("POST", f"{app.url}/api/conversations/{other['conversation']['id']}/messages",
                    {"text": "I need a person"}, token=other["token"])
    agent = await agent_socket(app.url, await sign_in(app.url))
    await agent.ok("accept_case", {"conversation_id": other["conversation"]["id"]})
    await agent.ok("resolve_case", {"conversation_id": other["conversation"]["id"], "category": "problem_solved"})
    await agent.close()

    _, document = await http_json("GET", f"{app.url}/api/openapi.json")
    described = {(method.upper(), path) for path, item in document["paths"].items() for method in item
                 if method != "parameters"}
    assert described == MOBILE | {tuple(key.split(" ", 1)) for key in staff.REST_REPLIES}
    schema = schemathesis.openapi.from_dict(document, config=schemathesis.Config())
    served = {(o.ok().method.upper(), o.ok().path) for o in schema.get_all_operations()} & MOBILE

    def everything() -> int:
        bearer = {"Authorization": f"Bearer {token}"}
        return (run(schema, app.url, bearer, {"conversation_id": conversation_id})  # the customer's own
                + run(schema, app.url, bearer, None)  # any other id: forbidden
                + run(schema, app.url, {"Authorization": f"Bearer {other['token']}"},
                      {"conversation_id": other["conversation"]["id"]}))  # resolved: the survey

    sent_cases = await asyncio.to_thread(everything)
    assert sent_cases >= 3 * 2 * len(served)
    assert "Traceback" not in "".join(app.output), "".join(app.output)


def test_the_served_document_follows_the_settings(tmp_path: Path) -> None:
    """The message length and the survey's questions come from the settings, not from the models' defaults."""
    from handoff.settings import Settings

    settings = Settings(max_message_length=500, survey_questions=("satisfaction", "nps"))
    doc = mobile_api.document(settings)
    schemas = doc["components"]["schemas"]
    assert schemas["SendMessage"]["properties"]["text"]["maxLength"] == 500
    assert set(schemas["SurveyAnswer"]["properties"]) == {"rating", "nps"}
    assert schemas["SurveyAnswer"]["required"] == ["rating"]
    assert schemas["SurveyAnswer"]["properties"]["nps"]["anyOf"] == [
        {"type": "integer", "minimum": 0, "maximum": 10}, {"type": "null"}]
    assert "identity" not in schemas["StartConversationRest"]["properties"]  # no identity_secret: refused
    assert "x-limit-setting" not in str(doc)


def test_the_document_is_valid_openapi() -> None:
    """Every reference resolves and schemathesis reads every operation (no identity_secret, and with one)."""
    from handoff.settings import Settings

    for settings in (Settings(), Settings(identity_secret="s" * 32)):
        schema = schemathesis.openapi.from_dict(mobile_api.document(settings), config=schemathesis.Config())
        operations = [result.ok() for result in schema.get_all_operations()]  # type: ignore[union-attr]
        assert {(o.method.upper(), o.path) for o in operations} == MOBILE | {
            tuple(key.split(" ", 1)) for key in staff.REST_REPLIES}
