"""The staff's REST calls as OpenAPI operations (`operations`), made from the same maps that validate them
(`REST_BODIES`, `REST_QUERIES`, `REST_REPLIES` of staff.py): every staff route with a reply model. The
served document (connectors/mobile_api.py, ``GET /api/openapi.json``) holds them beside the customers'
calls, so that schemathesis can check the whole REST API against it (tests/test_fuzzing.py)."""

from __future__ import annotations

import re

from handoff.wire.openapi import Operation
from handoff.wire.staff import REST_BODIES, REST_QUERIES, REST_REPLIES

STAFF_TOKEN = "staffToken"
SECURITY_SCHEME = {"type": "http", "scheme": "bearer", "description": "The token `POST /api/agent/login` gave"}
# Routes that answer with another status than 200 on success.
STATUS = {
    "POST /api/accounts": 201,
    "POST /api/entitlements": 201,
    "POST /api/articles": 201,
    "POST /api/articles/drafts": 201,
    "POST /api/articles/{article_id}/questions": 201,
    "POST /api/kb/publish": 202,
}
OPEN = frozenset({"POST /api/agent/login", "GET /healthz"})  # no token needed
ERRORS = {400: "", 401: "", 403: "", 404: "", 409: ""}
LIMITED = {"POST /api/agent/login"}  # past a sign-in limit: 429 `rate_limited`
PATH_PARAMETERS = {name: {"type": "string", "minLength": 1, "maxLength": 200}
                   for name in ("contact_id", "account_id", "entitlement_id", "article_id")}


def _operation_id(method: str, path: str) -> str:
    words = [w for w in re.split(r"[/{}._-]+", path) if w and w != "api"]
    return method.lower() + "".join(w[:1].upper() + w[1:] for w in words)


def operations() -> tuple[Operation, ...]:
    """Every staff route of `REST_REPLIES`, with its body and query models."""
    found = []
    for key, reply in REST_REPLIES.items():
        method, path = key.split(" ", 1)
        found.append(Operation(
            method, path, _operation_id(method, path), f"Staff: {method} {path} (docs/protocol.md, REST)",
            reply, "Done", status=STATUS.get(key, 200), body=REST_BODIES.get(key), query=REST_QUERIES.get(key),
            errors=ERRORS | ({429: ""} if key in LIMITED else {}), security=None if key in OPEN else STAFF_TOKEN))
    return tuple(found)
