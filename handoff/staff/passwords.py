"""Staff passwords: the policy a new password must meet (`check_password`), and scrypt hashes at OWASP's
parameters (Password Storage Cheat Sheet: N=2^17, r=8, p=1), computed on a small thread pool of their own
(`PasswordHasher`), never the default executor where the bot's searches run."""

from __future__ import annotations

import asyncio
import base64
import concurrent.futures
import functools
import hashlib
import hmac
import secrets

# scrypt's cost: N = 2**cost. OWASP's is 17 (about 0.44 s and 128 MiB per hash here); a lower one only for
# tests (setting `password_hash_cost`).
DEFAULT_COST, MIN_COST, MAX_COST = 17, 14, 20
_R, _P, _DKLEN = 8, 1, 32
MIN_LENGTH = 12
# A user name this short is only refused as the whole password, not as a part of it.
MIN_NAME_IN_PASSWORD = 3
# Hashing threads: two sign-ins at once at most; the rest wait their turn, the event loop and the default
# executor (the bot's searches) do not.
_POOL = concurrent.futures.ThreadPoolExecutor(max_workers=2, thread_name_prefix="password-hash")


class WeakPassword(ValueError):
    """A new password breaks one of the rules; the message says which."""


@functools.cache
def _common() -> frozenset[str]:
    """The 30,000 most common passwords of zxcvbn's frequency list (shipped in the package), lower case."""
    from zxcvbn.frequency_lists import FREQUENCY_LISTS

    return frozenset(FREQUENCY_LISTS["passwords"])


def check_password(password: str, username: str) -> None:
    """Refuse a password shorter than 12 characters, equal to or containing the user name (any case), or
    among the common passwords; `WeakPassword` names the rule."""
    if len(password) < MIN_LENGTH:
        raise WeakPassword(f"password: must be at least {MIN_LENGTH} characters (it has {len(password)})")
    lowered, name = password.casefold(), username.strip().casefold()
    if name and (lowered == name or (len(name) >= MIN_NAME_IN_PASSWORD and name in lowered)):
        raise WeakPassword("password: must not be or contain the user name")
    if lowered in _common() or "".join(lowered.split()) in _common():
        raise WeakPassword("password: is one of the most common passwords; choose another")


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int, dklen: int) -> bytes:
    return hashlib.scrypt(password.encode("utf-8", "surrogatepass"), salt=salt, n=n, r=r, p=p, dklen=dklen,
                          maxmem=2 * 128 * r * n + 1024 * 1024)


def hash_password(password: str, cost: int = DEFAULT_COST) -> str:
    """``scrypt$N$r$p$salt$digest`` (base64), N = 2**cost."""
    salt = secrets.token_bytes(16)
    n = 2**cost
    digest = _scrypt(password, salt, n, _R, _P, _DKLEN)
    b64 = base64.b64encode
    return f"scrypt${n}${_R}${_P}${b64(salt).decode()}${b64(digest).decode()}"


def verify_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.b64decode(digest)
        actual = _scrypt(password, base64.b64decode(salt), int(n), int(r), int(p), len(expected))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)


def outdated(stored: str, cost: int) -> bool:
    """Whether a stored hash was made with other parameters than the current ones (then rehash it)."""
    return not stored.startswith(f"scrypt${2**cost}${_R}${_P}$")


class PasswordHasher:
    """Hashes and checks passwords at one cost (setting `password_hash_cost`) on the hashing threads."""

    def __init__(self, cost: int = DEFAULT_COST) -> None:
        self.cost = cost
        self._dummy: str | None = None

    async def hash(self, password: str) -> str:
        return await asyncio.get_running_loop().run_in_executor(_POOL, hash_password, password, self.cost)

    async def verify(self, password: str, stored: str | None) -> bool:
        """Whether ``password`` is the one of ``stored``; with None (no such account) it checks against a
        dummy hash of the same cost, so the time taken does not tell which names exist."""
        if stored is None:
            self._dummy = self._dummy or await self.hash(secrets.token_urlsafe(16))
            stored = self._dummy
            await asyncio.get_running_loop().run_in_executor(_POOL, verify_password, password, stored)
            return False
        return await asyncio.get_running_loop().run_in_executor(_POOL, verify_password, password, stored)

    def outdated(self, stored: str) -> bool:
        return outdated(stored, self.cost)
