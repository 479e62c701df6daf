"""The REST API for customers' apps that cannot keep a socket open (docs/mobile.md): the same
conversations as the socket.io namespace ``/chat``, through the same `Conversations` methods and the
same validation (handoff/web/customer_requests.py), described by connectors/openapi.yaml.

The customer sends the conversation token as ``Authorization: Bearer <token>``; it opens its own
conversation and no other (another conversation's id is ``forbidden``, whether it exists or not).
"""

from __future__ import annotations

import copy
import functools
import re
from pathlib import Path
from typing import Any

import yaml
from aiohttp import web

from handoff.cases.views import message_view, survey_view
from handoff.errors import ApiError
from handoff.settings import Settings
from handoff.store.records import Conversation
from handoff.surveys import questions
from handoff.web.api import json_body
from handoff.web.customer_requests import CLIENT_CHANNELS, message, start
from handoff.web.keys import CONVERSATIONS, SETTINGS

routes = web.RouteTableDef()

OPENAPI = Path(__file__).with_name("openapi.yaml")
MAX_WAIT_SECONDS = 30.0
RECHECK_SECONDS = 1.0  # a long-poll reads the store this often, for messages stored by other app processes
MAX_TOKEN = 200
MAX_SEQ = 2**31
DIGITS = re.compile(r"[0-9]{1,10}")
NUMBER = re.compile(r"-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?")  # JSON's number syntax
NO_STORE = {"Cache-Control": "no-store"}


def _token(request: web.Request) -> str:
    header = request.headers.get("Authorization", "")
    token = header[7:].strip() if header.startswith("Bearer ") else ""
    if not token or len(token) > MAX_TOKEN:
        raise ApiError("unauthorized", "send the conversation's token as Authorization: Bearer <token>")
    return token


async def _own(request: web.Request) -> Conversation:
    """The conversation of the path, if the request's token is its own (401 without a valid token, 403
    for another conversation's id)."""
    conversation = await request.app[CONVERSATIONS].by_token(_token(request))
    if conversation.id != request.match_info["conversation_id"]:
        raise ApiError("forbidden", "this token is for another conversation")
    return conversation


def _query(request: web.Request, allowed: set[str]) -> dict[str, str]:
    for key in request.query:
        if key not in allowed:
            raise ApiError("invalid_payload", f"{key}: unknown parameter")
        if len(request.query.getall(key)) > 1:
            raise ApiError("invalid_payload", f"{key}: given more than once")
    return dict(request.query)


def _after_seq(value: str) -> int:
    if not DIGITS.fullmatch(value) or int(value) > MAX_SEQ:
        raise ApiError("invalid_payload", f"after_seq: must be an integer between 0 and {MAX_SEQ}")
    return int(value)


def _wait(value: str) -> float:
    if not NUMBER.fullmatch(value) or not 0 <= float(value) <= MAX_WAIT_SECONDS:
        raise ApiError("invalid_payload", f"wait: must be a number of seconds between 0 and {MAX_WAIT_SECONDS:g}")
    return float(value)


@routes.post("/api/conversations")
async def start_conversation(request: web.Request) -> web.Response:
    asked = start(await json_body(request), request.app[SETTINGS], default_channel="mobile")
    conversations = request.app[CONVERSATIONS]
    conversation, token = await conversations.start(asked.channel, asked.locale, asked.name, asked.earlier_token,
                                                    asked.identity)
    return web.json_response({"conversation": await conversations.customer_view(conversation), "token": token},
                             status=201, headers=NO_STORE)


@routes.get("/api/conversations/{conversation_id}")
async def conversation(request: web.Request) -> web.Response:
    own = await _own(request)
    return web.json_response({"conversation": await request.app[CONVERSATIONS].customer_view(own)}, headers=NO_STORE)


@routes.get("/api/conversations/{conversation_id}/messages")
async def messages(request: web.Request) -> web.Response:
    own = await _own(request)
    query = _query(request, {"after_seq", "wait"})
    after_seq = _after_seq(query.get("after_seq", "0"))
    wait = _wait(query.get("wait", "0"))
    conversations = request.app[CONVERSATIONS]
    found = await conversations.arrivals.wait(
        own.id, lambda: conversations.customer_messages(own.id, after_seq), wait, RECHECK_SECONDS)
    now = await conversations.customer_view(await conversations.get(own.id))
    return web.json_response({"messages": [message_view(m) for m in found], "conversation": now}, headers=NO_STORE)


@routes.post("/api/conversations/{conversation_id}/messages")
async def send_message(request: web.Request) -> web.Response:
    own = await _own(request)
    text, button = message(await json_body(request), request.app[SETTINGS])
    stored = await request.app[CONVERSATIONS].customer_message(own.id, own.customer_name, text, button)
    return web.json_response({"message": message_view(stored)}, status=201, headers=NO_STORE)


@routes.post("/api/conversations/{conversation_id}/survey")
async def answer_survey(request: web.Request) -> web.Response:
    own = await _own(request)
    settings = request.app[SETTINGS]
    answers = questions.answers(await json_body(request), settings.survey_questions,
                                       settings.max_message_length)
    survey = await request.app[CONVERSATIONS].answer_survey(own.id, answers, via="chat")
    return web.json_response({"survey": survey_view(survey)}, headers=NO_STORE)


@functools.cache
def _written() -> dict[str, Any]:
    return yaml.safe_load(OPENAPI.read_text())  # type: ignore[no-any-return]


def document(settings: Settings) -> dict[str, Any]:
    """connectors/openapi.yaml with what follows the settings and the code: the message length, the survey's
    questions, whether identities are accepted, the channels a client may name."""
    doc = copy.deepcopy(_written())
    schemas = doc["components"]["schemas"]
    schemas["MessageRequest"]["properties"]["text"]["maxLength"] = settings.max_message_length
    schemas["StartRequest"]["properties"]["channel"]["enum"] = list(CLIENT_CHANNELS)
    if not settings.identity_secret:  # then the server refuses every identity
        del schemas["StartRequest"]["properties"]["identity"]
    answer: dict[str, Any] = {}
    for question in (questions.QUESTIONS[q] for q in settings.survey_questions):
        if question.scale is None:
            text = {**schemas["Text80"], "maxLength": settings.max_message_length}
            answer[question.field] = {"anyOf": [{"type": "null"}, {"const": ""}, text]}
        else:
            low, high = question.scale
            kind = "integer" if question.field == "rating" else ["integer", "null"]
            answer[question.field] = {"type": kind, "minimum": low, "maximum": high}
    schemas["SurveyAnswer"]["properties"] = answer
    return doc


@routes.get("/api/openapi.json")
async def openapi(request: web.Request) -> web.Response:
    return web.json_response(document(request.app[SETTINGS]))
