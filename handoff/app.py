"""The app factory: aiohttp + python-socketio, the store, the knowledge index, the Rasa bridge."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncIterator, Awaitable, Callable

import aiohttp
import socketio
from aiohttp import web

from bot.action_endpoint import action_executor, webhook_handler
from connectors import mobile_api, telegram
from handoff.cases import masking
from handoff.cases.desk import open_desk
from handoff.cases.rasa_bridge import RasaBridge
from handoff.contacts.directory import Contacts
from handoff.editorial.live_index import LiveIndex
from handoff.editorial.publishing import Publisher, rasa_loading
from handoff.limits.limiter import Limiter
from handoff.metrics.node import NodeMetrics, NodeState
from handoff.metrics.turns import CLOCK
from handoff.privacy import erasure
from handoff.reports.figures import Reports
from handoff.settings import Settings
from handoff.staff.accounts import RECHECK_SECONDS, AgentAuth
from handoff.staff.audit import AuditLog
from handoff.staff.passwords import PasswordHasher
from handoff.staff.roster import StaffAccounts
from handoff.store.records import utcnow
from handoff.store.sql import SqlCaseStore
from handoff.web import api, headers, pages, request_ids, widget
from handoff.web.agent import AgentNamespace
from handoff.web.chat import ChatNamespace
from handoff.web.keys import (
    AGENT_SOCKETS,
    ARTICLES,
    AUDIT,
    AUTH,
    BRIDGE,
    CONTACTS,
    CONVERSATIONS,
    DESK,
    INDEX,
    LIMITER,
    METRICS,
    PUBLISHER,
    REPORTS,
    SETTINGS,
    STAFF,
)
from handoff.web.origins import socket_origins
from handoff.web.routes import audit, contacts, editor, metrics, privacy, publishing, reports, staff, surveys
from handoff.web.sockets import SocketServer, count_malformed_frames
from knowledge_index.article_files import ArticleFiles

log = logging.getLogger(__name__)


def every(seconds: float, job: Callable[[], Awaitable[object]],
          first_after: float | None = None) -> Callable[[web.Application], AsyncIterator[None]]:
    """A background task running ``job`` every ``seconds`` (the first time after ``first_after``) while the
    app runs."""
    async def context(app: web.Application) -> AsyncIterator[None]:
        async def loop() -> None:
            wait = seconds if first_after is None else first_after
            while True:
                await asyncio.sleep(wait)
                wait = seconds
                try:
                    await job()
                except Exception:
                    log.exception("background job failed")

        task = asyncio.create_task(loop())
        yield
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    return context


def create_app(settings: Settings) -> web.Application:
    live_index = LiveIndex(settings)
    app = web.Application(middlewares=[request_ids.request_ids, api.error_boundary, api.decoded_input],
                          client_max_size=256 * 1024)
    app[SETTINGS] = settings
    app.on_response_prepare.append(headers.add_security_headers)  # nosniff, referrer, CSP, HSTS
    app[INDEX] = live_index
    app[ARTICLES] = ArticleFiles(settings.articles_dir)  # what editors edit (docs/editing.md)
    # The limits of the public entries (docs/settings.md, "Limits"), counted together by the nodes of one Redis.
    limiter = app[LIMITER] = Limiter(settings.limits, settings.redis_url, settings.sign_in_delay_seconds,
                                     settings.trusted_proxies)
    # With a Redis URL, several app processes (nodes) share the socket rooms; the store is shared too.
    manager = socketio.AsyncRedisManager(settings.redis_url) if settings.redis_url else None
    # The widget's socket takes the app's own origin and the host sites of widget_origins (docs/widget.md).
    # Reserved event names refused, malformed frames counted in one log line (handoff/web/sockets.py).
    count_malformed_frames()
    sio = SocketServer(async_mode="aiohttp", client_manager=manager, logger=False, engineio_logger=False,
                       cors_allowed_origins=socket_origins(settings.widget_origins))
    sio.attach(app)
    # Editors' publishes (docs/editing.md); this node swaps to a new version at once, the others poll.
    app[PUBLISHER] = Publisher(settings, live_index.encoder, live_index.multilingual, on_published=live_index.refresh)

    async def resources(app: web.Application) -> AsyncIterator[None]:
        await asyncio.to_thread(live_index.start)
        store = await SqlCaseStore.open(settings.database_url)
        http = aiohttp.ClientSession()
        audit = app[AUDIT] = AuditLog(store)  # staff actions, recorded by the owner of each change
        auth = AgentAuth(store, settings.agent_session_hours, PasswordHasher(settings.password_hash_cost), audit)
        app[STAFF] = StaffAccounts(store, auth)  # every change to a staff account (handoff/staff/roster.py)
        bridge = RasaBridge(http, settings.rasa_url, settings.rasa_timeout_seconds,
                            loading=lambda: rasa_loading(settings.index_dir))
        desk = app[DESK] = open_desk(store, sio, bridge, settings, live_index.tags, audit=audit, limiter=limiter)
        conversations = desk.conversations
        await desk.start(alone=not settings.redis_url)
        channel = None
        if settings.telegram_bot_token:  # docs/channels.md
            api = telegram.BotApi(http, settings.telegram_api_url, settings.telegram_bot_token)
            channel = app[telegram.CHANNEL] = telegram.TelegramChannel(api, store, settings.max_message_length)
            conversations.channels.add(telegram.TELEGRAM, channel)
        app[AUTH], app[BRIDGE], app[CONVERSATIONS] = auth, bridge, conversations
        app[CONTACTS] = Contacts(conversations, desk.access, audit)
        app[REPORTS] = Reports(store, live_index.article, live_index.encoder, masking.for_reports(settings))
        chat = ChatNamespace(conversations, desk.presence, settings, limiter)
        sio.register_namespace(chat)
        agent_sockets = app[AGENT_SOCKETS] = AgentNamespace(desk, auth, settings)
        sio.register_namespace(agent_sockets)

        async def node_state() -> NodeState:  # read at each scrape of /metrics
            return NodeState(await desk.queues.loads(utcnow()), chat.connected, agent_sockets.connected, bridge)

        app[METRICS] = NodeMetrics(node_state)
        # What start-up loaded (models, index, libraries) lives as long as the app: keep it out of the
        # garbage collector's full passes, which otherwise stall the event loop for some 60 ms.
        gc.freeze()
        try:
            yield
        finally:
            await desk.stop()
            if channel is not None:
                await channel.close()
            await http.close()
            await store.close()

    app.cleanup_ctx.extend([
        resources,
        every(settings.sweep_interval_seconds, lambda: app[DESK].sweeper.sweep()),
        every(settings.index_poll_seconds, lambda: asyncio.to_thread(live_index.refresh)),
        # Agents' sockets whose sign-in expired or was ended where this node did not hear of it.
        every(RECHECK_SECONDS, lambda: app[AGENT_SOCKETS].end_lapsed()),
    ])
    if settings.retention_days:  # closed cases older than that are deleted: at start, then hourly
        app.cleanup_ctx.append(every(erasure.RETENTION_INTERVAL_SECONDS, lambda: erasure.apply_retention(
            app[CONVERSATIONS].store, settings.retention_days), first_after=0))
    app.router.add_routes(api.routes)
    app.router.add_routes(contacts.routes)
    app.router.add_routes(editor.routes)
    app.router.add_routes(publishing.routes)
    app.router.add_routes(reports.routes)
    app.router.add_routes(pages.routes)
    app.router.add_routes(surveys.routes)
    app.router.add_routes(staff.routes)  # the supervisors' staff page (docs/security.md, "Staff accounts and sessions")
    app.router.add_routes(privacy.routes)
    app.router.add_routes(audit.routes)
    app.router.add_routes(widget.routes)
    app.router.add_routes(mobile_api.routes)  # customers' apps over REST (docs/mobile.md)
    if settings.telegram_bot_token:
        app.router.add_routes(telegram.routes)
    app.router.add_post("/webhook", webhook_handler(action_executor(live_index.current), settings.action_token,
                                                      observe=CLOCK.action))  # the turns' split (handoff/metrics)
    app.router.add_routes(metrics.routes)  # this node's metrics, for metrics_token's bearer
    pages.add_static(app)
    return app
