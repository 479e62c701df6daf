"""What the staff's REST calls take (docs/protocol.md, "REST"): signing in, cases, the knowledge base,
contacts, accounts and entitlements, the editors' article files and publishing."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import ConfigDict, Field

from handoff.wire.fields import FileText, NullableText, OptionalText, Payload, QueryInteger, Text, Time

MAX_ARTICLE_TEXT = 200_000  # characters of an article file
MAX_QUESTION = 500
VERSION_LENGTH = 64
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


class ArticlesQuery(Payload):
    """`GET /api/articles`: ``q`` filters (every word of it, any case)."""

    q: str = Field("", max_length=MAX_QUESTION)


class CreateArticle(Payload):
    path: Annotated[str, Text(200)]
    text: Annotated[str, FileText(MAX_ARTICLE_TEXT)]


class CreateDraft(Payload):
    case_id: Annotated[str, Text(64)]


class UpdateArticle(Payload):
    text: Annotated[str, FileText(MAX_ARTICLE_TEXT)]
    version: Annotated[str, Text(VERSION_LENGTH)]


class AddQuestion(Payload):
    question: Annotated[str, Text(MAX_QUESTION)]
    version: Annotated[str | None, OptionalText(VERSION_LENGTH)] = None


class TryQuestion(Payload):
    question: Annotated[str, Text(MAX_QUESTION)]


class NoFields(Payload):
    """A call that takes no fields: no body, or ``{}``."""


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
}
REST_QUERIES: dict[str, type[Payload]] = {
    "GET /api/kb/search": KbSearchQuery,
    "GET /api/contacts": ContactsQuery,
    "GET /api/articles": ArticlesQuery,
}


def changed(payload: Payload) -> dict[str, object]:
    """The fields a PATCH sent, with their validated values."""
    return {name: getattr(payload, name) for name in payload.model_fields_set}

