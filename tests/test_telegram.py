"""The Telegram channel (connectors/telegram.py) through real processes: the app with the channel on,
Rasa with the project's model, a real agent socket, and a fake of Telegram's Bot API on loopback
(tests/fake_telegram.py), which is the only part faked."""

from __future__ import annotations

import asyncio
import dataclasses
import sqlite3
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import socketio

from connectors import telegram
from handoff import catalogue
from handoff.cases.conversations import Conversations
from handoff.cases.desk import open_desk
from handoff.cases.rasa_bridge import RasaBridge
from handoff.settings import Settings
from handoff.store.records import Message, utcnow
from handoff.store.sql import SqlCaseStore
from harness.clients import agent_socket, http_json, sign_in
from harness.servers import ActionRelay, AppServer, RasaProcess, served_app
from tests.fake_telegram import SECRET, TOKEN, Call, FakeTelegram

# Telegram conversations have a queue of their own: routing by channel.
SETTINGS_FILE = """
[[queues]]
name = "telegram"
channels = ["telegram"]

[[queues]]
name = "general"
"""
DANA = {"id": 501, "is_bot": False, "first_name": "Dana", "last_name": "Novak", "language_code": "en"}


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeTelegram]:
    api = FakeTelegram().start()
    try:
        yield api
    finally:
        api.stop()


@pytest.fixture(scope="module")
def telegram_stack(fake: FakeTelegram, tmp_path_factory: pytest.TempPathFactory, rasa: RasaProcess,
                   actions: ActionRelay) -> Iterator[tuple[AppServer, RasaProcess]]:
    """The app with the channel on, behind the session's Rasa, whose actions it serves meanwhile."""
    env = {"CASEDESK_TELEGRAM_BOT_TOKEN": TOKEN, "CASEDESK_TELEGRAM_WEBHOOK_SECRET": SECRET,
           "CASEDESK_TELEGRAM_API_URL": fake.url}
    with served_app(tmp_path_factory.mktemp("telegram"), rasa.url, env, SETTINGS_FILE) as app, \
            actions.serving(app.url):
        yield app, rasa


@pytest.fixture
def app(telegram_stack: tuple[AppServer, RasaProcess]) -> AppServer:
    return telegram_stack[0]


def webhook(app: AppServer) -> str:
    return f"{app.url}/channels/telegram"


def db_rows(db_path: Path, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    with sqlite3.connect(f"file:{db_path}?mode=ro", uri=True) as conn:
        return conn.execute(sql, args).fetchall()


async def until_true(check: Callable[[], bool], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not check() and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    assert check()


def keyboard(params: dict[str, Any]) -> list[tuple[str, str]]:
    rows = params.get("reply_markup", {}).get("inline_keyboard", [])
    return [(key["text"], key["callback_data"]) for row in rows for key in row]


async def test_round_trip_bot_answer_escalation_agent_reply_and_survey(app: AppServer, fake: FakeTelegram) -> None:
    chat = 1001
    token = await sign_in(app.url)
    agent = await agent_socket(app.url, token)

    # 1. A question from the knowledge base: the article's answer, its link, Yes/No as an inline keyboard.
    status, body = await fake.post(webhook(app), fake.message(chat, "how do I return a bike?", DANA))
    assert (status, body) == (200, {"ok": True})
    answer = await fake.wait_for("sendMessage", lambda p: "reply_markup" in p, chat_id=chat)
    assert "30" in answer["text"] and "parse_mode" not in answer
    [link] = answer["entities"]
    assert link["type"] == "text_link" and link["url"].startswith("https://")
    assert answer["text"].endswith("\n\nReturning a bike")
    yes, no = keyboard(answer)
    assert (yes[0], no[0]) == ("Yes", "No")

    # 2. "No" pressed: the press is answered, the bot hands over, the case is queued in the telegram queue.
    sent = len(fake.done("sendMessage", chat))
    await fake.post(webhook(app), fake.press(chat, no[1], DANA))
    await fake.wait_for("answerCallbackQuery", lambda p: "text" not in p)
    await fake.wait_for("sendMessage", lambda p: "person" in p["text"] or "colleague" in p["text"]
                        or "team" in p["text"], chat_id=chat, after=sent)
    queued = await agent.wait_for("case_queued", lambda c: c["channel"] == "telegram")
    conversation_id = queued["id"]
    assert (queued["queue"], queued["escalation_reason"], queued["customer_name"]) == (
        "telegram", "answer_not_helpful", "Dana Novak")

    # 3. The agent accepts; the customer is told; typing shows; the reply (HTML in it) arrives as plain text.
    accepted = await agent.ok("accept_case", {"conversation_id": conversation_id})
    assert [m["text"] for m in accepted["messages"][:3]] == ["how do I return a bike?", answer["text"].rsplit(
        "\n\n", 1)[0], "No"]
    await fake.wait_for("sendMessage", lambda p: "joined" in p["text"], chat_id=chat)
    await agent.ok("set_typing", {"conversation_id": conversation_id, "typing": True})
    assert (await fake.wait_for("sendChatAction", chat_id=chat))["action"] == "typing"
    html = "<b>Hi Dana</b> & <a href='x'>which</a> bike is it?"
    await agent.ok("send_message", {"conversation_id": conversation_id, "text": html})
    reply = await fake.wait_for("sendMessage", lambda p: "Hi Dana" in p["text"], chat_id=chat)
    assert reply["text"] == f"Agent: {html}" and "parse_mode" not in reply and "entities" not in reply

    # 4. The customer answers in Telegram; the agent hears it. An update sent again is handled once
    # (the transcript below has one customer message here).
    update = fake.message(chat, "The blue <i>Trail 5</i>", DANA)
    for _ in range(2):
        assert (await fake.post(webhook(app), update))[0] == 200
    heard = await agent.wait_for("message_created", lambda m: m["sender"] == "customer" and "Trail" in m["text"])
    assert (heard["conversation_id"], heard["text"]) == (conversation_id, "The blue <i>Trail 5</i>")

    # 5. Resolved while the API is down for two calls: the survey arrives after the retries, as buttons.
    fake.fail_next("sendMessage", chat, 2)
    await agent.ok("resolve_case", {"conversation_id": conversation_id, "category": "question_answered"})
    survey = await fake.wait_for("sendMessage", lambda p: "rate" in p["text"], chat_id=chat)
    assert keyboard(survey) == [(str(n), f"r:{n}") for n in range(1, 6)]
    assert sum(1 for c in fake.calls if c.method == "sendMessage" and c.answered == 502
               and c.params["chat_id"] == str(chat)) == 2

    # 6. The customer presses 4: the survey is stored through Conversations, the press answered with thanks.
    await fake.post(webhook(app), fake.press(chat, "r:4", DANA))
    await fake.wait_for("answerCallbackQuery", lambda p: p.get("text") == catalogue.text("en", "channel.rating_thanks"))
    _, detail = await http_json("GET", f"{app.url}/api/cases/{conversation_id}", token=token)
    case = detail["case"]
    assert (case["channel"], case["status"], case["queue"]) == ("telegram", "resolved", "telegram")
    assert (case["survey"]["rating"], case["survey"]["answered_via"]) == (4, "chat")
    assert [m["sender"] for m in detail["messages"]] == [
        "customer", "bot", "customer", "bot", "system", "agent", "customer", "system"]
    # pressing again is refused, and said so on the press
    await fake.post(webhook(app), fake.press(chat, "r:2", DANA))
    expired = catalogue.text("en", "channel.choice_expired")
    await fake.wait_for("answerCallbackQuery", lambda p: p.get("text") == expired)

    # 7. The next message after the case closed starts the chat's next case, the same contact's.
    await fake.post(webhook(app), fake.message(chat, "I want to talk to a person", DANA))
    nxt = await agent.wait_for("case_queued", lambda c: c["channel"] == "telegram" and c["id"] != conversation_id)
    assert nxt["customer_id"] == case["customer_id"]
    await agent.close()


async def test_a_wrong_or_missing_secret_is_refused(app: AppServer, fake: FakeTelegram) -> None:
    chat = 2002
    for secret in ("not-the-secret-of-this-bot", None):
        status, body = await fake.post(webhook(app), fake.message(chat, "how do I return a bike?", DANA), secret=secret)
        assert status == 401 and body["error"]["code"] == "unauthorized"
    for update in ({"update_id": "x"}, {"update_id": 7, "message": {"text": "hi"}}):
        status, body = await fake.post(webhook(app), update)
        assert status == 400 and body["error"]["code"] == "invalid_payload"
    await asyncio.sleep(1)
    assert [c for c in fake.calls if c.params.get("chat_id") == str(chat)] == []  # nothing answered
    assert db_rows(app.db_path, "SELECT * FROM channel_links WHERE external_id = ?", str(chat)) == []


async def test_a_message_sent_while_the_api_is_down_stays_stored(app: AppServer, fake: FakeTelegram) -> None:
    chat = 3003
    fake.fail_next("sendMessage", chat, 1 + len(telegram.RETRY_DELAYS))  # every attempt of the bot's answer
    status, _ = await fake.post(webhook(app), fake.message(chat, "how do I return a bike?", DANA))
    assert status == 200

    def attempts() -> list[Call]:
        return [c for c in fake.calls if c.method == "sendMessage" and c.params["chat_id"] == str(chat)]

    await until_true(lambda: len(attempts()) == 1 + len(telegram.RETRY_DELAYS), seconds=sum(telegram.RETRY_DELAYS) + 20)
    assert all(c.answered == 502 for c in attempts())
    [(conversation_id,)] = db_rows(app.db_path, "SELECT conversation_id FROM channel_links WHERE external_id = ?",
                                   str(chat))
    _, detail = await http_json("GET", f"{app.url}/api/cases/{conversation_id}", token=await sign_in(app.url))
    bot = [m for m in detail["messages"] if m["sender"] == "bot"]
    assert bot and bot[0]["data"]["kind"] == "answer"  # stored, though Telegram never got it
    assert bot[0]["text"] == attempts()[0].params["text"].rsplit("\n\n", 1)[0]
    # the app keeps going: the next message of the chat is answered
    await fake.post(webhook(app), fake.message(chat, "No", DANA))
    await fake.wait_for("sendMessage", chat_id=chat)


# -- a channel without buttons: numbered choices ----------------------------------------------------------


@pytest.fixture
async def no_buttons(telegram_stack: tuple[AppServer, RasaProcess], fake: FakeTelegram, tmp_path: Path
                     ) -> AsyncIterator[tuple[telegram.TelegramChannel, Conversations, SqlCaseStore]]:
    """Conversations and the Telegram channel in this process, on a store of their own, with the module's
    Rasa (whose actions the app serves), and a capability set without buttons (as SMS has)."""
    store = await SqlCaseStore.open(f"sqlite+aiosqlite:///{tmp_path / 'cases.db'}")
    http = aiohttp.ClientSession()
    settings = Settings(telegram_api_url=fake.url)
    desk = open_desk(store, socketio.AsyncServer(async_mode="aiohttp"), RasaBridge(http, telegram_stack[1].url, 15.0),
                     settings)
    conversations = desk.conversations
    channel = telegram.TelegramChannel(telegram.BotApi(http, fake.url, TOKEN), store, settings.max_message_length,
                                       dataclasses.replace(telegram.CAPABILITIES, buttons=False))
    conversations.channels.add(telegram.TELEGRAM, channel)
    try:
        yield channel, conversations, store
    finally:
        await channel.close()
        await desk.stop()
        await http.close()
        await store.close()


async def test_without_buttons_choices_are_numbered_and_a_number_picks_one(
    no_buttons: tuple[telegram.TelegramChannel, Conversations, SqlCaseStore], fake: FakeTelegram,
) -> None:
    channel, conversations, store = no_buttons
    chat = 4004
    await channel.receive(conversations, fake.message(chat, "how do I return a bike?", DANA))
    answer = await fake.wait_for("sendMessage", lambda p: "Reply with a number" in p["text"], chat_id=chat)
    assert "reply_markup" not in answer
    assert answer["text"].split("\n")[-3:] == ["1. Yes", "2. No", "Reply with a number."]

    await channel.receive(conversations, fake.message(chat, "2", DANA))
    conversation_id = await store.chat_conversation(telegram.TELEGRAM, str(chat))
    assert conversation_id is not None
    messages = await store.messages_after(conversation_id)
    assert [(m.sender, m.text, m.data.get("payload")) for m in messages[2:3]] == [("customer", "No", "/deny")]
    assert (await conversations.get(conversation_id)).status == "queued"  # "No" handed it over
    assert messages[3].data["reason"] == "answer_not_helpful"

    # an agent resolves it; the survey's text names its scale, and a written number answers it
    agent = await store.add_agent("a_1", "sam", "Sam", "x")
    await conversations.accept(agent, conversation_id)
    await conversations.resolve(agent, conversation_id, "question_answered")
    survey = await fake.wait_for("sendMessage", lambda p: "rate" in p["text"], chat_id=chat)
    assert survey["text"] == "How satisfied are you with this conversation? Please rate it from 1 to 5."
    assert "reply_markup" not in survey
    await channel.receive(conversations, fake.message(chat, "4", DANA))
    stored = await store.survey(conversation_id)
    assert stored is not None and (stored.rating, stored.answered_via) == (4, "chat")
    thanks = catalogue.text("en", "channel.rating_thanks")
    await fake.wait_for("sendMessage", lambda p: p["text"] == thanks, chat_id=chat)


def test_long_texts_are_split_and_links_written_out_without_links() -> None:
    plain = telegram.TelegramChannel(None, None, 2000, dataclasses.replace(  # type: ignore[arg-type]
        telegram.CAPABILITIES, links=False, max_text_length=50))
    message = Message("c_1", 2, "bot", "bot", "word " * 30, {
        "article": {"title": "Returning a bike", "url": "https://example.com/returns"}}, utcnow())
    calls = plain.requests("7", message)
    assert len(calls) > 1 and all(len(c["text"]) <= 50 for c in calls)
    assert calls[-1]["text"].endswith("Returning a bike: https://example.com/returns")
    assert all("entities" not in c for c in calls)
    assert " ".join(c["text"] for c in calls).split() == ("word " * 30 + "Returning a bike: "
                                                          "https://example.com/returns").split()
