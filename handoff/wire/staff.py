"""What the staff's REST calls take and answer (docs/protocol.md, "REST"): signing in, cases, the
knowledge base, contacts, accounts and entitlements, the editors' article files and publishing."""

from __future__ import annotations

import re
from datetime import date, timedelta
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, ConfigDict, Field, ValidationInfo, model_validator
from pydantic_core import PydanticCustomError

from handoff.wire.editorial import (
    AddQuestion,
    ArticleReply,
    Articles,
    ArticlesQuery,
    CreateArticle,
    CreateDraft,
    DraftReply,
    LastPublish,
    Publishes,
    PublishReply,
    RolledBack,
    Tried,
    TryQuestion,
    UpdateArticle,
)
from handoff.wire.fields import NullableText, OptionalText, Payload, QueryInteger, Reply, Text, Time, TimeOut
from handoff.wire.replies import Case, CaseSummary, Channel, Message
from handoff.wire.staff_accounts import (
    AddStaff,
    NewPassword,
    NewRoles,
    Revoked,
    Role,
    StaffList,
    StaffReply,
)
from handoff.wire.staff_accounts import (
    StaffAccount as StaffAccount,  # the staff accounts' models (wire/staff_accounts.py) are the staff's too
)

Id = Annotated[str, Text(40)]
NullableId = Annotated[str | None, NullableText(40)]


class Login(Payload):
    username: Annotated[str, Text(80)]
    password: Annotated[str, Text(200)]


class CancelReason(StrEnum):
    SPAM = "spam"
    DUPLICATE = "duplicate"
    TEST = "test"
    OTHER = "other"


class CancelCase(Payload):
    reason: CancelReason


class LenientQuery(Payload):
    """Query parameters of a call that ignores those it does not know."""

    model_config = ConfigDict(extra="ignore")


class KbSearchQuery(LenientQuery):
    """`GET /api/kb/search`."""

    q: Annotated[str, Text(500)]
    k: Annotated[int, QueryInteger(1, 20)] = 3


class ContactsQuery(LenientQuery):
    """`GET /api/contacts`."""

    q: Annotated[str, Text(200)]


class UpdateContact(Payload):
    """`PATCH /api/contacts/{contact_id}`: only the fields sent change."""

    display_name: Annotated[str, Text(80)] = None  # type: ignore[assignment]  # left out: unchanged
    email: Annotated[str | None, OptionalText(200)] = None
    preferred: bool = Field(None, strict=True)  # type: ignore[assignment]
    account_id: NullableId = None


class MergeContacts(Payload):
    into: Id


class AddAccount(Payload):
    name: Annotated[str, Text(120)]
    parent_id: NullableId = None


class UpdateAccount(Payload):
    """`PATCH /api/accounts/{account_id}`: only the fields sent change."""

    name: Annotated[str, Text(120)] = None  # type: ignore[assignment]  # left out: unchanged
    parent_id: NullableId = None


class AddEntitlement(Payload):
    name: Annotated[str, Text(80)]
    contact_id: NullableId = None
    account_id: NullableId = None
    starts_at: Time | None = None
    ends_at: Time | None = None


class NoFields(Payload):
    """A call that takes no fields: no body, or ``{}``."""


DEFAULT_REPORT_DAYS = 30
MAX_REPORT_DAYS = 366
REPORT_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _given(value: Any) -> Any:
    """A query parameter stripped of surrounding space; an empty one is not given."""
    if isinstance(value, str):
        value = value.strip()
    return value or None


def _day(value: Any) -> date | None:
    value = _given(value)
    if value is None:
        return None
    if not isinstance(value, str) or not REPORT_DATE.fullmatch(value):
        raise PydanticCustomError("invalid_payload", "must be a date as YYYY-MM-DD")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise PydanticCustomError("invalid_payload", "{value} is no date", {"value": value}) from None


Day = Annotated[date | None, BeforeValidator(_day),
                Field(json_schema_extra={"type": "string", "format": "date"})]


class ReportQuery(Payload):
    """The period and filters of a report or an export (docs/reports.md): UTC days, both included (by
    default the 30 days up to today, at most 366); an empty parameter means any. Today comes from the
    validation context (``{"today": date}``)."""

    from_: Day = Field(None, alias="from")
    to: Day = None
    channel: Annotated[Channel | None, BeforeValidator(_given)] = None
    queue: Annotated[Annotated[str, Field(max_length=40)] | None, BeforeValidator(_given)] = None

    def period(self, today: date) -> tuple[date, date]:
        last = self.to or today
        return self.from_ or last - timedelta(days=DEFAULT_REPORT_DAYS - 1), last

    @model_validator(mode="after")
    def _a_period(self, info: ValidationInfo) -> ReportQuery:
        first, last = self.period((info.context or {}).get("today") or date.today())
        if first > last:
            raise PydanticCustomError("invalid_payload", "from: must not be after to")
        if (last - first).days + 1 > MAX_REPORT_DAYS:
            raise PydanticCustomError("invalid_payload", "from, to: a period is at most {days} days",
                                      {"days": MAX_REPORT_DAYS})
        return self


class TopicsQuery(ReportQuery):
    """The topics report also takes a tag."""

    tag: Annotated[Annotated[str, Field(max_length=80)] | None, BeforeValidator(_given)] = None


class AuditExportQuery(Payload):
    """`GET /api/audit.csv`: the audit log's filters (docs/security.md, "Authorization by need"): UTC days, both
    included (none: from the first entry, to the last); each filter given must match, ``action`` exactly or,
    ending with a dot (``case.``), every action under it."""

    from_: Day = Field(None, alias="from")
    to: Day = None
    actor: Annotated[Annotated[str, Field(max_length=80)] | None, BeforeValidator(_given)] = None
    action: Annotated[Annotated[str, Field(max_length=40)] | None, BeforeValidator(_given)] = None
    target: Annotated[Annotated[str, Field(max_length=120)] | None, BeforeValidator(_given)] = None

    @model_validator(mode="after")
    def _a_period(self) -> AuditExportQuery:
        if self.from_ and self.to and self.from_ > self.to:
            raise PydanticCustomError("invalid_payload", "from: must not be after to")
        return self


class AuditQuery(AuditExportQuery):
    """`GET /api/audit`: the filters, and a page: ``limit`` entries, newest first, older than the entry
    ``before`` (the previous page's ``next_before``)."""

    before: Annotated[int, QueryInteger(1, 9_999_999_999)] = None  # type: ignore[assignment]  # none: the newest
    limit: Annotated[int, QueryInteger(1, 500)] = 100


# The REST calls' bodies and queries, by "METHOD path" as docs/protocol.md's rows name them.
REST_BODIES: dict[str, type[Payload]] = {
    "POST /api/agent/login": Login,
    "POST /api/cases/{conversation_id}/cancel": CancelCase,
    "PATCH /api/contacts/{contact_id}": UpdateContact,
    "POST /api/contacts/{contact_id}/merge": MergeContacts,
    "POST /api/accounts": AddAccount,
    "PATCH /api/accounts/{account_id}": UpdateAccount,
    "POST /api/entitlements": AddEntitlement,
    "POST /api/articles": CreateArticle,
    "PUT /api/articles/{article_id}": UpdateArticle,
    "POST /api/articles/{article_id}/questions": AddQuestion,
    "POST /api/articles/drafts": CreateDraft,
    "POST /api/kb/try": TryQuestion,
    "POST /api/kb/publish": NoFields,
    "POST /api/kb/rollback": NoFields,
    "POST /api/staff": AddStaff,
    "PUT /api/staff/{agent_id}/password": NewPassword,
    "PUT /api/staff/{agent_id}/roles": NewRoles,
}
REST_QUERIES: dict[str, type[Payload]] = {
    "GET /api/reports/{name}": ReportQuery,  # the topics report's is TopicsQuery: with tag
    "GET /api/reports/cases.csv": ReportQuery,
    "GET /api/reports/surveys.csv": ReportQuery,
    "GET /api/kb/search": KbSearchQuery,
    "GET /api/contacts": ContactsQuery,
    "GET /api/articles": ArticlesQuery,
    "GET /api/audit": AuditQuery,
    "GET /api/audit.csv": AuditExportQuery,
}


def changed(payload: Payload) -> dict[str, object]:
    """The fields a PATCH sent, with their validated values."""
    return {name: getattr(payload, name) for name in payload.model_fields_set}


# -- replies ---------------------------------------------------------------------------------------


class AgentView(Reply):
    """**Agent**: an account and what it may do."""

    id: str
    username: str
    display_name: str
    roles: list[Role]


class Signed(Reply):
    token: str
    agent: AgentView


class Hit(Reply):
    """A knowledge base search's hit, with the article as plain text for the agent to insert."""

    article_id: str
    title: str
    url: str | None
    score: float
    matched: str
    answer: str


class Hits(Reply):
    hits: list[Hit]


class Contact(Reply):
    id: str
    display_name: str
    email: str | None
    external_id: str | None
    known: bool
    account_id: str | None
    preferred: bool
    channel: Channel
    created_at: TimeOut


class Account(Reply):
    id: str
    name: str
    parent_id: str | None
    created_at: TimeOut


class Entitlement(Reply):
    id: str
    name: str
    contact_id: str | None
    account_id: str | None
    starts_at: TimeOut | None
    ends_at: TimeOut | None
    active: bool


class ContactDetail(Contact):
    accounts: list[Account]
    entitlements: list[Entitlement]
    cases: list[CaseSummary]


class AccountDetail(Account):
    parents: list[Account]
    children: list[Account]
    contacts: list[Contact]
    entitlements: list[Entitlement]


class Contacts(Reply):
    contacts: list[Contact]


class ContactReply(Reply):
    contact: ContactDetail


class Merged(Reply):
    contact: ContactDetail
    moved_cases: int = Field(ge=0)


class AccountReply(Reply):
    account: Account


class AccountDetailReply(Reply):
    account: AccountDetail


class EntitlementReply(Reply):
    entitlement: Entitlement


class CaseDetail(Reply):
    """`GET /api/cases/{conversation_id}`: the case and every message, private notes included."""

    case: Case
    messages: list[Message]


class CaseReply(Reply):
    case: CaseSummary


class IndexState(Reply):
    articles: int = Field(ge=0)
    model: str
    multilingual_model: str | None
    version: str


class Health(Reply):
    """`GET /healthz`."""

    status: Literal["ok"]
    rasa: Literal["up", "down"]
    index: IndexState


class DeletedRows(Reply):
    contact_id: str
    cases: int = Field(ge=0)
    rows: dict[str, int]


class Deleted(Reply):
    """`DELETE /api/contacts/{contact_id}`: what went, in one transaction."""

    deleted: DeletedRows


class Done(Reply):
    ok: Literal[True]


class AuditEntry(Reply):
    """**AuditEntry**: one staff action: who (``actor_id``: the account, null for the command line;
    ``actor``: its username then, or ``cli``), what (``action`` on ``target``), when, and its details."""

    id: int
    at: TimeOut
    actor_id: str | None
    actor: str
    action: str
    target: str
    details: dict[str, Any]


class AuditEntries(Reply):
    entries: list[AuditEntry]
    next_before: int | None  # the next page's ``before``; null on the last page


# The REST calls' replies (of status 2xx), by "METHOD path", where they are the wire's.
REST_REPLIES: dict[str, type[Reply]] = {
    "POST /api/agent/login": Signed,
    "POST /api/agent/logout": Done,
    "GET /api/cases/{conversation_id}": CaseDetail,
    "POST /api/cases/{conversation_id}/cancel": CaseReply,
    "GET /api/kb/search": Hits,
    "GET /api/contacts": Contacts,
    "GET /api/contacts/{contact_id}": ContactReply,
    "PATCH /api/contacts/{contact_id}": ContactReply,
    "POST /api/contacts/{contact_id}/merge": Merged,
    "POST /api/accounts": AccountReply,
    "GET /api/accounts/{account_id}": AccountDetailReply,
    "PATCH /api/accounts/{account_id}": AccountDetailReply,
    "POST /api/entitlements": EntitlementReply,
    "DELETE /api/entitlements/{entitlement_id}": Done,
    "GET /api/articles": Articles,
    "GET /api/articles/{article_id}": ArticleReply,
    "POST /api/articles": ArticleReply,
    "PUT /api/articles/{article_id}": ArticleReply,
    "POST /api/articles/{article_id}/questions": ArticleReply,
    "POST /api/articles/drafts": DraftReply,
    "POST /api/kb/try": Tried,
    "GET /healthz": Health,
    "POST /api/kb/publish": PublishReply,
    "GET /api/kb/publish": LastPublish,
    "GET /api/kb/publishes": Publishes,
    "POST /api/kb/rollback": RolledBack,
    "DELETE /api/contacts/{contact_id}": Deleted,
    "GET /api/staff": StaffList,
    "POST /api/staff": StaffReply,
    "POST /api/staff/{agent_id}/disable": StaffReply,
    "POST /api/staff/{agent_id}/enable": StaffReply,
    "POST /api/staff/{agent_id}/revoke": Revoked,
    "PUT /api/staff/{agent_id}/password": StaffReply,
    "PUT /api/staff/{agent_id}/roles": StaffReply,
    "GET /api/audit": AuditEntries,
}
