"""The bridge to Rasa's REST channel: send a customer's text, get the bot's replies back.

Our custom actions (bot/actions) put structured replies into Rasa's ``custom`` payload:
``{"text": str, "data": {...}, "handoff": reason?, "resolve": reason?}``. Plain responses from the
domain arrive as ``text`` (and ``buttons``). Both become :class:`BotReply`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import zlib
from collections.abc import Callable, Sequence
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


Urls = str | Sequence[str] | Callable[[], Sequence[str]]


def pick(sender_id: str, count: int) -> int:
    """The Rasa process (0..count-1) that serves the conversation ``sender_id``: the same one for all its
    turns while ``count`` stays, so its tracker is warm and its turns wait for no lock of another process."""
    return zlib.crc32(sender_id.encode()) % count


class RasaBridge:
    """``urls``: one Rasa server, several (each conversation keeps to one of them, `pick`, and goes to the
    next when that one refuses connections), or a callable giving them at each turn (`casedesk run`'s
    bot.rasa_fleet, whose addresses change at a blue/green switch). ``timeout``: how long a message waits
    for Rasa before the customer is handed over; longer while ``loading()`` says Rasa is loading a new model
    (a publish with `PUT /model`), which it answers after. Each turn is measured (handoff/metrics: its
    outcome, its time split between Rasa and the actions, the kinds of the bot's replies)."""

    def __init__(self, session: aiohttp.ClientSession, urls: Urls, timeout: float,
                 loading: Callable[[], bool] = lambda: False) -> None:
        self._session = session
        if callable(urls):
            self._urls = urls
        else:
            fixed = tuple(u.rstrip("/") for u in ((urls,) if isinstance(urls, str) else urls))
            self._urls = lambda: fixed
        self._timeout = timeout
        self._loading = loading

    def urls(self) -> tuple[str, ...]:
        return tuple(url.rstrip("/") for url in self._urls())

    async def send(self, sender_id: str, text: str, metadata: dict[str, Any]) -> list[BotReply]:
        with CLOCK.turn(sender_id) as outcome:
            replies = await self._send(sender_id, text, metadata)
            outcome.replied = bool(replies)  # silence means an action failed (`BotSide.turn`)
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
        """To the conversation's Rasa process, else the next ones in turn: only a refused connection moves on
        (a turn that reached a process may have been taken; it is not sent twice)."""
        urls = self.urls()
        if not urls:
            raise BotUnavailable("no Rasa server is configured")
        first = pick(body["sender"], len(urls))
        refused: aiohttp.ClientConnectorError | None = None
        for step in range(len(urls)):
            url = urls[(first + step) % len(urls)]
            try:
                async with self._session.post(f"{url}/webhooks/rest/webhook", json=body) as response:
                    if response.status != 200:
                        raise BotUnavailable(f"Rasa answered HTTP {response.status}")
                    return parse_replies(await response.json())
            except aiohttp.ClientConnectorError as exc:
                refused = exc
            except (aiohttp.ClientError, ValueError) as exc:
                raise BotUnavailable(f"Rasa is not reachable: {exc!r}") from exc
        raise BotUnavailable(f"Rasa is not reachable: {refused!r}") from refused

    async def is_up(self) -> bool:
        """Whether at least one of the Rasa servers answers."""
        for url in self.urls():
            try:
                async with self._session.get(f"{url}/", timeout=aiohttp.ClientTimeout(total=2)) as response:
                    if response.status == 200:
                        return True
            except (TimeoutError, aiohttp.ClientError):
                continue
        return False
