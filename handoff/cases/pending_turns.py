"""Customer messages left without a bot turn: stored, and then the app stopped (a crash, a kill) before
the bot answered. When the app starts they get their turn, through the same path as any message
(`BotSide.answer_pending`): answered, or handed over with the turn's reason (docs/operations.md,
"Exactly-once delivery").

Which node answers them: the only node (``alone``, no Redis) answers every one at once, as soon as Rasa
answers its health check (or after `grace`, when it is handed over as the bot being unavailable). Where
several nodes share the store (Redis), a node that starts may find messages another node is answering
now: it waits `grace` (longer than any turn takes: twice Rasa's timeout and more), then answers those
still without a turn that are older than that, each claimed in Redis first so that one node answers it."""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import timedelta

import redis.asyncio as redis

from handoff.cases.bot_turns import Bot
from handoff.cases.conversations import Conversations
from handoff.cases.events import Background
from handoff.store.records import utcnow

log = logging.getLogger(__name__)

CLAIM_PREFIX = "casedesk:pending-turn:"
POLL_SECONDS = 0.5


class PendingTurns:
    def __init__(self, conversations: Conversations, bot: Bot, background: Background, redis_url: str,
                 rasa_timeout_seconds: float) -> None:
        self._conversations = conversations
        self._bot = bot
        self._background = background
        self._redis_url = redis_url
        self.grace = 2 * rasa_timeout_seconds + 5  # longer than any turn another node may be running now
        self.answered = 0  # turns run since start, for the operators' log and the tests

    def start(self, alone: bool) -> None:
        """Answer the pending messages in the background (``alone``: this node is the only one)."""
        self._background.run(self._answer_all(alone))

    async def _answer_all(self, alone: bool) -> None:
        if alone:
            await self._bot_ready()
        else:
            await asyncio.sleep(self.grace)
        cutoff = None if alone else utcnow() - timedelta(seconds=self.grace)
        pending = await self._conversations.store.awaiting_bot(before=cutoff)
        claims = None if alone else redis.Redis.from_url(self._redis_url)
        try:
            for conversation_id in pending:
                if claims is not None and not await claims.set(CLAIM_PREFIX + conversation_id, "1", nx=True,
                                                               ex=int(self.grace)):
                    continue  # another node answers it
                try:
                    self.answered += await self._conversations.bot.answer_pending(conversation_id)
                except Exception:
                    log.exception("the pending bot turn of %s failed", conversation_id)
        finally:
            if claims is not None:
                await claims.aclose()
        log.info("answered %d of %d customer messages left without a bot turn", self.answered, len(pending))

    async def _bot_ready(self) -> None:
        """Until Rasa answers (it may start after the app), at most `grace` seconds."""
        deadline = time.monotonic() + self.grace
        while time.monotonic() < deadline and not await self._bot.is_up():
            await asyncio.sleep(POLL_SECONDS)
