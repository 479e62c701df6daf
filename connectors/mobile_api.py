"""The REST API for customers' apps that cannot keep a socket open (docs/mobile.md): the same
conversations as the socket.io namespace ``/chat``, through the same `Conversations` methods and the
same models (handoff/wire/customer.py, validated in handoff/web/customer_requests.py). Its OpenAPI
document is assembled from those models, route by route (`OPERATIONS`, `document`).

The customer sends the conversation token as ``Authorization: Bearer <token>``; it opens its own
conversation and no other (another conversation's id is ``forbidden``, whether it exists or not), until
it expires (`conversation_token_days` after the last message). A conversation whose contact is known
(started under a signed identity) also needs the customer's current identity token in the header
``X-Casedesk-Identity`` (`IDENTITY_HEADER`).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from handoff.cases.views import message_view, survey_view
from handoff.errors import ApiError
from handoff.settings import Settings
from handoff.store.records import Conversation
from handoff.web.api import json_body, query, reply
from handoff.web.customer_requests import check_owner, limits, message, start, survey, survey_model
from handoff.web.keys import CONVERSATIONS, LIMITER, SETTINGS
from handoff.web.limits import admit_identity, admit_message, client_address
from handoff.wire import customer, openapi, staff_openapi
from handoff.wire.customer import MAX_WAIT_SECONDS

routes = web.RouteTableDef()

RECHECK_SECONDS = 1.0  # a long-poll reads the store this often, for messages stored by other app processes
MAX_TOKEN = 200
IDENTITY_HEADER = "X-Casedesk-Identity"
MAX_IDENTITY = 4000
NO_STORE = {"Cache-Control": "no-store"}
__all__ = ["MAX_WAIT_SECONDS", "document", "routes"]


def _identity(request: web.Request) -> str | None:
    """The customer's identity token (``X-Casedesk-Identity``), if the app sent one."""
    token = request.headers.get(IDENTITY_HEADER, "").strip()
    if len(token) > MAX_IDENTITY:
        raise ApiError("invalid_payload", f"{IDENTITY_HEADER}: must be at most {MAX_IDENTITY} characters")
    return token or None


def _token(request: web.Request) -> str:
    header = request.headers.get("Authorization", "")
    token = header[7:].strip() if header.startswith("Bearer ") else ""
    if not token or len(token) > MAX_TOKEN:
        raise ApiError("unauthorized", "send the conversation's token as Authorization: Bearer <token>")
    return token


async def _own(request: web.Request) -> Conversation:
    """The conversation of the path, if the request's token is its own (401 without a valid token, or
    without the identity of a known contact's conversation; 403 for another conversation's id)."""
    conversation = await request.app[CONVERSATIONS].by_token(_token(request))
    if conversation.id != request.match_info["conversation_id"]:
        raise ApiError("forbidden", "this token is for another conversation")
    return check_owner(conversation, _identity(request), request.app[SETTINGS])


@routes.post("/api/conversations")
async def start_conversation(request: web.Request) -> web.Response:
    await request.app[LIMITER].hit("starts_per_address", client_address(request))
    asked = start(await json_body(request), request.app[SETTINGS], customer.StartConversationRest)
    await admit_identity(request.app[LIMITER], asked.identity)
    conversations = request.app[CONVERSATIONS]
    conversation, token = await conversations.start(asked.channel, asked.locale, asked.name, asked.earlier_token,
                                                    asked.identity)
    return reply(customer.Started, {"conversation": await conversations.customer_view(conversation), "token": token},
                 status=201, headers=NO_STORE)


@routes.get("/api/conversations/{conversation_id}")
async def conversation(request: web.Request) -> web.Response:
    own = await _own(request)
    return reply(customer.ConversationReply, {"conversation": await request.app[CONVERSATIONS].customer_view(own)},
                 headers=NO_STORE)


@routes.get("/api/conversations/{conversation_id}/messages")
async def messages(request: web.Request) -> web.Response:
    own = await _own(request)
    asked = query(request, customer.MessagesQuery)
    if asked.wait:  # a waiting request (long-poll) holds a place on the server: these are limited
        await request.app[LIMITER].hit("long_polls_per_conversation", own.id)
    conversations = request.app[CONVERSATIONS]
    found = await conversations.arrivals.wait(
        own.id, lambda: conversations.customer_messages(own.id, asked.after_seq), asked.wait, RECHECK_SECONDS)
    now = await conversations.customer_view(await conversations.get(own.id))
    return reply(customer.Messages, {"messages": [message_view(m) for m in found], "conversation": now},
                 headers=NO_STORE)


@routes.post("/api/conversations/{conversation_id}/messages")
async def send_message(request: web.Request) -> web.Response:
    own = await _own(request)
    sent = message(await json_body(request), request.app[SETTINGS])
    address = client_address(request)
    await admit_message(request.app[LIMITER], own.id, address)
    stored = await request.app[CONVERSATIONS].customer_message(own.id, own.customer_name, sent.text, sent.payload,
                                                               address, sent.client_id)
    return reply(customer.MessageReply, {"message": message_view(stored)}, status=201, headers=NO_STORE)


@routes.post("/api/conversations/{conversation_id}/survey")
async def answer_survey(request: web.Request) -> web.Response:
    own = await _own(request)
    answers = survey(await json_body(request), request.app[SETTINGS])
    answered = await request.app[CONVERSATIONS].answer_survey(own.id, answers, via="chat")
    return reply(customer.SurveyReply, {"survey": survey_view(answered)}, headers=NO_STORE)


TOKEN = "conversationToken"
IDENTITY = "identityToken"
UNAUTHORIZED = ("`unauthorized`: no conversation token, one that opens no conversation or has expired, or (a known "
                "contact's conversation) no valid identity token of that contact")
FORBIDDEN = "`forbidden`: the token is another conversation's"
CONFLICT = "`conflict`: the conversation is not in a state that allows this"
LIMITED = "`rate_limited`: past a limit (docs/settings.md, \"Limits\"); wait `retry_after` seconds (Retry-After)"
INVALID = "`invalid_payload` or `message_too_long`: the body or a parameter is not as described"
OWN = {401: UNAUTHORIZED, 403: FORBIDDEN}


def operations(settings: Settings) -> tuple[openapi.Operation, ...]:
    """The routes as the document describes them; the survey's body follows the settings' questions."""
    return (
        openapi.Operation("POST", "/api/conversations", "startConversation",
                          "Start a conversation (the payload and rules of start_conversation; channel mobile by "
                          "default)",
                          customer.Started, "Started; keep the token, it is the only key to the conversation",
                          status=201, body=customer.StartConversationRest,
                          errors={400: INVALID, 401: UNAUTHORIZED, 429: LIMITED}),
        openapi.Operation("GET", "/api/conversations/{conversation_id}", "getConversation",
                          "The conversation as the customer sees it", customer.ConversationReply, "The conversation",
                          errors=OWN, security=TOKEN),
        openapi.Operation("GET", "/api/conversations/{conversation_id}/messages", "listMessages",
                          "Messages after a sequence number, waiting up to `wait` seconds for one (long-polling)",
                          customer.Messages, "Every message with `seq > after_seq`, in order, except agents' private "
                          "notes (their seq numbers are skipped); with the conversation as it is now",
                          query=customer.MessagesQuery, errors={400: INVALID, **OWN, 429: LIMITED}, security=TOKEN),
        openapi.Operation("POST", "/api/conversations/{conversation_id}/messages", "sendMessage",
                          "Send a message, or press a button the bot offered in its latest message; sent again "
                          "with the same `client_id` (or the same press again), the message stored the first time",
                          customer.MessageReply, "The stored message (masked as docs/privacy.md says); the bot's "
                          "answer follows as messages", status=201, body=customer.SendMessage,
                          errors={400: INVALID, **OWN, 409: CONFLICT, 429: LIMITED}, security=TOKEN),
        openapi.Operation("POST", "/api/conversations/{conversation_id}/survey", "answerSurvey",
                          "Answer the survey once the conversation is resolved (once per case, here or through its "
                          "link)",
                          customer.SurveyReply, "The stored answer", body=survey_model(settings),
                          errors={400: INVALID, **OWN, 409: CONFLICT}, security=TOKEN),
        openapi.Operation("GET", "/api/openapi.json", "openapi", "This document",
                          {"type": "object", "required": ["openapi", "paths"]}, "The OpenAPI document"),
    )


INFO = {
    "title": "casedesk customer API",
    "version": "1",
    "summary": "The customer's side of a conversation, over REST, for apps that cannot keep a socket open.",
    "description": "The same conversations as the socket.io namespace /chat (docs/protocol.md). Start one, keep "
                   "its token, and send it as `Authorization: Bearer <token>` on every other call; a token opens "
                   "its own conversation and no other. The staff's REST calls follow (`staffToken`: the token "
                   "of `POST /api/agent/login`), so that the document describes the whole REST API.",
}


def document(settings: Settings) -> dict[str, Any]:
    """The OpenAPI 3.1 document of the routes above, from their models, with what follows this server's
    settings: the message length, the survey's questions, and ``identity`` only where the server has an
    ``identity_secret`` (without one it refuses every identity)."""
    doc = openapi.document(
        INFO, operations(settings) + staff_openapi.operations(),
        path_parameters={"conversation_id": {"type": "string", "minLength": 1, "maxLength": 100},
                         **staff_openapi.PATH_PARAMETERS},
        security_schemes={TOKEN: {"type": "http", "scheme": "bearer",
                                  "description": "The token `POST /api/conversations` gave"},
                          staff_openapi.STAFF_TOKEN: staff_openapi.SECURITY_SCHEME},
        limits=limits(settings))
    if not settings.identity_secret:
        del doc["components"]["schemas"]["StartConversationRest"]["properties"]["identity"]
        return doc
    doc["components"]["securitySchemes"][IDENTITY] = {
        "type": "apiKey", "in": "header", "name": IDENTITY_HEADER,
        "description": "The customer's current identity token (docs/contacts.md): needed, with the conversation's "
                       "token, for a conversation started under a signed identity"}
    for item in (op for path in doc["paths"].values() for op in path.values()):
        if item.get("security") == [{TOKEN: []}]:
            item["security"] = [{TOKEN: []}, {TOKEN: [], IDENTITY: []}]
    return doc


@routes.get("/api/openapi.json")
async def openapi_document(request: web.Request) -> web.Response:
    return web.json_response(document(request.app[SETTINGS]))
