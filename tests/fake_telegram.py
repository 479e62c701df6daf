"""A fake of Telegram's Bot API on loopback, for the Telegram channel's tests (connectors/telegram.py).

It runs in a thread of its own with its own event loop, as the real service runs beside the app: it
answers the bot's calls (``/bot{token}/{method}``) as Telegram does, records each one, can fail the next
calls of a method (to see the app try again), and posts updates to the app's webhook as Telegram would.
Only the third party is faked; the app, Rasa and the agent's socket are the real ones.
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import threading
import time
from collections.abc import Callable
from typing import Any

import aiohttp
from aiohttp import web

from harness.clients import TIMEOUT

TOKEN = "123456:TEST-token_of-the-fake-bot"
SECRET = "webhook-secret-of-the-tests_0123456789"
METHODS = ("sendMessage", "sendChatAction", "answerCallbackQuery")


@dataclasses.dataclass(frozen=True)
class Call:
    method: str
    params: dict[str, Any]
    answered: int  # the HTTP status the fake answered with


class FakeTelegram:
    def __init__(self, token: str = TOKEN) -> None:
        self.token = token
        self.url = ""
        self.calls: list[Call] = []
        self._failures: dict[tuple[str, str], int] = {}  # (method, chat id) -> calls still to fail
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._updates = itertools.count(1)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._runner: web.AppRunner | None = None

    # -- the server ----------------------------------------------------------------------------------

    def start(self) -> FakeTelegram:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._serve(), self._loop).result(timeout=10)
        return self

    def stop(self) -> None:
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()

    async def _serve(self) -> None:
        app = web.Application()
        app.router.add_post("/bot{token}/{method}", self._answer)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}"

    async def _answer(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        if request.match_info["token"] != self.token:
            return web.json_response({"ok": False, "error_code": 401, "description": "Unauthorized"}, status=401)
        params = await request.json()
        key = (method, str(params.get("chat_id")))
        with self._lock:
            failing = self._failures.get(key, 0)
            if failing:
                self._failures[key] = failing - 1
            status = 502 if failing else 200
            if method not in METHODS:
                status = 404
            self.calls.append(Call(method, params, status))
        if status == 502:
            return web.Response(status=502, text="Bad Gateway")
        if status == 404:
            return web.json_response({"ok": False, "error_code": 404, "description": "Not Found"}, status=404)
        if method == "sendMessage":
            chat = {"id": params["chat_id"], "type": "private"}
            result: Any = {"message_id": next(self._ids), "date": int(time.time()), "chat": chat,
                           "text": params["text"]}
        else:
            result = True
        return web.json_response({"ok": True, "result": result})

    # -- what the tests use ----------------------------------------------------------------------------

    def fail_next(self, method: str, chat_id: int, times: int) -> None:
        """The next ``times`` calls of ``method`` for the chat get 502 Bad Gateway (the API is down)."""
        with self._lock:
            self._failures[method, str(chat_id)] = times

    def done(self, method: str, chat_id: int | None = None) -> list[dict[str, Any]]:
        """The parameters of the calls of ``method`` that succeeded (to ``chat_id``), in order."""
        with self._lock:
            return [c.params for c in self.calls if c.method == method and c.answered == 200
                    and (chat_id is None or str(c.params.get("chat_id")) == str(chat_id))]

    async def wait_for(self, method: str, predicate: Callable[[dict[str, Any]], bool] = lambda _: True,
                       chat_id: int | None = None, after: int = 0) -> dict[str, Any]:
        """The first successful call of ``method`` (after the first ``after`` of them) that matches."""
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            for params in self.done(method, chat_id)[after:]:
                if predicate(params):
                    return params
            await asyncio.sleep(0.05)
        raise AssertionError(f"no {method} call matched; calls: {self.calls!r}")

    def update(self, kind: str, body: dict[str, Any]) -> dict[str, Any]:
        return {"update_id": next(self._updates), kind: body}

    def message(self, chat_id: int, text: str, user: dict[str, Any]) -> dict[str, Any]:
        """An Update with a user's text message in a private chat."""
        return self.update("message", {
            "message_id": next(self._ids), "date": int(time.time()), "from": user, "text": text,
            "chat": {"id": chat_id, "type": "private", "first_name": user.get("first_name", "")},
        })

    def press(self, chat_id: int, data: str, user: dict[str, Any]) -> dict[str, Any]:
        """An Update with a press of an inline keyboard button."""
        return self.update("callback_query", {
            "id": f"q{next(self._ids)}", "from": user, "chat_instance": "1", "data": data,
            "message": {"message_id": next(self._ids), "date": int(time.time()),
                        "chat": {"id": chat_id, "type": "private"}},
        })

    async def post(self, webhook_url: str, update: dict[str, Any], secret: str | None = SECRET) -> tuple[int, Any]:
        """Send the update to the app's webhook, as Telegram does (with the secret token of setWebhook)."""
        headers = {"X-Telegram-Bot-Api-Secret-Token": secret} if secret is not None else {}
        async with aiohttp.ClientSession() as http, http.post(
                webhook_url, json=update, headers=headers, timeout=aiohttp.ClientTimeout(total=TIMEOUT)) as response:
            return response.status, await response.json(content_type=None)
