"""The app factory: aiohttp + python-socketio, the store, the knowledge index, the Rasa bridge."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import socketio
from aiohttp import web

from bot.action_endpoint import action_executor, webhook_handler
from bot.actions import context as action_context
from handoff import api, pages
from handoff.agent_namespace import AgentNamespace
from handoff.agents import AgentAuth
from handoff.chat_namespace import ChatNamespace
from handoff.conversations import Conversations
from handoff.keys import AUTH, BRIDGE, CONVERSATIONS, SETTINGS, STORE
from handoff.rasa_bridge import RasaBridge
from handoff.settings import Settings
from handoff.store import SqlCaseStore
from knowledge_index.decision import load_thresholds
from knowledge_index.embedder import MiniLMEmbedder
from knowledge_index.index import ensure_index

log = logging.getLogger(__name__)


def load_index(settings: Settings) -> None:
    """Load (building when the articles changed) the index, and hand it to the actions."""
    index, rebuilt = ensure_index(Path(settings.articles_dir), Path(settings.index_dir), MiniLMEmbedder())
    log.info("knowledge index %s: %d articles", "rebuilt" if rebuilt else "loaded", len(index.articles))
    thresholds = load_thresholds(settings.thresholds_file) if settings.thresholds_file else load_thresholds()
    action_context.configure(action_context.ActionContext(index, thresholds))


def create_app(settings: Settings) -> web.Application:
    app = web.Application(middlewares=[api.error_boundary], client_max_size=256 * 1024)
    app[SETTINGS] = settings
    sio = socketio.AsyncServer(async_mode="aiohttp", logger=False, engineio_logger=False)
    sio.attach(app)

    async def resources(app: web.Application) -> AsyncIterator[None]:
        await asyncio.to_thread(load_index, settings)
        store = await SqlCaseStore.open(settings.database_url)
        http = aiohttp.ClientSession()
        auth = AgentAuth(store, settings.agent_session_hours)
        bridge = RasaBridge(http, settings.rasa_url, settings.rasa_timeout_seconds)
        conversations = Conversations(store, sio, bridge, settings)
        app[STORE], app[AUTH], app[BRIDGE], app[CONVERSATIONS] = store, auth, bridge, conversations
        sio.register_namespace(ChatNamespace(conversations, settings))
        sio.register_namespace(AgentNamespace(conversations, auth, settings))
        try:
            yield
        finally:
            await http.close()
            await store.close()

    async def sweeper(app: web.Application) -> AsyncIterator[None]:
        async def loop() -> None:
            while True:
                await asyncio.sleep(settings.sweep_interval_seconds)
                try:
                    await app[CONVERSATIONS].sweep()
                except Exception:
                    log.exception("sweep failed")

        task = asyncio.create_task(loop())
        yield
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    app.cleanup_ctx.extend([resources, sweeper])
    app.router.add_routes(api.routes)
    app.router.add_routes(pages.routes)
    app.router.add_post("/webhook", webhook_handler(action_executor()))
    pages.add_static(app)
    return app
