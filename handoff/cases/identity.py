"""The host site's signed customer identity: who a returning customer is, as the site or app knows them.

The host's backend signs a short-lived JSON Web Token (HS256) with the secret it shares with casedesk
(``CASEDESK_IDENTITY_SECRET``) and hands it to the widget or the mobile app, which passes it when a
conversation starts, and again when it resumes a conversation that was started under an identity.
Claims: ``sub`` (the host's user id), ``aud`` (``identity_audience``), ``iat``, ``exp`` and ``jti`` (the
token's own id), all required; ``name`` and ``email`` optional. A customer can claim an identity only
with a token the host signed, no older than ``identity_max_age_seconds``; each token starts at most one
conversation (its ``jti`` is kept in the store until the token expires: `Conversations.start`).
"""

from __future__ import annotations

import dataclasses
import secrets
import time
from datetime import UTC, datetime

import jwt

from handoff.errors import ApiError
from handoff.store.records import Identity

ALGORITHM = "HS256"
LEEWAY_SECONDS = 30  # clocks of the host and of casedesk may differ this much
MIN_SECRET_LENGTH = 32
DEFAULT_AUDIENCE = "casedesk"
REQUIRED = ("sub", "aud", "iat", "exp", "jti")


@dataclasses.dataclass(frozen=True)
class Rules:
    """What a token must satisfy: the shared secret, the audience it is for, and how old it may be."""

    secret: str
    audience: str = DEFAULT_AUDIENCE
    max_age_seconds: float = 3600.0


def _claim(claims: dict[str, object], key: str, max_length: int) -> str | None:
    value = claims.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip() or len(value) > max_length:
        raise ApiError("invalid_payload", f"identity: claim {key} must be a string of 1 to {max_length} characters")
    return value.strip()


def verify(token: str, rules: Rules, *, check_age: bool = True) -> Identity:
    """The identity in ``token``, or `ApiError`: 401 for a bad signature, another audience, a token
    past its ``exp`` or (``check_age``) issued longer than ``max_age_seconds`` ago."""
    if not rules.secret:
        raise ApiError("invalid_payload", "identity: this server does not accept identity tokens "
                                          "(CASEDESK_IDENTITY_SECRET is not set)")
    try:
        claims = jwt.decode(token, rules.secret, algorithms=[ALGORITHM], leeway=LEEWAY_SECONDS,
                            audience=rules.audience, options={"require": list(REQUIRED)})
    except jwt.ExpiredSignatureError:
        raise ApiError("unauthorized", "identity: the token has expired") from None
    except jwt.InvalidAudienceError:
        raise ApiError("unauthorized", f"identity: the token is not for this server (aud must be "
                                       f"{rules.audience!r}, the setting identity_audience)") from None
    except jwt.InvalidTokenError as exc:
        raise ApiError("unauthorized", f"identity: the token is not valid ({exc})") from None
    issued, expires = claims["iat"], claims["exp"]
    if not isinstance(issued, int | float) or not isinstance(expires, int | float):
        raise ApiError("unauthorized", "identity: iat and exp must be numbers (seconds since 1970)")
    if check_age and time.time() - issued > rules.max_age_seconds + LEEWAY_SECONDS:
        raise ApiError("unauthorized", f"identity: the token is older than {rules.max_age_seconds:g} s "
                                       "(identity_max_age_seconds); sign a new one")
    external_id = _claim(claims, "sub", 200)
    token_id = _claim(claims, "jti", 200)
    assert external_id is not None and token_id is not None  # required above
    # kept as used until it could no longer be accepted anyway
    until = min(expires, issued + rules.max_age_seconds) + LEEWAY_SECONDS
    return Identity(external_id, _claim(claims, "name", 80), _claim(claims, "email", 200), token_id,
                    datetime.fromtimestamp(until, UTC))


def check_owner(owner: str | None, token: str | None, rules: Rules) -> None:
    """A conversation whose contact is known (``owner``, its ``sub``) opens only with a valid identity
    token of that same ``sub`` (its age and ``jti`` are not checked: the page presents the same token
    on every load and reconnection while it is valid); an anonymous contact's needs none."""
    if owner is None:
        return
    if token is None:
        raise ApiError("unauthorized", "identity: this conversation was started under a signed identity; "
                                       "send the customer's current identity token")
    if verify(token, rules, check_age=False).external_id != owner:
        raise ApiError("unauthorized", "identity: this conversation is another customer's")


def sign(external_id: str, secret: str, expires_in: int = 3600, *, audience: str = DEFAULT_AUDIENCE,
         issued_at: float | None = None, token_id: str | None = None, **claims: str) -> str:
    """A token as the host's backend makes one (for tests, and as the reference for integrators): a new
    ``jti`` each time, issued now (or at ``issued_at``), for ``audience``."""
    now = int(time.time() if issued_at is None else issued_at)
    payload = {"sub": external_id, "aud": audience, "iat": now, "exp": now + expires_in,
               "jti": token_id or secrets.token_urlsafe(16), **claims}
    return jwt.encode(payload, secret, algorithm=ALGORITHM)
