"""The host site's signed customer identity: who a returning customer is, as the site or app knows them.

The host's backend signs a short-lived JSON Web Token (HS256) with the secret it shares with casedesk
(``CASEDESK_IDENTITY_SECRET``) and hands it to the widget or the mobile app, which passes it when a
conversation starts. Claims: ``sub`` (the host's user id, required), ``exp`` (required), ``name`` and
``email`` (optional). A customer can claim an identity only with a token the host signed.
"""

from __future__ import annotations

import time

import jwt

from handoff.errors import ApiError
from handoff.store.records import Identity

ALGORITHM = "HS256"
LEEWAY_SECONDS = 30  # clocks of the host and of casedesk may differ this much
MIN_SECRET_LENGTH = 32


def _claim(claims: dict[str, object], key: str, max_length: int) -> str | None:
    value = claims.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip() or len(value) > max_length:
        raise ApiError("invalid_payload", f"identity: claim {key} must be a string of 1 to {max_length} characters")
    return value.strip()


def verify(token: str, secret: str) -> Identity:
    """The identity in ``token``, or `ApiError` (401 for a bad signature or an expired token)."""
    if not secret:
        raise ApiError("invalid_payload", "identity: this server does not accept identity tokens "
                                          "(CASEDESK_IDENTITY_SECRET is not set)")
    try:
        claims = jwt.decode(token, secret, algorithms=[ALGORITHM], leeway=LEEWAY_SECONDS,
                            options={"require": ["sub", "exp"]})
    except jwt.ExpiredSignatureError:
        raise ApiError("unauthorized", "identity: the token has expired") from None
    except jwt.InvalidTokenError as exc:
        raise ApiError("unauthorized", f"identity: the token is not valid ({exc})") from None
    external_id = _claim(claims, "sub", 200)
    assert external_id is not None  # required above
    return Identity(external_id, _claim(claims, "name", 80), _claim(claims, "email", 200))


def sign(external_id: str, secret: str, expires_in: int = 3600, **claims: str) -> str:
    """A token as the host's backend makes one (for tests, and as the reference for integrators)."""
    payload = {"sub": external_id, "exp": int(time.time()) + expires_in, **claims}
    return jwt.encode(payload, secret, algorithm=ALGORITHM)
