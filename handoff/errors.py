"""The one error shape of the app, for socket acknowledgements and REST responses (docs/protocol.md)."""

from __future__ import annotations

from typing import Any

HTTP_STATUS = {
    "invalid_payload": 400,
    "message_too_long": 400,
    "unknown_event": 400,
    "unauthorized": 401,
    "forbidden": 403,
    "not_found": 404,
    "conflict": 409,
    "internal": 500,
}


class ApiError(Exception):
    """A refused request. Raised anywhere below a boundary; the boundary turns it into the shape."""

    def __init__(self, code: str, message: str) -> None:
        if code not in HTTP_STATUS:
            raise ValueError(f"unknown error code {code!r}")
        super().__init__(message)
        self.code = code
        self.message = message

    @property
    def status(self) -> int:
        return HTTP_STATUS[self.code]

    def body(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message}}

    def ack(self) -> dict[str, Any]:
        return {"ok": False, **self.body()}


def ok(**result: Any) -> dict[str, Any]:
    return {"ok": True, **result}
