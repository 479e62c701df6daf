"""The building blocks of the wire's models: the base classes and the field types every payload uses.

The rules are those clients have always been held to (docs/protocol.md):

- a payload is a JSON object with exactly the fields of its model (`Payload`: extra fields are refused);
- a text is a string, not blank, stripped of surrounding space (Python's notion of space, as the
  documents' pattern ``[^\\s\\x1c-\\x1f]`` says), at most so many characters *after* stripping;
  an optional text is also null or ``""`` (both mean none);
- an integer is a JSON integer (``4.0`` is one, as in JSON Schema; ``true`` and ``"4"`` are not);
- a boolean is ``true`` or ``false``; a time is ISO 8601 (without an offset, UTC).

A limit that comes from the settings (the message length) is the field's default in the schema and is
read at validation time from the validation context (``context={"max_message_length": n}``); the
OpenAPI document puts the server's own value in (`handoff.wire.openapi`, `SETTING`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Annotated, Any

from annotated_types import GroupedMetadata
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    ValidationError,
    ValidationInfo,
    ValidatorFunctionWrapHandler,
    WrapValidator,
)
from pydantic_core import PydanticCustomError

NOT_BLANK = "[^\\s\\x1c-\\x1f]"  # a character that is not space: the documents' pattern of a text
SETTING = "x-limit-setting"  # in a schema: the setting that holds the field's maxLength
MESSAGE_LENGTH = "max_message_length"
DEFAULT_MESSAGE_LENGTH = 2000


class Payload(BaseModel):
    """What a client sends: exactly these fields (an unknown one is refused), validated, frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Reply(BaseModel):
    """What the server answers: every field always present (null where the field allows it). A field
    named as a Python keyword (``from_``) has its JSON name as its alias."""

    model_config = ConfigDict(extra="forbid", frozen=True, serialize_by_alias=True)


def _stripped(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip()
    if not value:
        raise PydanticCustomError("invalid_payload", "must not be empty")
    return value


def _none_when_empty(value: Any) -> Any:
    return None if value == "" else value


def _limit(value: str | None, limit: int, code: str) -> str | None:
    if value is not None and len(value) > limit:
        raise PydanticCustomError(code, "must be at most {max_length} characters", {"max_length": limit})
    return value


class Text(GroupedMetadata):
    """``Annotated[str, Text(n)]``: a non-blank string of at most ``n`` characters once stripped.

    ``too_long``: the error code of a longer one; ``setting``: the setting that holds the limit
    (``max_message_length``: what customers and agents write), read from the validation context, ``n``
    being its default; ``pattern``: the schema's pattern (the documents' not-blank by default)."""

    def __init__(self, max_length: int, *, too_long: str = "invalid_payload", setting: str | None = None,
                 pattern: str = NOT_BLANK) -> None:
        self.max_length, self.too_long, self.setting, self.pattern = max_length, too_long, setting, pattern

    def schema(self) -> dict[str, Any]:
        schema: dict[str, Any] = {"type": "string", "maxLength": self.max_length, "pattern": self.pattern}
        return {**schema, SETTING: self.setting} if self.setting else schema

    def limited(self, value: str | None, info: ValidationInfo) -> str | None:
        limit = (info.context or {}).get(self.setting, self.max_length) if self.setting else self.max_length
        return _limit(value, limit, self.too_long)

    def __iter__(self) -> Iterator[Any]:
        yield Field(strict=True, json_schema_extra=self.schema())
        yield AfterValidator(_stripped)
        yield AfterValidator(self.limited)


class OptionalText(Text):
    """``Annotated[str | None, OptionalText(n)]``: `Text`, or null or ``""`` (both mean none: None)."""

    def __iter__(self) -> Iterator[Any]:
        yield Field(strict=True, json_schema_extra={"anyOf": [{"type": "null"}, {"const": ""}, self.schema()]})
        yield BeforeValidator(_none_when_empty)
        yield AfterValidator(_stripped)
        yield AfterValidator(self.limited)


class NullableText(Text):
    """``Annotated[str | None, NullableText(n)]``: `Text`, or null (an id that may be unset); ``""`` is not
    null but an empty text, refused."""

    def __iter__(self) -> Iterator[Any]:
        yield Field(strict=True, json_schema_extra={"anyOf": [{"type": "null"}, self.schema()]})
        yield AfterValidator(_stripped)
        yield AfterValidator(self.limited)


class FileText(GroupedMetadata):
    """``Annotated[str, FileText(n)]``: a whole file: a string, not blank, at most ``n`` characters, kept as
    sent but for a final newline, added when it is missing."""

    def __init__(self, max_length: int) -> None:
        self.max_length = max_length

    def check(self, value: str) -> str:
        if not value.strip():
            raise PydanticCustomError("invalid_payload", "must not be empty")
        _limit(value, self.max_length, "invalid_payload")
        return value if value.endswith("\n") else value + "\n"

    def __iter__(self) -> Iterator[Any]:
        yield Field(strict=True, json_schema_extra={"maxLength": self.max_length, "pattern": NOT_BLANK})
        yield AfterValidator(self.check)


CLIENT_ID = "^[A-Za-z0-9_-]{1,64}$"  # a message id a client chooses: a UUID, a ULID, base64url...


def _client_id(value: str | None) -> str | None:
    """A client id, stripped of surrounding space as every text is."""
    value = value.strip() if value is not None else None
    if value is not None and not re.fullmatch(CLIENT_ID[1:-1], value):
        raise PydanticCustomError("invalid_payload", "must be 1 to 64 letters, digits, - or _")
    return value


# ``client_id``: the id a client gives a message it sends, so that sending it again (after no answer came)
# stores it once: the same id in the same conversation is the same message (docs/protocol.md).
ClientId = Annotated[str | None, Field(
    None, strict=True, description="the client's id of the message: a send repeated with the same id in the "
                                   "same conversation is answered with the message stored the first time",
    json_schema_extra={"anyOf": [{"type": "null"}, {"type": "string", "pattern": CLIENT_ID, "maxLength": 64}]},
), AfterValidator(_client_id)]


def MessageText() -> Text:
    """What customers and agents write: at most the setting max_message_length (``message_too_long``)."""
    return Text(DEFAULT_MESSAGE_LENGTH, too_long="message_too_long", setting=MESSAGE_LENGTH)


def _json_integer(value: Any) -> Any:
    """As in JSON Schema, a number without a fraction (``4.0``) is an integer."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


class Integer(GroupedMetadata):
    """``Annotated[int, Integer(low, high)]`` (or ``int | None``): a JSON integer from ``low`` to ``high``."""

    def __init__(self, low: int, high: int) -> None:
        self.low, self.high = low, high

    def between(self, value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
        try:
            return handler(value)
        except ValidationError as exc:  # the constraints' own errors, named with both bounds
            if exc.errors()[0]["type"] in {"greater_than_equal", "less_than_equal"}:
                raise PydanticCustomError("invalid_payload", "must be between {low} and {high}",
                                          {"low": self.low, "high": self.high}) from None
            raise

    def __iter__(self) -> Iterator[Any]:
        yield Field(strict=True, ge=self.low, le=self.high)
        yield BeforeValidator(_json_integer)
        yield WrapValidator(self.between)


Bool = StrictBool


def _time(value: Any) -> datetime:
    if not isinstance(value, str):
        raise PydanticCustomError("invalid_payload", "must be an ISO 8601 time such as 2027-01-31T00:00:00Z")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise PydanticCustomError("invalid_payload",
                                  "must be an ISO 8601 time such as 2027-01-31T00:00:00Z") from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


# An ISO 8601 time in a request (a date alone is its midnight; without an offset, UTC).
Time = Annotated[datetime, BeforeValidator(_time), Field(json_schema_extra={"type": "string", "format": "date-time"})]

# A time in a reply: ISO 8601, UTC, as handoff.cases.views.iso writes it.
TimeOut = Annotated[str, Field(json_schema_extra={"format": "date-time"})]

QUERY_INTEGER = re.compile(r"[0-9]{1,10}")
QUERY_NUMBER = re.compile(r"-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?")  # JSON's number syntax


class QueryInteger(GroupedMetadata):
    """``Annotated[int, QueryInteger(low, high)]``: a query parameter, an integer in digits."""

    def __init__(self, low: int, high: int) -> None:
        self.low, self.high = low, high

    def parse(self, value: Any) -> int:
        if not isinstance(value, str) or not QUERY_INTEGER.fullmatch(value) or not self.low <= int(value) <= self.high:
            raise PydanticCustomError("invalid_payload", "must be an integer between {low} and {high}",
                                      {"low": self.low, "high": self.high})
        return int(value)

    def __iter__(self) -> Iterator[Any]:
        yield BeforeValidator(self.parse)
        yield Field(json_schema_extra={"minimum": self.low, "maximum": self.high})


class QueryNumber(QueryInteger):
    """``Annotated[float, QueryNumber(low, high)]``: a query parameter, a number of seconds in JSON's syntax."""

    def parse(self, value: Any) -> float:  # type: ignore[override]
        if not isinstance(value, str) or not QUERY_NUMBER.fullmatch(value) or not self.low <= float(value) <= self.high:
            raise PydanticCustomError("invalid_payload", "must be a number of seconds between {low} and {high}",
                                      {"low": f"{self.low:g}", "high": f"{self.high:g}"})
        return float(value)
