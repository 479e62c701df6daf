"""The bridge to Rasa's REST channel: send a customer's text, get the bot's replies back.

Our custom actions (bot/actions) put structured replies into Rasa's ``custom`` payload:
``{"text": str, "data": {...}, "handoff": reason?, "resolve": reason?}``. Plain responses from the
domain arrive as ``text`` (and ``buttons``). Both become :class:`BotReply`.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable
from typing import Any

import aiohttp

from handoff.metrics import series
from handoff.metrics.turns import CLOCK
from handoff.store.records import HANDOFF_REASONS, RESOLVE_REASONS, Reason


class BotUnavailable(Exception):
    """Rasa did not answer in time, or answered with an error."""


@dataclasses.dataclass(frozen=True)
class BotReply:
    text: str
    data: dict[str, Any]
    handoff_reason: Reason | None = None
    resolve_reason: Reason | None = None


def _reason(value: Any, allowed: frozenset[Reason]) -> Reason | None:
    """A hand-over's or a resolution's reason from the bot's reply (None: neither)."""
    if value is None:
        return None
    if value not in allowed:
        raise BotUnavailable(f"the bot gave an unknown reason {value!r:.50}")
    return Reason(value)


def parse_replies(entries: Any) -> list[BotReply]:
    if not isinstance(entries, list):
        raise BotUnavailable(f"unexpected reply from Rasa: {entries!r:.200}")
    replies = []
    for entry in entries:
        if not isinstance(entry, dict):
            continue
        custom = entry.get("custom")
        if isinstance(custom, dict):
            replies.append(BotReply(
                text=str(custom.get("text") or ""),
                data=dict(custom.get("data") or {}),
                handoff_reason=_reason(custom.get("handoff"), HANDOFF_REASONS),
                resolve_reason=_reason(custom.get("resolve"), RESOLVE_REASONS),
            ))
        elif entry.get("text"):
            data: dict[str, Any] = {}
            if entry.get("buttons"):
                data["buttons"] = [
                    {"title": str(b.get("title", "")), "payload": str(b.get("payload", ""))}
                    for b in entry["buttons"] if isinstance(b, dict)
                ]
            replies.append(BotReply(text=str(entry["text"]), data=data))
    return replies


class RasaBridge:
    """``timeout``: how long a message waits for Rasa before the customer is handed over; longer while
    ``loading()`` says Rasa is loading a new model (a publish), which it answers after.

    Each turn is measured (handoff/metrics: its outcome, its time split between Rasa and the actions, the
    kinds of the bot's replies). As the metrics' `BotLoad`: no turn waits for another here (``depth``
    and ``busy_refusals`` are 0), ``in_flight`` are waiting for Rasa."""

    depth = 0
    busy_refusals = 0

    def __init__(self, session: aiohttp.ClientSession, url: str, timeout: float,
                 loading: Callable[[], bool] = lambda: False) -> None:
        self._session = session
        self._url = url.rstrip("/")
        self._timeout = timeout
        self._loading = loading

    @property
    def in_flight(self) -> int:
        return CLOCK.in_flight

    async def send(self, sender_id: str, text: str, metadata: dict[str, Any]) -> list[BotReply]:
        with CLOCK.turn(sender_id) as outcome:
            replies = await self._send(sender_id, text, metadata)
            outcome.replied = bool(replies)  # silence means an action failed (`Conversations._bot_turn`)
        for reply in replies:
            series.decision(reply.data.get("kind"))
        return replies

    async def _send(self, sender_id: str, text: str, metadata: dict[str, Any]) -> list[BotReply]:
        body = {"sender": sender_id, "message": text, "metadata": metadata}
        request = asyncio.ensure_future(self._post(body))
        try:
            while True:
                done, _ = await asyncio.wait({request}, timeout=self._timeout)
                if done:
                    return request.result()
                if not self._loading():
                    raise BotUnavailable(f"Rasa did not answer within {self._timeout:g} s")
        finally:
            request.cancel()  # nothing when it is done; else no answer is waited for any more

    async def _post(self, body: dict[str, Any]) -> list[BotReply]:
        try:
            async with self._session.post(f"{self._url}/webhooks/rest/webhook", json=body) as response:
                if response.status != 200:
                    raise BotUnavailable(f"Rasa answered HTTP {response.status}")
                return parse_replies(await response.json())
        except (aiohttp.ClientError, ValueError) as exc:
            raise BotUnavailable(f"Rasa is not reachable: {exc!r}") from exc

    async def is_up(self) -> bool:
        try:
            async with self._session.get(
                f"{self._url}/", timeout=aiohttp.ClientTimeout(total=2)
            ) as response:
                return response.status == 200
        except (TimeoutError, aiohttp.ClientError):
            return False
