"""The Telegram channel (docs/channels.md): Telegram's Bot API, updates in through a webhook, messages
out with ``sendMessage``.

A Telegram chat is a customer: its first message starts a conversation (channel ``telegram``, the
contact known as ``telegram:{user id}``), its next ones go to that conversation while it is open, and
one after it closed starts the next. The bot's buttons and the survey's ratings are inline keyboards;
a press (``callback_query``) is the customer's choice. Where the channel shows no buttons
(``Capabilities.buttons`` false), they are numbered choices and the customer answers with the number.

Delivery runs in the background, one message after the other per conversation: the message is stored
before (Conversations), and a failed call is tried again `RETRY_DELAYS` later, then given up and logged.
What users write is plain text: no ``parse_mode``; an article's link is a ``text_link`` entity.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import hmac
import logging
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any

import aiohttp
from aiohttp import web

from connectors.plain_text import chosen, numbered, pieces
from handoff import catalogue
from handoff.cases.channels import Capabilities
from handoff.cases.conversations import Conversations
from handoff.errors import ApiError
from handoff.store.records import CLOSED, Conversation, Identity, Message, Status
from handoff.store.sql import SqlCaseStore
from handoff.surveys.questions import Answers
from handoff.web.api import json_body
from handoff.web.keys import CONVERSATIONS, SETTINGS

log = logging.getLogger(__name__)

TELEGRAM = "telegram"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
CAPABILITIES = Capabilities(buttons=True, links=True, typing=True, max_text_length=4096)
RETRY_DELAYS = (1.0, 4.0, 15.0)  # seconds before each further attempt of a failed call
CALL_TIMEOUT = aiohttp.ClientTimeout(total=10)
SEEN_UPDATES = 1000  # update ids remembered, so an update Telegram sends again is handled once
BUTTON, RATING = "b", "r"  # callback data: "b:{seq}:{index}" a bot's button, "r:{rating}" the survey's

routes = web.RouteTableDef()


class CallFailed(Exception):
    def __init__(self, method: str, status: int, description: str, retry: bool, retry_after: float | None) -> None:
        super().__init__(f"{method}: HTTP {status}: {description}")
        self.retry = retry
        self.retry_after = retry_after


class BotApi:
    """Calls of Telegram's Bot API with the bot's token (which is in no log line)."""

    def __init__(self, http: aiohttp.ClientSession, api_url: str, token: str) -> None:
        self._http = http
        self._token = token
        self._base = f"{api_url.rstrip('/')}/bot{token}/"

    def redact(self, text: str) -> str:
        """The text without the token (an error may name the URL it called)."""
        return text.replace(self._token, "***") if self._token else text

    async def call(self, method: str, params: dict[str, Any]) -> Any:
        async with self._http.post(self._base + method, json=params, timeout=CALL_TIMEOUT) as response:
            try:
                body = await response.json(content_type=None)
            except ValueError:
                body = None
        if not isinstance(body, dict):
            body = {"ok": False, "description": "not a JSON answer"}
        if response.status == 200 and body.get("ok") is True:
            return body.get("result")
        after = (body.get("parameters") or {}).get("retry_after")
        raise CallFailed(method, response.status, str(body.get("description", "")),
                         retry=response.status >= 500 or response.status == 429,
                         retry_after=float(after) if isinstance(after, int | float) else None)


def _utf16(text: str) -> int:
    """Telegram counts entity offsets and lengths in UTF-16 code units."""
    return len(text.encode("utf-16-le")) // 2


class TelegramChannel:
    """The `Channel` (handoff/cases/channels.py) of Telegram chats."""

    def __init__(self, api: BotApi, store: SqlCaseStore, max_message_length: int,
                 capabilities: Capabilities = CAPABILITIES, retry_delays: tuple[float, ...] = RETRY_DELAYS) -> None:
        self.capabilities = capabilities
        self._api = api
        self._store = store
        self._max_message_length = max_message_length
        self._retry_delays = retry_delays
        self._chats: dict[str, str] = {}  # conversation id -> chat id
        self._tails: dict[str, asyncio.Future[None]] = {}  # conversation id -> its latest delivery
        self._tasks: set[asyncio.Future[None]] = set()
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()
        self._seen: collections.OrderedDict[int, None] = collections.OrderedDict()

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    # -- out: the Channel interface -------------------------------------------------------------------

    async def deliver(self, message: Message, view: dict[str, Any]) -> None:
        if message.sender == "customer":  # what the customer wrote is in their chat already
            return
        self._in_order(message.conversation_id, lambda: self._send(message))

    async def typing(self, conversation_id: str, event: dict[str, Any]) -> None:
        if event.get("typing"):  # Telegram shows it for 5 seconds, or until the next message
            self._in_order(conversation_id, lambda: self._chat_action(conversation_id))

    async def case_updated(self, conversation_id: str, view: dict[str, Any]) -> None:
        return None  # the messages say what changed (the handoff, the agent joining, the survey)

    def requests(self, chat_id: str, message: Message) -> list[dict[str, Any]]:
        """The ``sendMessage`` calls that show the message: its text (in pieces of at most
        `Capabilities.max_text_length`), its article's link, its choices."""
        caps = self.capabilities
        text = f"{message.sender_name}: {message.text}" if message.sender == "agent" else message.text
        data = message.data
        choices = _choices(message)
        listed = ""  # choices as numbered lines, where the channel has no buttons
        if choices and not caps.buttons and data.get("kind") != "survey":  # the survey's text names its scale
            listed = numbered("", [title for title, _ in choices], data.get("language"))
        article = data.get("article") or {}
        link = article.get("title") if article.get("url") else None
        written = ""  # the link written out, where the channel has no links
        if link and not caps.links:
            written, link = f"\n\n{link}: {article['url']}", None
        limit = caps.max_text_length
        after = (_utf16(link) + 2 if link else 0) + len(written) + len(listed)  # on the last piece
        parts = pieces(text, limit)
        if limit is not None and len(parts[-1]) + after > limit:
            parts.append("")  # the link and the choices in a message of their own
        calls: list[dict[str, Any]] = [{"chat_id": chat_id, "text": part} for part in parts]
        last = calls[-1]

        def add(more: str) -> None:
            last["text"] = (last["text"] + more) if last["text"] else more.lstrip("\n")

        add(written)
        if link:
            add(f"\n\n{link}")
            offset = _utf16(last["text"]) - _utf16(link)
            last["entities"] = [{"type": "text_link", "offset": offset, "length": _utf16(link), "url": article["url"]}]
        add(listed)
        if choices and caps.buttons:
            keys = [{"text": title, "callback_data": key} for title, key in choices]
            rows = [keys] if data.get("kind") == "survey" else [[key] for key in keys]
            last["reply_markup"] = {"inline_keyboard": rows}
        return calls

    def _in_order(self, conversation_id: str, job: Callable[[], Awaitable[None]]) -> None:
        """Run ``job`` in the background after the conversation's earlier ones."""
        before = self._tails.get(conversation_id)

        async def run() -> None:
            if before is not None:
                with contextlib.suppress(Exception):
                    await asyncio.shield(before)
            await job()

        task = asyncio.ensure_future(run())
        self._tails[conversation_id] = task
        self._tasks.add(task)

        def done(finished: asyncio.Future[None]) -> None:
            self._tasks.discard(finished)
            if self._tails.get(conversation_id) is finished:
                del self._tails[conversation_id]
            if not finished.cancelled() and finished.exception() is not None:
                log.error("telegram delivery for %s failed: %s", conversation_id,
                          self._api.redact(repr(finished.exception())))

        task.add_done_callback(done)

    async def _chat_of(self, conversation_id: str) -> str | None:
        chat_id = self._chats.get(conversation_id) or await self._store.conversation_chat(conversation_id)
        if chat_id is not None:
            self._chats[conversation_id] = chat_id
        return chat_id

    async def _send(self, message: Message) -> None:
        chat_id = await self._chat_of(message.conversation_id)
        if chat_id is None:
            log.warning("conversation %s has no telegram chat; message %d not sent",
                        message.conversation_id, message.seq)
            return
        for params in self.requests(chat_id, message):
            if not await self._call("sendMessage", params, f"message {message.seq} of {message.conversation_id}"):
                return  # the rest would make no sense without it; the message is stored

    async def _chat_action(self, conversation_id: str) -> None:
        chat_id = await self._chat_of(conversation_id)
        if chat_id is not None:
            await self._call("sendChatAction", {"chat_id": chat_id, "action": "typing"}, "typing", attempts=1)

    async def _call(self, method: str, params: dict[str, Any], what: str, attempts: int | None = None) -> bool:
        """Call the API, trying again after each of `RETRY_DELAYS` while it fails for a reason that may
        pass (no answer, 5xx, 429); True when it was done."""
        delays = self._retry_delays[: None if attempts is None else attempts - 1]
        total = len(delays) + 1
        for attempt in range(1, total + 1):
            try:
                await self._api.call(method, params)
                return True
            except CallFailed as exc:
                error: Exception = exc
                if not exc.retry:
                    break
                wait = exc.retry_after
            except (aiohttp.ClientError, TimeoutError) as exc:
                error, wait = exc, None
            if attempt == total:
                break
            log.warning("telegram %s (%s) failed, attempt %d of %d: %s", method, what, attempt, total,
                        self._api.redact(repr(error)))
            await asyncio.sleep(max(delays[attempt - 1], wait or 0))
        log.error("telegram %s (%s) not done: %s", method, what, self._api.redact(repr(error)))
        return False

    async def say(self, chat_id: str, text: str) -> None:
        """A notice that is no message of the conversation (not stored): e.g. why a message was refused."""
        await self._call("sendMessage", {"chat_id": chat_id, "text": text}, "notice", attempts=1)

    # -- in: updates from the webhook -------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def _chat_locked(self, chat_id: str) -> AsyncIterator[None]:
        lock = self._locks.get(chat_id)
        if lock is None:
            lock = self._locks[chat_id] = asyncio.Lock()
        async with lock:
            yield

    def _handled(self, update_id: int) -> None:
        self._seen[update_id] = None
        if len(self._seen) > SEEN_UPDATES:
            self._seen.popitem(last=False)

    async def receive(self, conversations: Conversations, update: Any) -> None:
        """One update (Telegram's ``Update`` object). Kinds other than a message or a button press are
        left alone (and answered with 200, so that Telegram does not send them again)."""
        if not isinstance(update, dict):
            raise ApiError("invalid_payload", "body: must be a Telegram Update object")
        update_id = update.get("update_id")
        if not isinstance(update_id, int) or isinstance(update_id, bool):
            raise ApiError("invalid_payload", "update_id: must be an integer")
        if update_id in self._seen:
            return
        if "message" in update:
            await self._message(conversations, _object(update, "message"))
        elif "callback_query" in update:
            await self._pressed(conversations, _object(update, "callback_query"))
        self._handled(update_id)  # only now: an update that failed is handled when Telegram sends it again

    async def _current(self, conversations: Conversations, chat_id: str) -> Conversation | None:
        conversation_id = await self._store.chat_conversation(TELEGRAM, chat_id)
        return None if conversation_id is None else await conversations.get(conversation_id)

    async def _start(self, conversations: Conversations, chat_id: str, user: Mapping[str, Any]) -> Conversation:
        name = " ".join(str(user[k]) for k in ("first_name", "last_name") if isinstance(user.get(k), str))[:80]
        locale = _language(user)
        known = Identity(f"telegram:{user['id']}", name or None, None) if isinstance(user.get("id"), int) else None
        conversation, _ = await conversations.start(TELEGRAM, locale, name or "Telegram user", None, known)
        await self._store.link_chat(TELEGRAM, chat_id, conversation.id)
        self._chats[conversation.id] = chat_id
        return conversation

    async def _message(self, conversations: Conversations, message: dict[str, Any]) -> None:
        chat_id = _chat_id(message)
        text = message.get("text")
        sender = message.get("from")
        user: dict[str, Any] = sender if isinstance(sender, dict) else {}
        if not isinstance(text, str) or not text.strip():
            await self.say(chat_id, catalogue.text(_language(user), "channel.text_only"))
            return
        if len(text) > self._max_message_length:
            await self.say(chat_id, catalogue.text(_language(user), "channel.too_long", limit=self._max_message_length))
            return
        async with self._chat_locked(chat_id):
            conversation = await self._current(conversations, chat_id)
            rating = _rating(conversation, text)
            if conversation is not None and rating is not None:
                await self._rate(conversations, chat_id, conversation, rating, pressed=False)
                return
            if conversation is None or conversation.status in CLOSED:
                conversation = await self._start(conversations, chat_id, user)
            payload = None
            if not self.capabilities.buttons:
                button = chosen(text, await self._offered(conversations, conversation.id))
                if button is not None:
                    text, payload = str(button["title"]), str(button["payload"])
            try:
                await conversations.customer_message(conversation.id, conversation.customer_name, text, payload)
            except ApiError as exc:
                await self.say(chat_id, exc.message)

    async def _offered(self, conversations: Conversations, conversation_id: str) -> list[dict[str, Any]]:
        """The buttons of the bot's latest message, while nobody wrote after it."""
        last = await conversations.store.last_message_from(conversation_id, ["bot", "agent", "customer"])
        return list(last.data.get("buttons", [])) if last is not None and last.sender == "bot" else []

    async def _rate(self, conversations: Conversations, chat_id: str, conversation: Conversation,
                    rating: int, pressed: bool) -> str:
        """Store the survey's rating (through Conversations); what to tell the customer, which a press
        shows on its answer and a written number gets as a message."""
        try:
            await conversations.answer_survey(conversation.id, Answers(rating=rating), via="chat")
            said = catalogue.text(await conversations.customer_language(conversation), "channel.rating_thanks")
        except ApiError as exc:
            said = exc.message
        if not pressed:
            await self.say(chat_id, said)
        return said

    async def _pressed(self, conversations: Conversations, query: dict[str, Any]) -> None:
        query_id = query.get("id")
        if not isinstance(query_id, str):
            raise ApiError("invalid_payload", "callback_query.id: must be a string")
        chat_id = _chat_id(_object(query, "message"))
        kind, *values = str(query.get("data", "")).split(":")
        sender = query.get("from")
        user: dict[str, Any] = sender if isinstance(sender, dict) else {}
        note: str | None = catalogue.text(_language(user), "channel.choice_expired")
        async with self._chat_locked(chat_id):
            conversation = await self._current(conversations, chat_id)
            if conversation is not None and kind == RATING and values and values[0].isdecimal():
                rating = _rating(conversation, values[0])
                if rating is not None:
                    note = await self._rate(conversations, chat_id, conversation, rating, pressed=True)
            elif conversation is not None and kind == BUTTON and len(values) == 2 and all(map(str.isdecimal, values)):
                last = await conversations.store.last_message_from(conversation.id, ["bot", "agent", "customer"])
                buttons = last.data.get("buttons", []) if last is not None and last.sender == "bot" else []
                seq, index = map(int, values)
                if last is not None and last.seq == seq and index < len(buttons):
                    button = buttons[index]
                    note = None
                    try:
                        await conversations.customer_message(conversation.id, conversation.customer_name,
                                                             str(button["title"]), str(button["payload"]))
                    except ApiError as exc:
                        note = exc.message
        # always answered, so that the customer's app stops showing the press as pending
        await self._call("answerCallbackQuery", {"callback_query_id": query_id, **({"text": note} if note else {})},
                         "button press", attempts=1)


def _language(user: Mapping[str, Any]) -> str:
    """The two-letter language of a Telegram user's app (their ``language_code``), else English."""
    language = user.get("language_code")
    return language[:2].lower() if isinstance(language, str) and language[:2].isalpha() else "en"


def _choices(message: Message) -> list[tuple[str, str]]:
    """The choices a message offers, with their callback data: the bot's buttons, the survey's ratings."""
    data = message.data
    if data.get("kind") == "survey":
        low, high = data.get("scale") or (1, 5)
        return [(str(n), f"{RATING}:{n}") for n in range(low, high + 1)]
    return [(str(b.get("title", "")), f"{BUTTON}:{message.seq}:{i}") for i, b in enumerate(data.get("buttons", []))]


def _rating(conversation: Conversation | None, text: str) -> int | None:
    """A rating from 1 to 5, while the conversation is resolved and its survey unanswered."""
    if conversation is None or conversation.status != Status.RESOLVED or conversation.survey_answered:
        return None
    number = text.strip().rstrip(".")
    return int(number) if number.isdecimal() and 1 <= int(number) <= 5 else None


def _object(parent: dict[str, Any], key: str) -> dict[str, Any]:
    value = parent.get(key)
    if not isinstance(value, dict):
        raise ApiError("invalid_payload", f"{key}: must be an object")
    return value


def _chat_id(message: dict[str, Any]) -> str:
    chat_id = _object(message, "chat").get("id")
    if not isinstance(chat_id, int) or isinstance(chat_id, bool):
        raise ApiError("invalid_payload", "chat.id: must be an integer")
    return str(chat_id)


# An app key of its own: handoff/web/keys.py would import this module, which imports handoff.web.keys.
CHANNEL = web.AppKey("telegram_channel", TelegramChannel)


@routes.post("/channels/telegram")
async def webhook(request: web.Request) -> web.Response:
    """Telegram's updates (``setWebhook`` with ``secret_token``): refused without the secret."""
    secret = request.app[SETTINGS].telegram_webhook_secret
    given = request.headers.get(SECRET_HEADER, "")
    if not secret or not hmac.compare_digest(given.encode(), secret.encode()):
        raise ApiError("unauthorized", f"{SECRET_HEADER}: missing or wrong")
    update = await json_body(request)
    await request.app[CHANNEL].receive(request.app[CONVERSATIONS], update)
    return web.json_response({"ok": True})
