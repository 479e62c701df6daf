"""Rasa's action server protocol (POST /webhook), served by the app so actions share its index.

Only Rasa may run actions: a call must come from loopback and carry the app's ``action_token`` as the
query parameter ``token`` (Rasa's ``action_endpoint`` sends it so, bot/endpoints.yml). Behind a reverse
proxy on the same host every caller is on loopback, so the token is what keeps others out. A refused call
gets 403, which the app's error boundary (handoff/web/api.py) answers in the one error shape.
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Awaitable, Callable

from aiohttp import web
from rasa_sdk.executor import ActionExecutor
from rasa_sdk.interfaces import ActionExecutionRejection, ActionNotFoundException

from bot.actions.knowledge import IndexSource, actions

LOOPBACK = {"127.0.0.1", "::1"}
# Rasa posts a conversation's whole dialogue with each action call: some 2.5 KB a turn, past the app's
# 256 KB request limit after about 100 turns. An authenticated call from Rasa may be this large.
MAX_ACTION_CALL_BYTES = 32 * 1024 * 1024
TOKEN_PARAMETER = "token"  # Rasa's EndpointConfig.token_name


def _refusal(message: str) -> web.HTTPForbidden:
    """A 403, which the app's error boundary answers in the one error shape (code ``forbidden``)."""
    return web.HTTPForbidden(reason=message)


def token_matches(given: str | None, expected: str) -> bool:
    """``given`` is ``expected``, compared in constant time; nothing matches an unset token."""
    if not expected or given is None:
        return False
    return hmac.compare_digest(given.encode("utf-8", "surrogatepass"), expected.encode("utf-8", "surrogatepass"))


def action_executor(index: IndexSource) -> ActionExecutor:
    """Rasa's action server with the bot's actions, searching the index ``index`` gives."""
    executor = ActionExecutor()
    for action in actions(index):
        executor.register_action(action)
    return executor


# Told of each action run: the conversation (Rasa's sender id), the action and the seconds it took.
ActionObserver = Callable[[str, str, float], None]


def webhook_handler(executor: ActionExecutor, token: str,
                    observe: ActionObserver | None = None) -> Callable[[web.Request], Awaitable[web.Response]]:
    """The handler of Rasa's calls, which must carry ``token`` (the setting ``action_token``); ``observe``
    is told of each action run (the app's metrics)."""
    async def webhook(request: web.Request) -> web.Response:
        # Rasa runs beside the app; nobody else may run actions.
        if request.remote not in LOOPBACK:
            raise _refusal("actions are served to Rasa on loopback only")
        if not token_matches(request.query.get(TOKEN_PARAMETER), token):
            raise _refusal("actions are served to Rasa only: the action token is missing or wrong"
                            if token else "actions are refused: the app has no action_token")
        try:
            action_call = await request.clone(client_max_size=MAX_ACTION_CALL_BYTES).json()
        except ValueError:
            return web.json_response({"error": "the body must be JSON"}, status=400)
        if not isinstance(action_call, dict):
            return web.json_response({"error": "the body must be a JSON object"}, status=400)
        started = time.perf_counter()
        try:
            result = await executor.run(action_call)
        except ActionExecutionRejection as exc:
            return web.json_response({"error": exc.message, "action_name": exc.action_name}, status=400)
        except ActionNotFoundException as exc:
            return web.json_response({"error": exc.message, "action_name": exc.action_name}, status=404)
        if result is None:
            return web.json_response({"error": "next_action is missing"}, status=400)
        if observe is not None:
            observe(str(action_call.get("sender_id")), str(action_call.get("next_action")),
                    time.perf_counter() - started)
        return web.json_response(result.model_dump())

    return webhook
