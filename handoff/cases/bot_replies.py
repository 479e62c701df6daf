"""What the bot says that Rasa does not: its queue is full, or Rasa is down.

The texts come from the message catalogue (handoff/catalogue); docs/protocol.md, "Payloads", has the
`data` of each message.
"""

from __future__ import annotations

from handoff import catalogue
from handoff.cases.rasa_bridge import BotReply
from handoff.store.records import Reason

BUSY = "bot_busy"  # the `kind` of the message saying the assistant is busy, and the reason of its hand-over
PERSON = "/request_human"  # the payload of its button: a person, please (the bot's own intent for that)


def unavailable(language: str) -> BotReply:
    """The bot cannot answer (Rasa failed, or does not answer its health check): a person takes over."""
    return BotReply(catalogue.text(language, "bot.unavailable"),
                    {"kind": "handoff", "reason": Reason.BOT_UNAVAILABLE.value, "language": language},
                    handoff_reason=Reason.BOT_UNAVAILABLE)


def busy_offer(language: str) -> BotReply:
    """The bot's queue is full: the customer may ask again, or take a person (the button, `PERSON`)."""
    return BotReply(catalogue.text(language, "bot.busy"),
                    {"kind": BUSY, "buttons": [{"title": catalogue.text(language, "bot.busy_person"),
                                                "payload": PERSON}], "language": language})


def busy_handover(language: str) -> BotReply:
    """The customer took the offer of a person made while the bot was busy."""
    return BotReply(catalogue.text(language, "bot.customer_request"),
                    {"kind": "handoff", "reason": BUSY, "language": language}, handoff_reason=Reason.BOT_BUSY)
