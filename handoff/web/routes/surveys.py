"""The survey through its one-time link (handoff/surveys/links.py): the page, and the REST calls it makes.

The token is the only key: it opens the survey of the one case it names, and nothing else of it (not
the transcript, not the conversation).
"""

from __future__ import annotations

from aiohttp import web

from handoff.cases.views import iso, survey_view
from handoff.errors import ApiError
from handoff.store.records import Conversation, Status
from handoff.surveys import questions
from handoff.web import customer_requests
from handoff.web.api import json_body, reply
from handoff.web.keys import CONVERSATIONS, SETTINGS
from handoff.web.pages import WIDGET_DIR
from handoff.wire import customer

routes = web.RouteTableDef()

MAX_TOKEN = 100


@routes.get("/survey/{token}")
async def survey_page(request: web.Request) -> web.FileResponse:
    """The page; its script reads the token from the address and asks the API below. Its headers (no
    referrer, no cache: the token is in its address) are those of handoff/web/headers.py."""
    return web.FileResponse(WIDGET_DIR / "survey.html")


async def _case(request: web.Request) -> Conversation:
    """The resolved case the link's token names (401 for a bad token, 404 for no such case, 409 when it
    is not resolved)."""
    token = request.match_info["token"]
    conversations = request.app[CONVERSATIONS]
    if len(token) > MAX_TOKEN:
        raise ApiError("unauthorized", "this survey link is not valid; check that it was copied whole")
    conversation_id = await conversations.survey_links.conversation_id(token)
    conversation = await conversations.get(conversation_id)
    if conversation.status != Status.RESOLVED:
        raise ApiError("conflict", "the survey opens when the conversation is resolved")
    return conversation


@routes.get("/api/surveys/{token}")
async def survey_state(request: web.Request) -> web.Response:
    conversation = await _case(request)
    links = request.app[CONVERSATIONS].survey_links
    return reply(customer.SurveyState, {
        "case_number": conversation.number,
        "locale": await request.app[CONVERSATIONS].customer_language(conversation),  # the page's language
        "questions": questions.describe(request.app[SETTINGS].survey_questions),
        "answered": conversation.survey_answered,
        "expires_at": iso(links.expires_at(conversation)),
        "expired": links.expired(conversation),
    }, headers={"Cache-Control": "no-store"})


@routes.post("/api/surveys/{token}")
async def answer_survey(request: web.Request) -> web.Response:
    conversation = await _case(request)
    settings = request.app[SETTINGS]
    conversations = request.app[CONVERSATIONS]
    if conversation.survey_answered:
        raise ApiError("conflict", "this survey has been answered already")
    if conversations.survey_links.expired(conversation):
        expires = iso(conversations.survey_links.expires_at(conversation))
        raise ApiError("conflict", f"this survey link expired at {expires}, {settings.survey_link_days:g} days "
                                   "after the case closed")
    answers = customer_requests.survey(await json_body(request), settings)
    survey = await conversations.answer_survey(conversation.id, answers, via="link")
    return reply(customer.SurveyReply, {"survey": survey_view(survey)})
