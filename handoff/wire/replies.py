"""The shapes the server answers with and sends (docs/protocol.md, "Payloads"), built by
handoff/cases/views.py from the store's records. Times are ISO 8601 strings in UTC (`TimeOut`). A
case's ``status`` is the store's `Status`."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field, ValidationError

from handoff.errors import HTTP_STATUS
from handoff.store.records import Status
from handoff.wire.fields import Reply, TimeOut


def shape(model: type[BaseModel], data: Any) -> dict[str, Any]:
    """``data`` as ``model`` says, as JSON values; a field the model may leave out and ``data`` does not
    have stays out. A reply that is not its model's is the server's fault: `RuntimeError`, not the
    `ValidationError` the boundaries answer as the client's."""
    try:
        return model.model_validate(data).model_dump(mode="json", exclude_unset=True)
    except ValidationError as exc:
        raise RuntimeError(f"the reply is not a {model.__name__}: {exc}") from None


class Sender(StrEnum):
    CUSTOMER = "customer"
    BOT = "bot"
    AGENT = "agent"
    SYSTEM = "system"
    NOTE = "note"  # an agent's private note: never sent to the customer


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
    client_id: str | None = Field(description="the id the sender's client gave the message, if it gave one")


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


class Channel(StrEnum):
    WEB = "web"
    MOBILE = "mobile"
    TELEGRAM = "telegram"


class StatusReason(StrEnum):
    """The status as Dynamics 365 names it."""

    WITH_BOT = "with_bot"
    QUEUED = "queued"
    WITH_AGENT = "with_agent"
    WAITING_FOR_CUSTOMER = "waiting_for_customer"
    RESOLVED_BY_BOT = "resolved_by_bot"
    RESOLVED_BY_AGENT = "resolved_by_agent"
    ABANDONED = "abandoned"
    CANCELLED = "cancelled"


class State(StrEnum):
    ACTIVE = "active"
    RESOLVED = "resolved"
    CANCELLED = "cancelled"


class Priority(StrEnum):
    HIGH = "high"
    NORMAL = "normal"


class SlaState(StrEnum):
    WARNING = "warning"
    BREACHED = "breached"
    MET = "met"


class Sla(Reply):
    first_response_due_at: TimeOut | None
    first_response_at: TimeOut | None
    first_response_warning_at: TimeOut | None
    first_response: SlaState | None
    resolution_due_at: TimeOut | None
    resolution: SlaState | None
    resolution_warning_at: TimeOut | None


class CaseSummary(CaseView):
    """What agents see of a case in lists: the case without the customer's survey link, and more."""

    customer_id: str
    customer_name: str
    customer_preferred: bool
    entitlement: str | None
    title: str | None
    status_reason: StatusReason
    state: State
    closed_at: TimeOut | None
    channel: Channel
    locale: str
    escalation_reason: str | None
    queued_at: TimeOut | None
    agent_id: str | None
    created_at: TimeOut
    queue: str | None
    priority: Priority | None
    resolution_category: str | None
    sla: Sla


class CaseSurvey(Survey):
    """The survey as agents see it in the case."""

    agent_id: str | None
    article_ids: list[str]


class CaseEvent(Reply):
    """A step of the case's timeline."""

    from_: Status | None = Field(alias="from")
    to: Status
    reason: str
    actor: str
    at: TimeOut


class CaseArticle(Reply):
    article_id: str
    seq: int
    shown_at: TimeOut
    helped: bool | None


class Case(CaseSummary):
    """A case as `GET /api/cases/{id}` gives it."""

    events: list[CaseEvent]
    survey: CaseSurvey | None
    articles: list[CaseArticle]
    earlier_cases: list[CaseSummary]


class ErrorDetail(Reply):
    code: str = Field(json_schema_extra={"enum": list(HTTP_STATUS)})
    message: str = Field(min_length=1)
    retry_after: int | None = Field(default=None, ge=1, description="`rate_limited`: the seconds to wait (as "
                                    "the Retry-After header says)")


class ErrorReply(Reply):
    """The one error shape of REST responses (handoff/errors.py)."""

    error: ErrorDetail
