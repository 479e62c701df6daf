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
from bot.rasa_fleet import RasaFleet
from bot.tracker_stores import tracker_store_for
from connectors import mobile_api, telegram
from handoff.cases import masking
from handoff.cases.bot_turns import BotTurns
from handoff.cases.desk import open_desk
from handoff.cases.rasa_bridge import RasaBridge
from handoff.cases.rasa_health import RasaHealth, any_answers, http_probe
from handoff.contacts.directory import Contacts
from handoff.editorial.live_index import LiveIndex
from handoff.editorial.publishing import Publisher, rasa_loading
from handoff.limits.limiter import Limiter
from handoff.metrics.node import NodeMetrics, NodeState
from handoff.metrics.turns import CLOCK
from handoff.privacy import erasure
from handoff.reports.figures import Reports
from handoff.settings import Settings
from handoff.staff.accounts import AgentAuth
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
    BOT_TURNS,
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
    TRACKERS,
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


def _closing_sockets(sio: socketio.AsyncServer) -> Callable[[web.Application], Awaitable[None]]:
    """On shutdown, before the server waits for open connections (up to its shutdown timeout, `handoff.cli`),
    this node drops its sockets' transports itself, as a crash would but at once: the widget and the panel
    reconnect (to this node when it is back, or to another) and resume from their last sequence number.
    Without it each open socket held the shutdown for its whole timeout, and twice that for a client that
    never answered the close."""
    async def close(app: web.Application) -> None:
        for socket in list(sio.eio.sockets.values()):
            try:
                # engine.io's own path for a lost transport: the disconnect handlers run (as the connection
                # dropped, not as the server ending it), then an empty queue entry ends the socket's writer,
                # which closes its websocket (or answers its pending long-poll).
                await socket.close(wait=False, abort=True, reason=sio.eio.reason.TRANSPORT_CLOSE)
                socket.queue.put_nowait(None)
            except Exception:
                log.exception("closing a socket on shutdown failed")

    return close


def create_app(settings: Settings, fleet: RasaFleet | None = None) -> web.Application:
    """The app; ``fleet``: the Rasa processes `casedesk run` owns (their addresses for the bridge, a
    publish's blue/green switch), else Rasa runs elsewhere (settings.rasa_servers, a publish's PUT /model)."""
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
    app.on_shutdown.append(_closing_sockets(sio))
    # Editors' publishes (docs/editing.md); this node swaps to a new version at once, the others poll.
    app[PUBLISHER] = Publisher(settings, live_index.encoder, live_index.multilingual, on_published=live_index.refresh,
                               fleet=fleet)
    # Rasa's trackers, which a contact's erasure and retention delete with the cases (bot/tracker_stores.py).
    app[TRACKERS] = fleet.trackers if fleet else tracker_store_for(settings.database_url, settings.redis_url)

    async def resources(app: web.Application) -> AsyncIterator[None]:
        await asyncio.to_thread(live_index.start)
        store = await SqlCaseStore.open(settings.database_url)
        http = aiohttp.ClientSession()
        audit = app[AUDIT] = AuditLog(store)  # staff actions, recorded by the owner of each change
        auth = AgentAuth(store, settings.agent_session_hours, PasswordHasher(settings.password_hash_cost), audit)
        app[STAFF] = StaffAccounts(store, auth)  # every change to a staff account (handoff/staff/roster.py)
        def loading() -> bool:  # Rasa loads a newly published model: it answers after (docs/editing.md)
            return rasa_loading(settings.index_dir)

        bridge = RasaBridge(http, fleet.urls if fleet else settings.rasa_servers, settings.rasa_timeout_seconds,
                            loading=loading)
        # The bot's queue and Rasa's health check (docs/operations.md, "Overload").
        health = RasaHealth(any_answers(http_probe(http), bridge.urls), " ".join(bridge.urls()),
                            settings.rasa_probe_interval_seconds, settings.rasa_probe_timeout_seconds, loading=loading)
        turns = app[BOT_TURNS] = BotTurns(bridge, health, settings.bot_turns_in_flight, settings.bot_turns_waiting)
        desk = app[DESK] = open_desk(store, sio, turns, settings, live_index.tags, audit=audit, limiter=limiter)
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
            return NodeState(await desk.queues.loads(utcnow()), chat.connected, agent_sockets.connected, turns)

        app[METRICS] = NodeMetrics(node_state)
        # What start-up loaded (models, index, libraries) lives as long as the app: keep it out of the
        # garbage collector's full passes, which otherwise stall the event loop for some 60 ms.
        gc.freeze()
        try:
            async with health.running():
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
        every(settings.session_recheck_seconds, lambda: app[AGENT_SOCKETS].end_lapsed()),
    ])
    if settings.retention_days:  # closed cases older than that are deleted: at start, then hourly
        app.cleanup_ctx.append(every(erasure.RETENTION_INTERVAL_SECONDS, lambda: erasure.apply_retention(
            app[CONVERSATIONS].store, settings.retention_days, trackers=app[TRACKERS]), first_after=0))
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
