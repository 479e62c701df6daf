"""REST endpoints for content editors (docs/editing.md): the article files, and trying a question.

Every endpoint needs the editor role. The files under ``articles_dir`` stay the source of truth:
these calls read and write them through `knowledge_index.article_files`, which validates with the
knowledge base's own parser; trying a question uses the index the bot answers from, and the bot's
own decision (`bot.actions.knowledge.consider`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, TypeVar

from aiohttp import web

from bot.actions.knowledge import Consideration, consider
from handoff.cases import masking
from handoff.editorial import drafts
from handoff.errors import ApiError
from handoff.staff.accounts import EDITOR
from handoff.web.api import json_body, reply, signed_in
from handoff.web.api import query as api_query
from handoff.web.keys import ARTICLES, CONVERSATIONS, INDEX, SETTINGS
from handoff.wire import editorial
from knowledge_index.article_files import ArticleFile, ArticleNotFound, EditRefused, VersionConflict
from knowledge_index.articles import ArticleError
from knowledge_index.decision import Decision
from knowledge_index.index import Hit

routes = web.RouteTableDef()
T = TypeVar("T")


async def _files(call: Callable[[], T]) -> T:
    """Run a blocking `ArticleFiles` call off the event loop, its refusals as the API's errors."""
    try:
        return await asyncio.to_thread(call)
    except ArticleError as exc:
        raise ApiError("invalid_payload", str(exc)) from None
    except EditRefused as exc:
        raise ApiError("invalid_payload", str(exc)) from None
    except VersionConflict as exc:
        raise ApiError("conflict", str(exc)) from None
    except ArticleNotFound as exc:
        raise ApiError("not_found", f"no article has the id {exc.args[0]!r}") from None


def summary_view(item: ArticleFile) -> dict[str, Any]:
    a = item.article
    return {"id": a.id, "title": a.title, "locale": a.locale, "tags": list(a.tags),
            "translation_of": a.translation_of, "questions": len(a.questions), "draft": a.draft, "path": item.path}


def detail_view(item: ArticleFile) -> dict[str, Any]:
    a = item.article
    return {"id": a.id, "title": a.title, "locale": a.locale, "tags": list(a.tags), "url": a.url,
            "translation_of": a.translation_of, "questions": list(a.questions), "body": a.body, "draft": a.draft,
            "path": item.path, "version": item.version, "text": item.text}


async def _editor(request: web.Request) -> None:
    await signed_in(request, EDITOR)


@routes.get("/api/articles")
async def list_articles(request: web.Request) -> web.Response:
    await _editor(request)
    query = api_query(request, editorial.ArticlesQuery).q
    found = await _files(lambda: request.app[ARTICLES].search(query))
    return reply(editorial.Articles, {"articles": [summary_view(item) for item in found]})


@routes.get("/api/articles/{article_id}")
async def article_detail(request: web.Request) -> web.Response:
    await _editor(request)
    article_id = request.match_info["article_id"]
    found = await _files(lambda: request.app[ARTICLES].get(article_id))
    return reply(editorial.ArticleReply, {"article": detail_view(found)})


@routes.post("/api/articles")
async def create_article(request: web.Request) -> web.Response:
    await _editor(request)
    asked = editorial.CreateArticle.model_validate(await json_body(request))
    created = await _files(lambda: request.app[ARTICLES].create(asked.path, asked.text))
    return reply(editorial.ArticleReply, {"article": detail_view(created)}, status=201)


@routes.post("/api/articles/drafts")
async def create_draft(request: web.Request) -> web.Response:
    """A draft article from a case an agent resolved: its unanswered questions and the agent's reply."""
    await _editor(request)
    case_id = editorial.CreateDraft.model_validate(await json_body(request)).case_id
    settings = request.app[SETTINGS]
    mask = masking.Masker(masking.KINDS, settings.phone_region)  # everything, bound for a public article
    found = await drafts.source(request.app[CONVERSATIONS].store, case_id, mask)
    created = await _files(lambda: request.app[ARTICLES].create_draft(found.base_id, found.text))
    return reply(editorial.DraftReply, {"article": detail_view(created), "case_id": case_id}, status=201)


@routes.put("/api/articles/{article_id}")
async def update_article(request: web.Request) -> web.Response:
    await _editor(request)
    asked = editorial.UpdateArticle.model_validate(await json_body(request))
    article_id = request.match_info["article_id"]
    updated = await _files(lambda: request.app[ARTICLES].update(article_id, asked.text, asked.version))
    return reply(editorial.ArticleReply, {"article": detail_view(updated)})


@routes.post("/api/articles/{article_id}/questions")
async def add_question(request: web.Request) -> web.Response:
    await _editor(request)
    asked = editorial.AddQuestion.model_validate(await json_body(request))
    article_id = request.match_info["article_id"]
    updated = await _files(lambda: request.app[ARTICLES].add_question(article_id, asked.question, asked.version))
    return reply(editorial.ArticleReply, {"article": detail_view(updated)}, status=201)


@routes.post("/api/kb/try")
async def try_question(request: web.Request) -> web.Response:
    await _editor(request)
    question = editorial.TryQuestion.model_validate(await json_body(request)).question
    index = request.app[INDEX].current()
    considered = await consider(index, question)
    return reply(editorial.Tried, {"index_version": index.version, **consideration_view(considered)})


def consideration_view(considered: Consideration) -> dict[str, Any]:
    decision = considered.decision
    return {
        "language": considered.route.language,
        "model": considered.route.model,
        "hits": [hit_view(h) for h in considered.hits],
        "decision": decision_view(decision),
    }


def hit_view(hit: Hit) -> dict[str, Any]:
    return {"article_id": hit.article_id, "title": hit.title, "url": hit.url, "score": hit.score,
            "similarity": hit.similarity, "matched": hit.matched}


def decision_view(decision: Decision) -> dict[str, Any]:
    return {"kind": decision.kind, "article_ids": list(decision.article_ids), "confidence": decision.confidence,
            "reason": decision.reason}
