"""The bot's side of a conversation: a customer's message to Rasa through the bot's queue, and the bot's
replies stored with the hand-over or resolution they bring, through `Conversations` (the one owner of a
case's changes). The customer sees the assistant typing while a turn waits or runs; with the queue full,
the assistant is busy and a person is offered (handoff/cases/bot_replies.py)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from handoff.cases import case_articles
from handoff.cases.bot_replies import busy_handover, busy_offer, unavailable
from handoff.cases.bot_turns import Bot, BotBusy
from handoff.cases.rasa_bridge import BotReply, BotUnavailable
from handoff.limits.limiter import Limiter
from handoff.store.records import Conversation, Status

if TYPE_CHECKING:
    from handoff.cases.conversations import Conversations

log = logging.getLogger(__name__)


class BotSide:
    """``bot``: the bot's queue (or Rasa itself); ``limiter``: the limits of hand-overs (none when None)."""

    def __init__(self, conversations: Conversations, bot: Bot, name: str, limiter: Limiter | None) -> None:
        self._conversations = conversations
        self._bot = bot
        self._name = name
        self._limiter = limiter

    async def answer_pending(self, conversation_id: str) -> bool:
        """The bot turn of the customer's latest message, left without one (handoff/cases/pending_turns.py)."""
        conversations = self._conversations
        async with conversations.locked(conversation_id):
            conversation = await conversations.get(conversation_id)
            last = await conversations.store.last_message_from(conversation_id, ["bot", "agent", "customer", "system"])
            if conversation.status != Status.BOT or last is None or last.sender != "customer":
                return False
            await self.turn(conversation, last.data.get("payload") or last.text, None, person=False)
            return True

    async def turn(self, conversation: Conversation, text: str, address: str | None, person: bool) -> None:
        """The bot's answer to ``text`` (the caller holds the conversation's lock). The bot's queue full: the
        customer is told so and offered a person, whom ``person`` takes (Rasa is not asked)."""
        language = self._conversations.customer_language
        if person:
            return await self._replies(conversation, [busy_handover(await language(conversation))], address)
        await self.typing(conversation, True)
        try:
            replies = await self._bot.send(conversation.id, text, {"channel": conversation.channel,
                                                                   "locale": conversation.locale})
            if not replies:  # every turn of our bot answers; silence means an action failed
                raise BotUnavailable("Rasa sent no reply")
        except BotBusy:
            replies = [busy_offer(await language(conversation))]
        except BotUnavailable as exc:
            log.warning("bot unavailable for %s: %s", conversation.id, exc)
            replies = [unavailable(await language(conversation))]
        finally:
            await self.typing(conversation, False)
        await self._replies(conversation, replies, address)

    async def _replies(self, conversation: Conversation, replies: list[BotReply], address: str | None) -> None:
        """Post the bot's replies; the first that hands over or resolves changes the case, and is the last."""
        conversations = self._conversations
        for reply in replies:
            if reply.handoff_reason and self._limiter and not await self._limiter.hits_all(
                    ("handovers_per_contact", conversation.customer_id), ("handovers_per_address", address)):
                await conversations.tell(conversation, "system.handover_limited", {"kind": "handover_limited"})
                return  # past a limit of hand-overs: the case stays with the bot, out of the queue
            posted = await conversations.post(conversation.id, "bot", self._name, reply.text, reply.data)
            await case_articles.record(conversations.store, conversation.id, posted.message.seq, reply)
            if reply.handoff_reason:
                await conversations.transition(conversation, Status.QUEUED, reason=reply.handoff_reason, actor="bot")
                return
            if reply.resolve_reason:
                await conversations.transition(conversation, Status.RESOLVED, reason=reply.resolve_reason,
                                               actor="bot")
                return

    async def typing(self, conversation: Conversation, typing: bool) -> None:
        """Tell the customer that the assistant is working on an answer (or stopped); not stored."""
        await self._conversations.channels.typing(conversation.channel, conversation.id, {
            "conversation_id": conversation.id, "sender": "bot", "name": self._name, "typing": typing})
