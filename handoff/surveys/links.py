"""One-time survey links: ``/survey/<token>``, where the token is ``<conversation id>.<signature>``.

The signature is an HMAC-SHA256 of the conversation id under a key the app makes on first use and
keeps in the store (`app_keys`), so every app process sharing the database signs and checks alike.
A link is good for the one case it names: until its survey is answered (in the chat or here; the
store keeps one answer per case) and until `survey_link_days` after the case closed.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from datetime import datetime, timedelta

from handoff.errors import ApiError
from handoff.store.records import Conversation, Status, utcnow
from handoff.store.sql import SqlCaseStore

KEY_NAME = "survey_links"
SIGNATURE_LENGTH = 22  # base64url characters: 132 bits of the HMAC
TOKEN = re.compile(rf"([A-Za-z0-9_-]{{1,40}})\.([A-Za-z0-9_-]{{{SIGNATURE_LENGTH}}})")
PATH = "/survey/"


class SurveyLinks:
    def __init__(self, store: SqlCaseStore, link_days: float) -> None:
        self._store = store
        self._valid_for = timedelta(days=link_days)
        self._key: bytes | None = None

    async def _signing_key(self, make: bool) -> bytes | None:
        """The shared key; made on first use when ``make`` (a check never makes it: with no key yet,
        no link is good, and a refused request changes nothing)."""
        if self._key is None:
            value = await self._store.app_key(KEY_NAME, (lambda: secrets.token_urlsafe(32)) if make else None)
            if value is not None:
                self._key = value.encode()
        return self._key

    @staticmethod
    def _sign(key: bytes, conversation_id: str) -> str:
        digest = hmac.new(key, f"survey:{conversation_id}".encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode()[:SIGNATURE_LENGTH]

    async def token(self, conversation_id: str) -> str:
        key = await self._signing_key(make=True)
        assert key is not None
        return f"{conversation_id}.{self._sign(key, conversation_id)}"

    def expires_at(self, conversation: Conversation) -> datetime | None:
        return conversation.closed_at + self._valid_for if conversation.closed_at else None

    def expired(self, conversation: Conversation) -> bool:
        expires = self.expires_at(conversation)
        return expires is not None and expires <= utcnow()

    async def url(self, conversation: Conversation) -> str | None:
        """The path of the case's link while it can be answered there (resolved, unanswered, in time)."""
        if conversation.status != Status.RESOLVED or conversation.survey_answered or self.expired(conversation):
            return None
        return PATH + await self.token(conversation.id)

    async def conversation_id(self, token: str) -> str:
        """The conversation a token names; `unauthorized` when it is malformed or its signature is wrong."""
        match = TOKEN.fullmatch(token)
        key = await self._signing_key(make=False) if match else None
        if match is None or key is None or not hmac.compare_digest(self._sign(key, match[1]), match[2]):
            raise ApiError("unauthorized", "this survey link is not valid; check that it was copied whole")
        return match[1]
