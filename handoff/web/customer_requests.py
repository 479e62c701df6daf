"""What a customer sends, validated by the same rules on every channel (socket.io ``/chat``, the REST API
for apps in connectors/mobile_api.py): starting a conversation, and a message."""

from __future__ import annotations

import dataclasses
import re
from typing import Any

from handoff import payloads
from handoff.cases import identity
from handoff.cases.identity import Identity
from handoff.errors import ApiError
from handoff.settings import Settings

LOCALE = re.compile(r"[a-z]{2}(-[A-Z]{2})?")
# The channels a customer's own client starts conversations on (the socket or REST); a channel with a
# connector of its own (a messenger) starts them there.
CLIENT_CHANNELS = ("web", "mobile")
START_FIELDS = frozenset({"channel", "locale", "name", "earlier_token", "identity"})


@dataclasses.dataclass(frozen=True)
class Start:
    channel: str
    locale: str
    name: str | None
    earlier_token: str | None
    identity: Identity | None


def start(payload: Any, settings: Settings, default_channel: str) -> Start:
    """The payload of `start_conversation` (docs/protocol.md); ``channel`` defaults to ``default_channel``."""
    p = payloads.fields(payload, set(), set(START_FIELDS))
    channel = payloads.choice(p, "channel", CLIENT_CHANNELS, default_channel)
    locale = p.get("locale", "en")
    if not isinstance(locale, str) or not LOCALE.fullmatch(locale):
        raise ApiError("invalid_payload", "locale: must look like en or de-DE")
    name = payloads.optional_text(p, "name", 80)
    earlier = payloads.optional_text(p, "earlier_token", 200)
    signed = payloads.optional_text(p, "identity", 4000)
    known = identity.verify(signed, settings.identity_secret) if signed else None
    return Start(channel, locale, name, earlier, known)


def message(payload: Any, settings: Settings) -> tuple[str, str | None]:
    """The payload of `send_message`: the text (at most `max_message_length`) and a button's payload."""
    p = payloads.fields(payload, {"text"}, {"payload"})
    text = payloads.text(p, "text", settings.max_message_length, code="message_too_long")
    return text, payloads.optional_text(p, "payload", 200)
