"""The app fuzzed as an attacker would (harness/fuzzing.py), on a small budget: schemathesis over the whole
OpenAPI document it serves (the customers' and the staff's REST calls, valid and invalid requests, with a
customer's and a supervisor-editor's token), and seeded random and malformed socket.io events and frames
on ``/chat`` and ``/agent``. Nothing answers 5xx or ``internal``, every refusal is in the one error
shape, and the app's log holds no traceback. bench/fuzz.py runs the full budget (10,000 inputs and more)."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Iterator

import pytest

from harness.clients import http_json, sign_in
from harness.fuzzing import fuzz_rest, fuzz_sockets, fuzz_stateful
from harness.servers import ROOT, AppProcess, free_port, start_app

REST_EXAMPLES = 3  # per operation, generation mode and token
SOCKET_EVENTS = 300
STATEFUL_SCENARIOS = 24
SEED = 17


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppProcess]:
    """An app of its own (the fuzzers change what they may), editing a copy of the articles, with nothing
    listening where Rasa should be."""
    workdir = tmp_path_factory.mktemp("fuzz")
    articles = workdir / "articles"
    shutil.copytree(ROOT / "training_data" / "articles", articles)
    process = start_app(workdir, f"http://127.0.0.1:{free_port()}", {"CASEDESK_ARTICLES_DIR": str(articles)})
    process.add_agent("plain")  # the agent role only: may not publish
    yield process
    process.stop()


async def test_rest_fuzzing_finds_no_server_error(app: AppProcess) -> None:
    _, started = await http_json("POST", f"{app.url}/api/conversations", {"name": "Dana"})
    _, document = await http_json("GET", f"{app.url}/api/openapi.json")
    tokens = {"customer": started["token"], "staff": await sign_in(app.url)}
    plain, spare = await sign_in(app.url, "plain"), await sign_in(app.url)
    conversation_id = started["conversation"]["id"]
    _, case = await http_json("GET", f"{app.url}/api/cases/{conversation_id}", token=tokens["staff"])
    known = {"conversation_id": conversation_id, "contact_id": case["case"]["customer_id"],
             "article_id": "bike-returns"}
    found = await asyncio.to_thread(fuzz_rest, app.url, document, tokens, REST_EXAMPLES, plain, spare, known)
    assert not found.problems, "\n".join(found.problems[:20])
    assert found.sent >= len(document["paths"]) * 2 * 2  # every path, both modes, both tokens (at least)
    # Accepted and refused: the staff's token stays signed in throughout.
    assert found.answers["200"] + found.answers["201"] > len(document["paths"]) and found.answers["400"] > 0
    assert "Traceback" not in "".join(app.output), "".join(app.output)[-5000:]


async def test_socket_fuzzing_finds_no_internal_error(app: AppProcess) -> None:
    found = await fuzz_sockets(app.url, await sign_in(app.url), SOCKET_EVENTS, SEED)
    assert not found.problems, "\n".join(found.problems[:20])
    assert found.sent >= SOCKET_EVENTS
    assert found.answers["ok"] > 0 and found.answers["invalid_payload"] > 0 and found.answers["unknown_event"] > 0
    assert "Traceback" not in "".join(app.output), "".join(app.output)[-5000:]


async def test_stateful_fuzzing_finds_no_server_error(app: AppProcess) -> None:
    """Chains of calls along the links schemathesis infers (a started conversation's id to its messages, a new
    account's to its page), so that calls reach beyond 404."""
    _, document = await http_json("GET", f"{app.url}/api/openapi.json")
    staff, plain, spare = await sign_in(app.url), await sign_in(app.url, "plain"), await sign_in(app.url)
    found = await asyncio.to_thread(fuzz_stateful, app.url, document, staff, plain, spare, STATEFUL_SCENARIOS)
    assert not found.problems, "\n".join(found.problems[:20])
    assert found.sent >= STATEFUL_SCENARIOS
    assert found.answers["200"] + found.answers["201"] > STATEFUL_SCENARIOS // 2, dict(found.answers)
    assert "Traceback" not in "".join(app.output), "".join(app.output)[-5000:]
