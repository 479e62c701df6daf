"""Fuzzing a running app, as an attacker would: schemathesis over the whole OpenAPI document it serves
(`fuzz_rest`, each operation alone; `fuzz_stateful`, chains of calls along the links it infers), and
random and malformed socket.io events and frames on ``/chat`` and ``/agent`` (`fuzz_sockets`, seeded).
Each counts what it sent and what came back; a 5xx, an ``internal`` error or an answer outside the one
error shape is a finding. Used by tests/test_fuzzing.py (a small budget) and bench/fuzz.py (the full
one)."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import itertools
import json
import random
import string
from collections import Counter
from typing import Any

import aiohttp
import hypothesis
import requests
import schemathesis
import socketio
from hypothesis import HealthCheck, given
from schemathesis import GenerationMode

from handoff.errors import HTTP_STATUS
from handoff.wire.customer import MAX_WAIT_SECONDS
from harness.frames import RawSocket

QUICK_WAIT = 0.2  # seconds: long-polls the generator asks for are cut to this
# Operations that start work no fuzzer should start (a publish retrains and rebuilds): only refused calls,
# with the token of an account that may not (`fuzz_rest`'s ``refused_token``).
ONLY_REFUSED = frozenset({("POST", "/api/kb/publish"), ("POST", "/api/kb/rollback")})
SIGN_OUT = ("POST", "/api/agent/logout")  # ends the session of its token: fuzzed with one of its own


@dataclasses.dataclass
class Findings:
    """What a fuzzer sent, the answers by status (REST) or code (sockets), and what it found wrong."""

    sent: int = 0
    answers: Counter[str] = dataclasses.field(default_factory=Counter)
    problems: list[str] = dataclasses.field(default_factory=list)

    def add(self, other: Findings) -> None:
        self.sent += other.sent
        self.answers.update(other.answers)
        self.problems.extend(other.problems)


def _check_rest_answer(status: int, body: str, where: str, found: Findings) -> None:
    found.sent += 1
    found.answers[str(status)] += 1
    if status >= 500:
        found.problems.append(f"{where}: {status} {body[:300]}")
        return
    if status >= 400:
        try:
            code = json.loads(body)["error"]["code"]
        except (ValueError, KeyError, TypeError):
            found.problems.append(f"{where}: {status} outside the error shape: {body[:300]}")
            return
        if HTTP_STATUS.get(code) != status:
            found.problems.append(f"{where}: {code} answered with {status}")


def _shorten_wait(case: schemathesis.Case) -> None:
    wait = (case.query or {}).get("wait")
    if isinstance(wait, int | float) and not isinstance(wait, bool) and 0 <= wait <= MAX_WAIT_SECONDS:
        case.query["wait"] = min(wait, QUICK_WAIT)


def fuzz_rest(base_url: str, document: dict[str, Any], tokens: dict[str, str], examples: int,
              refused_token: str, spare_token: str, known_ids: dict[str, str]) -> Findings:
    """Every operation of ``document`` in both generation modes, ``examples`` cases each, once for each
    bearer token of ``tokens`` (name -> token); instead, the operations of `ONLY_REFUSED` with
    ``refused_token`` (an account that may not run them), signing out with ``spare_token`` (a session of
    its own). An operation whose path names one of ``known_ids`` (``{article_id}`` -> an article's id) runs
    with them too, besides random ones. Blocking: run it in a thread."""
    schema = schemathesis.openapi.from_dict(document, config=schemathesis.Config())
    found = Findings()
    with requests.Session() as session:
        for result in schema.get_all_operations():
            operation = result.ok()
            key = (operation.method.upper(), operation.path)
            bearers = ({"refused": refused_token} if key in ONLY_REFUSED else {"spare": spare_token}
                       if key == SIGN_OUT else tokens)
            known = {name: value for name, value in known_ids.items() if f"{{{name}}}" in operation.path}
            for name, token in bearers.items():
                for mode, fixed in itertools.product((GenerationMode.POSITIVE, GenerationMode.NEGATIVE),
                                                     (None, known) if known else (None,)):
                    strategy = operation.as_strategy(generation_mode=mode, path_parameters=fixed,
                                                     headers={"Authorization": f"Bearer {token}"})
                    where = f"{key[0]} {key[1]} ({name}, {mode.value}{', known ids' if fixed else ''})"
                    with contextlib.suppress(hypothesis.errors.Unsatisfiable):  # nothing can be made invalid
                        _send_all(strategy, examples, base_url, session, where, found)
    return found


def _send_all(strategy: Any, examples: int, base_url: str, session: requests.Session, where: str,
              found: Findings) -> None:
    @hypothesis.settings(max_examples=examples, derandomize=True, database=None, deadline=None,
                         suppress_health_check=list(HealthCheck), print_blob=False)
    @given(case=strategy)
    def send(case: schemathesis.Case) -> None:
        _shorten_wait(case)
        response = case.call(base_url=base_url, session=session, timeout=30)
        _check_rest_answer(response.status_code, response.text, where, found)

    send()


def fuzz_stateful(base_url: str, document: dict[str, Any], staff_token: str, refused_token: str, spare_token: str,
                  scenarios: int, steps: int = 6) -> Findings:
    """schemathesis's stateful fuzzing: ``scenarios`` chains of up to ``steps`` calls, following the links it
    infers between operations (a started conversation's id to its messages, a new account's id to its
    page...). The staff's calls carry ``staff_token`` (`ONLY_REFUSED` ``refused_token``, signing out
    ``spare_token``); the customers' carry the token of the latest conversation started in the chain.
    Blocking: run it in a thread."""
    schema = schemathesis.openapi.from_dict(document, config=schemathesis.Config())
    found = Findings()
    customer_scheme = next(name for name, scheme in document["components"]["securitySchemes"].items()
                           if "POST /api/conversations" in scheme.get("description", ""))

    class Machine(schema.as_state_machine()):  # type: ignore[misc]
        customer_token = ""

        def get_call_kwargs(self, case: schemathesis.Case) -> dict[str, Any]:
            key = (case.operation.method.upper(), case.operation.path)
            security = case.operation.definition.raw.get("security") or [{}]
            token = (refused_token if key in ONLY_REFUSED else spare_token if key == SIGN_OUT
                     else self.customer_token if customer_scheme in security[0] else staff_token)
            _shorten_wait(case)
            return {"base_url": base_url, "headers": {"Authorization": f"Bearer {token}"}, "timeout": 30}

        def validate_response(self, response: Any, case: schemathesis.Case, additional_checks: Any = None,
                              **kwargs: Any) -> None:
            where = f"{case.operation.method.upper()} {case.operation.path} (stateful)"
            _check_rest_answer(response.status_code, response.text, where, found)
            if where.startswith("POST /api/conversations ") and response.status_code == 201:
                self.customer_token = response.json()["token"]

    Machine.run(settings=hypothesis.settings(max_examples=scenarios, derandomize=True, database=None, deadline=None,
                                             suppress_health_check=list(HealthCheck), stateful_step_count=steps,
                                             print_blob=False))
    return found


# -- sockets ---------------------------------------------------------------------------------------

CHAT_EVENTS = ("start_conversation", "resume_conversation", "send_message", "set_typing", "answer_survey")
AGENT_EVENTS = ("list_cases", "accept_case", "send_message", "add_note", "transfer_case", "return_to_bot",
                "set_typing", "set_availability", "resolve_case", "resume_cases")
RESERVED = ("connect", "disconnect", "connect_error", "disconnecting", "message", "newListener", "*")
FIELDS = ("text", "token", "name", "channel", "locale", "conversation_id", "after_seq", "typing", "rating",
          "comment", "nps", "effort", "payload", "category", "queue", "to_agent", "note", "status", "identity",
          "earlier_token", "reason", "client_id", "cases")
NASTY_TEXT = ("\ud800", "\udfff", "a\ud800b", "\x00", "\u202e", "\ufeff", " ", "", "x" * 3000, "<script>",
              "/request_human", "🙂" * 10, "null", "c_0000000000000000", "\r\n", "%s%n", "../../etc/passwd")
MALFORMED = ("42/chat,[", "4", "4x", "9", "", '42/chat,1["x"', "40/chat,{bad", '42/chat,"str"', "46/chat,[]",
             '451-/chat,["send_message",{"_placeholder":true,"num":9}]', "42/chat,{}", "42/chat,[]",
             "43/chat,1[]", "44/chat,", '42/nowhere,["x"]', "41/chat,", "2probe", "6", "4" + "[" * 3000)


def _text(rng: random.Random) -> str:
    if rng.random() < 0.4:
        return rng.choice(NASTY_TEXT)
    alphabet = string.printable + "äöüßالعربية中文\u0301"
    return "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40)))


def _value(rng: random.Random, depth: int = 0) -> Any:
    kind = rng.randint(0, 9 if depth < 3 else 5)
    if kind == 0:
        return None
    if kind == 1:
        return rng.choice((True, False))
    if kind == 2:
        return rng.choice((0, -1, 1, 2**31, 2**63, -(2**70), 10**30))
    if kind == 3:
        return rng.choice((0.5, -1e308, 1e308, 4.0))
    if kind in (4, 5):
        return _text(rng)
    if kind in (6, 7):
        return [_value(rng, depth + 1) for _ in range(rng.randint(0, 4))]
    return {rng.choice(FIELDS) if rng.random() < 0.8 else _text(rng): _value(rng, depth + 1)
            for _ in range(rng.randint(0, 4))}


def _templates(ids: list[str], tokens: list[str]) -> dict[str, list[dict[str, Any]]]:
    """A valid payload of each event, with the conversations and tokens the fuzzer has seen."""
    cid = ids[-1] if ids else "c_0000000000000000"
    return {
        "start_conversation": [{"channel": "web"}, {"channel": "web", "locale": "de", "name": "Dana"},
                               {"channel": "web", "earlier_token": tokens[0] if tokens else "x"}],
        "resume_conversation": [{"token": tokens[-1] if tokens else "x", "after_seq": 0}],
        "send_message": [{"text": "I need a person"}, {"text": "how do I return a bike?"},
                         {"conversation_id": cid, "text": "Hello"}],
        "set_typing": [{"typing": True}, {"conversation_id": cid, "typing": False}],
        "answer_survey": [{"rating": 5, "comment": "fine"}],
        "list_cases": [{}],
        "accept_case": [{"conversation_id": cid}],
        "add_note": [{"conversation_id": cid, "text": "a note"}],
        "transfer_case": [{"conversation_id": cid, "note": "over to you", "queue": "general"}],
        "return_to_bot": [{"conversation_id": cid}],
        "set_availability": [{"availability": "available"}, {"availability": "away"}],
        "resolve_case": [{"conversation_id": cid, "category": "other"}],
    }


def _event(rng: random.Random, events: tuple[str, ...], ids: list[str], tokens: list[str]) -> tuple[str, Any]:
    """A known event with a valid payload, one field of it changed or added or removed, or random fields;
    a reserved or random name now and then."""
    roll = rng.random()
    name = (rng.choice(events) if roll < 0.8 else rng.choice(RESERVED) if roll < 0.9 else _text(rng) or "x")
    templates = _templates(ids, tokens).get(name)
    kind = rng.random()
    if templates and kind < 0.7:
        payload = dict(rng.choice(templates))
        change = rng.random()
        if change < 0.3:
            return name, payload
        if change < 0.8 and payload:
            payload[rng.choice(list(payload))] = _value(rng)
        elif change < 0.9 and payload:
            del payload[rng.choice(list(payload))]
        else:
            payload[rng.choice(FIELDS)] = _value(rng)
        return name, payload
    if kind < 0.9:
        return name, {rng.choice(FIELDS): _value(rng) for _ in range(rng.randint(0, 3))}
    return name, _value(rng)


def _remember(reply: Any, ids: list[str], tokens: list[str]) -> None:
    """Keep the conversations and tokens an answer names, for the next events' payloads."""
    if isinstance(reply, dict) and reply.get("ok"):
        conversation = reply.get("conversation") or reply.get("case")
        if isinstance(conversation, dict) and isinstance(conversation.get("id"), str):
            ids.append(conversation["id"])
        if isinstance(reply.get("token"), str):
            tokens.append(reply["token"])
        del ids[:-20], tokens[:-20]


def _check_ack(reply: Any, where: str, found: Findings) -> None:
    found.sent += 1
    if not isinstance(reply, dict) or not isinstance(reply.get("ok"), bool):
        found.problems.append(f"{where}: no answer in the shape: {reply!r:.300}")
        return
    if reply["ok"]:
        found.answers["ok"] += 1
        return
    error = reply.get("error")
    code = error.get("code") if isinstance(error, dict) else None
    found.answers[str(code)] += 1
    if code not in HTTP_STATUS or code == "internal":
        found.problems.append(f"{where}: {reply!r:.300}")


async def _client(url: str, namespace: str, auth: dict[str, str] | None) -> socketio.AsyncClient:
    client = socketio.AsyncClient(reconnection=False)
    await client.connect(url, namespaces=[namespace], transports=["websocket"], auth=auth, wait_timeout=10)
    return client


async def fuzz_sockets(url: str, agent_token: str, events: int, seed: int, malformed_every: int = 10) -> Findings:
    """``events`` random events (known, reserved and random names; valid payloads, changed ones, random and
    nasty ones) on ``/chat`` and ``/agent`` (signed in with ``agent_token``), and a malformed frame every
    ``malformed_every`` events; every event must be answered with ``ok`` or the error shape, never
    ``internal``."""
    rng = random.Random(seed)
    found = Findings()
    ids: list[str] = []
    tokens: list[str] = []
    sockets: dict[str, socketio.AsyncClient] = {}
    auth = {"/chat": None, "/agent": {"token": agent_token}}
    try:
        async with aiohttp.ClientSession() as http:
            for i in range(events):
                namespace = rng.choice(("/chat", "/agent"))
                client = sockets.get(namespace)
                if client is None or not client.connected:
                    client = sockets[namespace] = await _client(url, namespace, auth[namespace])
                name, payload = _event(rng, CHAT_EVENTS if namespace == "/chat" else AGENT_EVENTS, ids, tokens)
                try:
                    reply = await client.call(name, payload, namespace=namespace, timeout=30)
                except (socketio.exceptions.TimeoutError, socketio.exceptions.BadNamespaceError) as exc:
                    reply = f"no answer: {type(exc).__name__}"
                _check_ack(reply, f"{namespace} {name!r} {payload!r:.200}", found)
                _remember(reply, ids, tokens)
                if malformed_every and i % malformed_every == 0:
                    async with RawSocket(url, http) as raw:
                        await raw.join("/chat")
                        await raw.send(rng.choice(MALFORMED))
                        await raw.receive(0.01)
                    found.sent += 1
                    found.answers["malformed frame"] += 1
    finally:
        for client in sockets.values():
            if client.connected:
                await client.disconnect()
        await asyncio.sleep(0)
    return found
