"""Rasa's action server protocol (POST /webhook), served by the app so actions share its index."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web
from rasa_sdk.executor import ActionExecutor
from rasa_sdk.interfaces import ActionExecutionRejection, ActionNotFoundException

from bot.actions.knowledge import IndexSource, actions

LOOPBACK = {"127.0.0.1", "::1"}


def action_executor(index: IndexSource) -> ActionExecutor:
    """Rasa's action server with the bot's actions, searching the index ``index`` gives."""
    executor = ActionExecutor()
    for action in actions(index):
        executor.register_action(action)
    return executor


def webhook_handler(executor: ActionExecutor) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def webhook(request: web.Request) -> web.Response:
        # Rasa runs beside the app; nobody else may run actions.
        if request.remote not in LOOPBACK:
            return web.json_response({"error": "actions are served to Rasa on loopback only"}, status=403)
        try:
            action_call = await request.json()
        except ValueError:
            return web.json_response({"error": "the body must be JSON"}, status=400)
        if not isinstance(action_call, dict):
            return web.json_response({"error": "the body must be a JSON object"}, status=400)
        try:
            result = await executor.run(action_call)
        except ActionExecutionRejection as exc:
            return web.json_response({"error": exc.message, "action_name": exc.action_name}, status=400)
        except ActionNotFoundException as exc:
            return web.json_response({"error": exc.message, "action_name": exc.action_name}, status=404)
        if result is None:
            return web.json_response({"error": "next_action is missing"}, status=400)
        return web.json_response(result.model_dump())

    return webhook
