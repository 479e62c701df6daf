"""Validation of what clients send: each function returns clean values or raises ApiError."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from handoff.errors import ApiError


def fields(payload: Any, required: set[str], optional: set[str] = frozenset()) -> Mapping[str, Any]:  # type: ignore[assignment]
    """The payload as a mapping with exactly the allowed keys (all required ones present)."""
    if payload is None and not required:
        return {}
    if not isinstance(payload, dict):
        raise ApiError("invalid_payload", "payload: must be a JSON object")
    unknown = sorted(set(payload) - required - optional)
    if unknown:
        raise ApiError("invalid_payload", f"{unknown[0]}: unknown field")
    missing = sorted(required - set(payload))
    if missing:
        raise ApiError("invalid_payload", f"{missing[0]}: required")
    return payload


def text(payload: Mapping[str, Any], key: str, max_length: int, *, code: str = "invalid_payload") -> str:
    """A non-blank string of at most ``max_length`` characters, stripped of surrounding space."""
    value = payload.get(key)
    if not isinstance(value, str):
        raise ApiError("invalid_payload", f"{key}: must be a string")
    value = value.strip()
    if not value:
        raise ApiError("invalid_payload", f"{key}: must not be empty")
    if len(value) > max_length:
        raise ApiError(code, f"{key}: must be at most {max_length} characters")
    return value


def optional_text(payload: Mapping[str, Any], key: str, max_length: int) -> str | None:
    if payload.get(key) in (None, ""):
        return None
    return text(payload, key, max_length)


def integer(payload: Mapping[str, Any], key: str, low: int, high: int) -> int:
    """An integer from ``low`` to ``high``; as in JSON Schema, a number without a fraction (``4.0``) is one."""
    value = payload.get(key)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool):
        raise ApiError("invalid_payload", f"{key}: must be an integer")
    if not low <= value <= high:
        raise ApiError("invalid_payload", f"{key}: must be between {low} and {high}")
    return value


def boolean(payload: Mapping[str, Any], key: str) -> bool:
    value = payload.get(key)
    if not isinstance(value, bool):
        raise ApiError("invalid_payload", f"{key}: must be true or false")
    return value


def choice(payload: Mapping[str, Any], key: str, allowed: tuple[str, ...], default: str) -> str:
    value = payload.get(key, default)
    if value not in allowed:
        raise ApiError("invalid_payload", f"{key}: must be one of {', '.join(allowed)}")
    return str(value)


def optional_time(payload: Mapping[str, Any], key: str) -> datetime | None:
    """An ISO 8601 time (a date alone is its midnight, UTC; a time without an offset is UTC), or None."""
    value = payload.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ApiError("invalid_payload", f"{key}: must be an ISO 8601 time such as 2027-01-31T00:00:00Z")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ApiError("invalid_payload", f"{key}: must be an ISO 8601 time such as 2027-01-31T00:00:00Z") from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
