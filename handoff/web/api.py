"""REST endpoints (docs/protocol.md) and the error boundary that gives them one error shape."""

from __future__ import annotations

import asyncio
import logging
from typing import Any, TypeVar

from aiohttp import web
from pydantic import BaseModel, ValidationError

from handoff.cases.views import article_view, case_survey_view, event_view, message_view
from handoff.errors import ApiError
from handoff.staff.accounts import AGENT, SUPERVISOR, agent_view
from handoff.store.records import Agent
from handoff.web.keys import AUTH, BRIDGE, CONVERSATIONS, DESK, INDEX, LIMITER
from handoff.web.limits import client_address
from handoff.wire import api_error, shape, staff
from handoff.wire.decoding import check_decodable
from knowledge_index.entries import plain_text

log = logging.getLogger(__name__)
routes = web.RouteTableDef()


@web.middleware
async def error_boundary(request: web.Request, handler: Any) -> web.StreamResponse:
    try:
        return await handler(request)
    except ApiError as exc:
        return web.json_response(exc.body(), status=exc.status, headers=exc.headers())
    except ValidationError as exc:  # a body or query that its wire model refuses
        error = api_error(exc)
        return web.json_response(error.body(), status=error.status)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        if exc.status in (404, 405):
            error = ApiError("not_found", f"no such route: {request.method} {request.path}")
        else:
            error = ApiError({401: "unauthorized", 403: "forbidden"}.get(exc.status, "invalid_payload"), exc.reason)
        return web.json_response(error.body(), status=error.status)
    except Exception:
        log.exception("%s %s failed", request.method, request.path)
        return web.json_response(ApiError("internal", "the server failed").body(), status=500)


@web.middleware
async def decoded_input(request: web.Request, handler: Any) -> web.StreamResponse:
    """Refuse a request whose path, query or headers hold text that is not valid Unicode (bytes that are
    not UTF-8 arrive as surrogates), before any handler uses it (handoff/wire/decoding.py)."""
    check_decodable(dict(request.match_info), "path")
    for parameters, where in ((request.query, "query"), (request.headers, "header")):
        for key, value in parameters.items():
            check_decodable({key: value}, where)
    return await handler(request)


async def json_body(request: web.Request) -> Any:
    try:
        body = await request.json()
    except ValueError:  # not JSON, or not UTF-8
        raise ApiError("invalid_payload", "body: must be JSON") from None
    check_decodable(body, "body")
    return body


M = TypeVar("M", bound=BaseModel)


def query(request: web.Request, model: type[M], context: dict[str, Any] | None = None) -> M:
    """The query parameters, validated by ``model`` (a parameter given more than once is refused)."""
    for key in request.query:
        if len(request.query.getall(key)) > 1:
            raise ApiError("invalid_payload", f"{key}: given more than once")
    return model.model_validate(dict(request.query), context=context)


def reply(model: type[BaseModel], data: Any, *, status: int = 200, headers: dict[str, str] | None = None
          ) -> web.Response:
    """``data`` as JSON, as its wire model says (`handoff.wire.shape`; a reply that is not its model's is a 500)."""
    return web.json_response(shape(model, data), status=status, headers=headers)


def _bearer(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    return header[7:] if header.startswith("Bearer ") else None


async def signed_in(request: web.Request, role: str = AGENT, *others: str) -> Agent:
    """The account that sent the request, if it has ``role`` or one of the ``others`` (401 without a
    valid token, else 403)."""
    return await request.app[AUTH].authenticate(_bearer(request), role, *others)


@routes.post("/api/agent/login")
async def login(request: web.Request) -> web.Response:
    asked = staff.Login.model_validate(await json_body(request))
    # Limits (docs/settings.md, "Limits"): per address; each wrong password delays the next try of that
    # username longer, until it is locked for a while; other usernames still sign in.
    limiter, username = request.app[LIMITER], asked.username.casefold()
    await limiter.sign_in(client_address(request), username)
    try:
        token, agent = await request.app[AUTH].login(asked.username, asked.password)
    except ApiError as exc:
        if exc.code == "unauthorized":
            await limiter.signed_in(username, ok=False)
        raise
    await limiter.signed_in(username, ok=True)
    return reply(staff.Signed, {"token": token, "agent": agent_view(agent)})


@routes.post("/api/agent/logout")
async def logout(request: web.Request) -> web.Response:
    """Every role signs out; the session's sockets end on every node."""
    await request.app[AUTH].logout(_bearer(request) or "")
    return reply(staff.Done, {"ok": True})


@routes.get("/api/cases/{conversation_id}")
async def case_detail(request: web.Request) -> web.Response:
    """The case with its transcript, notes, survey and timeline, for the staff who may read it
    (handoff/cases/access.py); its contact's earlier cases, those of them they may read."""
    by = await signed_in(request, AGENT, SUPERVISOR)
    conversations = request.app[CONVERSATIONS]
    access = request.app[DESK].access
    conversation = await access.check(by, await conversations.get(request.match_info["conversation_id"]))
    store = conversations.store
    survey = await store.survey(conversation.id)
    articles = await store.case_articles(conversation.id)
    case = {
        **await conversations.summary(conversation),
        "events": [event_view(e) for e in await store.events(conversation.id)],
        "survey": case_survey_view(survey, articles) if survey else None,
        "articles": [article_view(a) for a in articles],
    }
    earlier = await access.readable(by, await conversations.earlier_cases(conversation))
    case["earlier_cases"] = [await conversations.summary(c) for c in earlier]
    messages = [message_view(m) for m in await store.messages_after(conversation.id)]
    return reply(staff.CaseDetail, {"case": case, "messages": messages})


@routes.post("/api/cases/{conversation_id}/cancel")
async def cancel_case(request: web.Request) -> web.Response:
    supervisor = await signed_in(request, SUPERVISOR)
    reason = staff.CancelCase.model_validate(await json_body(request)).reason
    conversations = request.app[CONVERSATIONS]
    cancelled = await conversations.cancel(supervisor, request.match_info["conversation_id"], reason.value)
    return reply(staff.CaseReply, {"case": await conversations.summary(cancelled)})


@routes.get("/api/kb/search")
async def kb_search(request: web.Request) -> web.Response:
    await signed_in(request)
    asked = staff.KbSearchQuery.model_validate(dict(request.query))
    index = request.app[INDEX].current()
    hits = await asyncio.to_thread(index.search, asked.q, asked.k)
    return reply(staff.Hits, {"hits": [
        {"article_id": h.article_id, "title": h.title, "url": h.url, "score": h.score, "matched": h.matched,
         "answer": plain_text(record.body) if (record := index.article(h.article_id)) else ""}
        for h in hits
    ]})


@routes.get("/healthz")
async def health(request: web.Request) -> web.Response:
    index = request.app[INDEX].current()
    rasa_up = await request.app[BRIDGE].is_up()
    return reply(staff.Health, {
        "status": "ok",
        "rasa": "up" if rasa_up else "down",
        "index": {"articles": len(index.articles), "model": index.manifest.model,
                  "multilingual_model": index.manifest.multilingual.get("model"), "version": index.version},
    })
