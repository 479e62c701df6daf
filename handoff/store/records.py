"""What the store hands out: frozen records built from its rows, and the store's exceptions."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, overload


class Status(StrEnum):
    """A case's status; handoff/cases/lifecycle.py has the transitions allowed between them."""

    BOT = "bot"
    QUEUED = "queued"
    WITH_AGENT = "with_agent"
    RESOLVED = "resolved"
    ABANDONED = "abandoned"
    CANCELLED = "cancelled"


class Reason(StrEnum):
    """Why a case's timeline has an event (docs/protocol.md, "Timeline reasons")."""

    CONVERSATION_STARTED = "conversation_started"
    # the bot hands over (the case's escalation_reason)
    LOW_CONFIDENCE = "low_confidence"
    CUSTOMER_REQUEST = "customer_request"
    ANSWER_NOT_HELPFUL = "answer_not_helpful"
    NO_OFFERED_ARTICLE_FITS = "no_offered_article_fits"
    BOT_UNAVAILABLE = "bot_unavailable"
    BOT_BUSY = "bot_busy"  # the bot's queue was full and the customer took the offer of a person (issue 18)
    # the bot resolves
    ANSWER_HELPED = "answer_helped"
    GOODBYE = "goodbye"
    IDLE = "idle"
    # agents
    ACCEPTED = "accepted"
    ASSIGNED = "assigned"
    TRANSFERRED = "transferred"
    TRANSFERRED_TO_AGENT = "transferred_to_agent"
    AGENT_DISCONNECTED = "agent_disconnected"
    RETURNED_TO_BOT = "returned_to_bot"
    RESOLVED_BY_AGENT = "resolved_by_agent"
    CUSTOMER_LEFT = "customer_left"
    CANCELLED_SPAM = "cancelled_spam"
    CANCELLED_DUPLICATE = "cancelled_duplicate"
    CANCELLED_TEST = "cancelled_test"
    CANCELLED_OTHER = "cancelled_other"
    # events that change no status
    SLA_FIRST_RESPONSE_WARNING = "sla_first_response_warning"
    SLA_FIRST_RESPONSE_BREACHED = "sla_first_response_breached"
    SLA_RESOLUTION_WARNING = "sla_resolution_warning"
    SLA_RESOLUTION_BREACHED = "sla_resolution_breached"
    CONTACT_MERGED = "contact_merged"


HANDOFF_REASONS = frozenset({Reason.LOW_CONFIDENCE, Reason.CUSTOMER_REQUEST, Reason.ANSWER_NOT_HELPFUL,
                             Reason.NO_OFFERED_ARTICLE_FITS, Reason.BOT_UNAVAILABLE})
RESOLVE_REASONS = frozenset({Reason.ANSWER_HELPED, Reason.GOODBYE})
OPEN = frozenset({Status.BOT, Status.QUEUED, Status.WITH_AGENT})
CLOSED = frozenset({Status.RESOLVED, Status.ABANDONED, Status.CANCELLED})


def utcnow() -> datetime:
    return datetime.now(UTC)


@overload
def aware(value: datetime) -> datetime: ...
@overload
def aware(value: None) -> None: ...
def aware(value: datetime | None) -> datetime | None:
    """The time in UTC. Everything stored is UTC, and is handed out in UTC: SQLite hands back naive
    datetimes, psycopg (PostgreSQL's writer driver) ones in the session's time zone."""
    if value is None or value.tzinfo is UTC:
        return value
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


@dataclasses.dataclass(frozen=True)
class Identity:
    """A returning customer as the host site knows them, from its signed token (handoff/cases/identity.py)."""

    external_id: str
    name: str | None
    email: str | None
    token_id: str | None = None  # the token's jti: it starts one conversation at most
    expires_at: datetime | None = None  # until when the jti is kept as used


@dataclasses.dataclass(frozen=True)
class Agent:
    """A person who signs in to the panel: an agent, a supervisor (reports, contacts), an editor."""

    id: str
    username: str
    display_name: str
    password_hash: str
    roles: frozenset[str] = frozenset({"agent"})
    disabled_at: datetime | None = None  # a disabled account cannot sign in

    @property
    def active(self) -> bool:
        return self.disabled_at is None


def to_agent(row: Any) -> Agent:
    return Agent(row.id, row.username, row.display_name, row.password_hash, frozenset(row.roles.split(",")),
                 aware(row.disabled_at))


@dataclasses.dataclass(frozen=True)
class Contact:
    """A person who chats (the table ``customers``); anonymous while ``external_id`` is None."""

    id: str
    display_name: str
    channel: str
    created_at: datetime
    preferred: bool
    external_id: str | None
    email: str | None
    account_id: str | None


def to_contact(row: Any) -> Contact:
    return Contact(row.id, row.display_name, row.channel, aware(row.created_at), bool(row.preferred),
                   row.external_id, row.email, row.account_id)


@dataclasses.dataclass(frozen=True)
class Account:
    id: str
    name: str
    parent_id: str | None
    created_at: datetime


def to_account(row: Any) -> Account:
    return Account(row.id, row.name, row.parent_id, aware(row.created_at))


@dataclasses.dataclass(frozen=True)
class Entitlement:
    """A contract of a contact or (exclusive) of an account, active from ``starts_at`` until ``ends_at``."""

    id: str
    customer_id: str | None
    account_id: str | None
    name: str
    starts_at: datetime | None
    ends_at: datetime | None
    created_at: datetime

    def active(self, at: datetime) -> bool:
        return (self.starts_at is None or self.starts_at <= at) and (self.ends_at is None or at < self.ends_at)


def to_entitlement(row: Any) -> Entitlement:
    return Entitlement(row.id, row.customer_id, row.account_id, row.name, aware(row.starts_at),
                       aware(row.ends_at), aware(row.created_at))


@dataclasses.dataclass(frozen=True)
class Conversation:
    id: str
    number: int
    customer_id: str
    customer_name: str
    customer_preferred: bool
    channel: str
    locale: str
    status: Status
    resolution: str | None
    escalation_reason: str | None
    agent_id: str | None
    agent_name: str | None
    last_seq: int
    created_at: datetime
    queued_at: datetime | None
    last_activity_at: datetime
    survey_answered: bool
    queue: str | None = None
    priority: str | None = None
    resolution_category: str | None = None
    first_response_at: datetime | None = None
    first_response_due_at: datetime | None = None
    resolution_due_at: datetime | None = None
    first_response_sla: str | None = None
    resolution_sla: str | None = None
    title: str | None = None
    awaiting: str | None = None
    entitlement: str | None = None
    closed_at: datetime | None = None
    customer_external_id: str | None = None
    customer_account_id: str | None = None

    @property
    def status_reason(self) -> str:
        """The status as Dynamics names its status reasons: an agent's case awaiting the customer's
        answer is `waiting_for_customer`; a resolved one says by whom."""
        if self.status == Status.WITH_AGENT and self.awaiting == "customer":
            return "waiting_for_customer"
        if self.status == Status.RESOLVED:
            return f"resolved_by_{self.resolution}"
        return "with_bot" if self.status == Status.BOT else str(self.status)

    @property
    def state(self) -> str:
        """active, resolved or cancelled (abandoned cases count as cancelled, as in Dynamics)."""
        if self.status == Status.RESOLVED:
            return "resolved"
        return "cancelled" if self.status in (Status.ABANDONED, Status.CANCELLED) else "active"


@dataclasses.dataclass(frozen=True)
class Message:
    conversation_id: str
    seq: int
    sender: str
    sender_name: str
    text: str
    data: dict[str, Any]
    created_at: datetime
    client_id: str | None = None  # the id its client gave it, if any: a retried send is this message


@dataclasses.dataclass(frozen=True)
class Posted:
    """A stored message, and what its conversation was when the message was stored."""

    message: Message
    status: str
    agent_id: str | None
    first_response_at: datetime | None
    channel: str = "web"  # the conversation's, where the message is delivered (handoff/cases/channels.py)
    repeated: bool = False  # the message was stored before, under the same client id: nothing new was stored


@dataclasses.dataclass(frozen=True)
class CaseEvent:
    from_status: str | None
    to_status: str
    reason: str
    actor: str
    at: datetime


@dataclasses.dataclass(frozen=True)
class CaseArticle:
    article_id: str
    seq: int  # the bot's message that showed it
    shown_at: datetime
    helped: bool | None


@dataclasses.dataclass(frozen=True)
class Survey:
    rating: int
    comment: str | None
    agent_id: str | None  # the case's agent; None for a case the bot resolved
    created_at: datetime
    nps: int | None = None
    effort: int | None = None
    answered_via: str = "chat"  # chat or link


@dataclasses.dataclass(frozen=True)
class AuditEntry:
    """One staff action in the audit log: who (``actor_id``: the account, None for the command line;
    ``actor``: its username then, or ``cli``), what (``action`` on ``target``), when, with ``details``."""

    id: int
    at: datetime
    actor_id: str | None
    actor: str
    action: str
    target: str
    details: dict[str, Any]


class StaleStatus(Exception):
    """The conversation was not in the expected status any more (someone else changed it)."""


class LastOfRole(Exception):
    """A change would leave no active account with this role (`StaffQueries.change_agent`)."""

    def __init__(self, role: str) -> None:
        super().__init__(role)
        self.role = role


class AlreadyExists(Exception):
    """A row that may exist only once (a survey answer, a username) exists already."""
