"""The one mapping of the models' validation errors to the one error shape (handoff/errors.py).

Both boundaries use it: the REST error middleware (handoff/web/api.py) and the socket namespaces'
(handoff/web/boundary.py), so a payload is refused with the same code and message over REST and a
socket. The first error is reported, as ``<field>: <what is wrong>``; an error raised by a field's own
check (`PydanticCustomError` whose type is an `ApiError` code, such as ``message_too_long``) keeps its
code, every other one is ``invalid_payload``. Which error is first: the payload not being an object,
then an unknown field, then a missing one, then the others in the order of the model's fields.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import ValidationError

from handoff.errors import HTTP_STATUS, ApiError

QUERY_SUFFIX = "Query"  # models of query parameters are named so: their unknown fields are parameters

_MESSAGES = {
    "missing": "required",
    "string_type": "must be a string",
    "int_type": "must be an integer",
    "int_from_float": "must be an integer",
    "int_parsing": "must be an integer",
    "bool_type": "must be true or false",
    "bool_parsing": "must be true or false",
    "float_type": "must be a number",
    "list_type": "must be a list",
    "dict_type": "must be a JSON object",
    "model_type": "must be a JSON object",
    "model_attributes_type": "must be a JSON object",
}
_FIRST = ("model_type", "model_attributes_type", "dict_type", "extra_forbidden", "missing")


def _rank(error: Any) -> tuple[int, str]:
    kind = error["type"]
    order = _FIRST.index(kind) if kind in _FIRST else len(_FIRST)
    # Unknown and missing fields in the order of their names; the others in the model's order.
    return order, _where(error["loc"]) if kind in ("extra_forbidden", "missing") else ""


def _where(loc: tuple[Any, ...]) -> str:
    return ".".join(str(part) for part in loc) or "payload"


def _choices(expected: str) -> str:
    return ", ".join(re.findall(r"'([^']*)'", expected)) or expected


def api_error(exc: ValidationError) -> ApiError:
    """The refusal of a payload, a body or query parameters that do not validate."""
    error = min(exc.errors(include_url=False), key=_rank)
    kind, ctx = error["type"], error.get("ctx") or {}
    where = _where(error["loc"])
    if kind in HTTP_STATUS:  # a field's own check, with the code it asks for (a model's check names its fields)
        return ApiError(kind, f"{where}: {error['msg']}" if error["loc"] else error["msg"])
    if kind == "extra_forbidden":
        noun = "parameter" if exc.title.endswith(QUERY_SUFFIX) else "field"
        return ApiError("invalid_payload", f"{where}: unknown {noun}")
    if kind in ("literal_error", "enum"):
        return ApiError("invalid_payload", f"{where}: must be one of {_choices(str(ctx.get('expected', '')))}")
    if kind in ("too_long", "string_too_long"):
        return ApiError("invalid_payload", f"{where}: must be at most {ctx.get('max_length')} characters")
    if kind in ("too_short", "string_too_short"):
        return ApiError("invalid_payload", f"{where}: must not be empty")
    if kind in ("greater_than_equal", "greater_than"):
        return ApiError("invalid_payload", f"{where}: must be at least {ctx.get('ge', ctx.get('gt'))}")
    if kind in ("less_than_equal", "less_than"):
        return ApiError("invalid_payload", f"{where}: must be at most {ctx.get('le', ctx.get('lt'))}")
    return ApiError("invalid_payload", f"{where}: {_MESSAGES.get(kind, error['msg'])}")
