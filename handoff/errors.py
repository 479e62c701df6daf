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
    "rate_limited": 429,
    "internal": 500,
}


class ApiError(Exception):
    """A refused request. Raised anywhere below a boundary; the boundary turns it into the shape."""

    def __init__(self, code: str, message: str, retry_after: int | None = None) -> None:
        if code not in HTTP_STATUS:
            raise ValueError(f"unknown error code {code!r}")
        super().__init__(message)
        self.code = code
        self.message = message
        self.retry_after = retry_after  # seconds, for `rate_limited` (and REST's Retry-After header)

    @property
    def status(self) -> int:
        return HTTP_STATUS[self.code]

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.retry_after is not None:
            error["retry_after"] = self.retry_after
        return {"error": error}

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)} if self.retry_after is not None else {}

    def ack(self) -> dict[str, Any]:
        return {"ok": False, **self.body()}


def ok(**result: Any) -> dict[str, Any]:
    return {"ok": True, **result}
