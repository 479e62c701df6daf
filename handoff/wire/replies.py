"""The shapes the server answers with and sends (docs/protocol.md, "Payloads"), built by
handoff/cases/views.py from the store's records. Times are ISO 8601 strings in UTC (`TimeOut`)."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import Field

from handoff.errors import HTTP_STATUS
from handoff.wire.fields import Reply, TimeOut


class Sender(StrEnum):
    CUSTOMER = "customer"
    BOT = "bot"
    AGENT = "agent"
    SYSTEM = "system"
    NOTE = "note"  # an agent's private note: never sent to the customer


class Status(StrEnum):
    BOT = "bot"
    QUEUED = "queued"
    WITH_AGENT = "with_agent"
    RESOLVED = "resolved"
    ABANDONED = "abandoned"
    CANCELLED = "cancelled"


class Resolution(StrEnum):
    BOT = "bot"
    AGENT = "agent"
    ABANDONED = "abandoned"
    CANCELLED = "cancelled"


class AnsweredVia(StrEnum):
    CHAT = "chat"
    LINK = "link"


class Message(Reply):
    conversation_id: str
    seq: int = Field(ge=1)
    sender: Sender
    sender_name: str
    text: str
    created_at: TimeOut
    data: dict[str, Any] = Field(description="depends on the message: docs/protocol.md, Payloads")


class CaseView(Reply):
    """What the customer and the agents both see of a case."""

    id: str
    case_number: int
    status: Status
    queue_position: int | None = Field(ge=1)
    agents_available: int | None = Field(ge=0)
    estimated_wait_seconds: int | None = Field(ge=0)
    agent_name: str | None
    resolution: Resolution | None
    survey_answered: bool
    last_seq: int = Field(ge=0)


class Conversation(CaseView):
    """What the customer sees: the case, with the link to their survey (agents never get it)."""

    survey_url: str | None


class Survey(Reply):
    rating: int = Field(ge=1, le=5)
    comment: str | None
    nps: int | None = Field(ge=0, le=10)
    effort: int | None = Field(ge=1, le=7)
    answered_via: AnsweredVia
    created_at: TimeOut


class ErrorDetail(Reply):
    code: str = Field(json_schema_extra={"enum": list(HTTP_STATUS)})
    message: str = Field(min_length=1)


class ErrorReply(Reply):
    """The one error shape of REST responses (handoff/errors.py)."""

    error: ErrorDetail
