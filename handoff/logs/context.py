"""What a log line is about: the request being served and the conversation being changed, as context
variables (asyncio's tasks copy them, so work started for a request carries its id)."""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

REQUEST_ID: ContextVar[str | None] = ContextVar("request_id", default=None)
CONVERSATION_ID: ContextVar[str | None] = ContextVar("conversation_id", default=None)
# A request id a trusted proxy sends (X-Request-Id) is kept when it looks like one: nothing that could
# forge a log line or carry text.
GIVEN_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")


def new_request_id() -> str:
    return secrets.token_hex(8)


def request_id(given: str | None = None) -> str:
    """``given`` (from a trusted proxy) when it has the shape of an id, else a new one."""
    return given if given is not None and GIVEN_ID.fullmatch(given) else new_request_id()


@contextmanager
def about_request(request_id: str) -> Iterator[str]:
    token = REQUEST_ID.set(request_id)
    try:
        yield request_id
    finally:
        REQUEST_ID.reset(token)


@contextmanager
def about_conversation(conversation_id: str) -> Iterator[None]:
    token = CONVERSATION_ID.set(conversation_id)
    try:
        yield
    finally:
        CONVERSATION_ID.reset(token)
