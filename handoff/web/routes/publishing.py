"""REST endpoints to publish the knowledge base, follow a publish, see the history and roll back
(docs/editing.md). Editors only. Each publish (when it ends, with its outcome) and each rollback goes to
the audit log."""

from __future__ import annotations

import asyncio

from aiohttp import web

from handoff.editorial.publishing import Busy, Job, NothingToRollBack
from handoff.errors import ApiError
from handoff.staff.accounts import EDITOR
from handoff.store.records import Agent
from handoff.web.api import json_body, reply, signed_in
from handoff.web.keys import AUDIT, PUBLISHER
from handoff.wire import editorial, staff
from knowledge_index.articles import ArticleError

routes = web.RouteTableDef()
RUNNING = web.AppKey("publish_tasks", set)  # the running publishes' tasks, kept until they end


@routes.post("/api/kb/publish")
async def publish(request: web.Request) -> web.Response:
    """Start a publish; 202 with the job, which `GET /api/kb/publish` follows to its end."""
    editor = await signed_in(request, EDITOR)
    await _no_fields(request)
    publisher = request.app[PUBLISHER]
    try:
        job = publisher.new_job(editor.username)
    except Busy as exc:
        raise ApiError("conflict", str(exc)) from None
    tasks = request.app.setdefault(RUNNING, set())
    task = asyncio.create_task(_run(request.app, job, editor))
    tasks.add(task)
    task.add_done_callback(tasks.discard)
    return reply(editorial.PublishReply, {"job": job.to_json()}, status=202)


@routes.get("/api/kb/publish")
async def last_publish(request: web.Request) -> web.Response:
    """The running publish, or the last one this app process ran (null when there was none)."""
    await signed_in(request, EDITOR)
    job = request.app[PUBLISHER].last
    return reply(editorial.LastPublish, {"job": job.to_json() if job else None})


@routes.get("/api/kb/publishes")
async def history(request: web.Request) -> web.Response:
    await signed_in(request, EDITOR)
    return reply(editorial.Publishes, {"publishes": await asyncio.to_thread(request.app[PUBLISHER].history)})


@routes.post("/api/kb/rollback")
async def rollback(request: web.Request) -> web.Response:
    """Make the previous publish live again (409 while a publish runs, or when there is none)."""
    editor = await signed_in(request, EDITOR)
    await _no_fields(request)
    try:
        entry = await asyncio.to_thread(request.app[PUBLISHER].rollback, editor.username)
    except (Busy, NothingToRollBack, ArticleError) as exc:  # ArticleError: the files could not be put back
        raise ApiError("conflict", str(exc)) from None
    await request.app[AUDIT].record(editor, "kb.rollback", f"kb:{entry.get('version', '')}",
                                    from_version=entry.get("from_version"))
    return reply(editorial.RolledBack, {"rollback": entry})


async def _run(app: web.Application, job: Job, editor: Agent) -> None:
    """Run the publish off the loop, then record it (and its outcome) in the audit log."""
    await asyncio.to_thread(app[PUBLISHER].run, job)
    await app[AUDIT].record(editor, "kb.publish", f"kb:{job.version or job.id}", job=job.id, state=job.state)


async def _no_fields(request: web.Request) -> None:
    """These calls take no fields; a body, when sent, must be an empty JSON object."""
    if request.can_read_body:
        staff.NoFields.model_validate(await json_body(request))
