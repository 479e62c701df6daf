"""Staff passwords: the rules a new one must meet, each with its own message, and scrypt at OWASP's
parameters by default, on hashing threads of their own."""

from __future__ import annotations

import asyncio
import re
import threading

import pytest

from handoff.settings import Settings, load_settings
from handoff.staff.passwords import DEFAULT_COST, PasswordHasher, WeakPassword, check_password, outdated


@pytest.mark.parametrize(("password", "username", "message"), [
    ("short pass", "kim", "at least 12 characters (it has 10)"),
    ("kimberley-jones", "kimberley-jones", "must not be or contain the user name"),
    ("KIMBERLEY-JONES", "kimberley-jones", "must not be or contain the user name"),
    ("my name is Kimberley-Jones!", "kimberley-jones", "must not be or contain the user name"),
    ("qwerty123456", "kim", "is one of the most common passwords"),
    ("1qaz2wsx3edc", "kim", "is one of the most common passwords"),
    ("LeaveMeAlone", "kim", "is one of the most common passwords"),
])
def test_a_weak_password_is_refused_with_the_rule_it_breaks(password: str, username: str, message: str) -> None:
    with pytest.raises(WeakPassword, match=re.escape(message)):
        check_password(password, username)


@pytest.mark.parametrize(("password", "username"), [
    ("correct horse battery", "kim"),
    ("a-name-of-its-own", "al"),  # a name under three characters is refused only as the whole password
    ("kim-s lighthouse 7", "kimberley"),
])
def test_a_good_password_passes(password: str, username: str) -> None:
    check_password(password, username)


def test_the_default_cost_is_owasps_and_hashing_leaves_the_default_executor_alone() -> None:
    """OWASP's Password Storage Cheat Sheet: scrypt with N=2^17, r=8, p=1. Hashing runs on the hashing
    threads: the loop's default executor (where the bot's searches run) is never even created."""
    assert Settings().password_hash_cost == load_settings(None, {}).password_hash_cost == DEFAULT_COST == 17

    async def hash_and_verify() -> tuple[str, bool, bool, object]:
        hasher = PasswordHasher()
        stored = await hasher.hash("correct horse battery")
        good = await hasher.verify("correct horse battery", stored)
        bad = await hasher.verify("correct horse batterz", stored)
        return stored, good, bad, asyncio.get_running_loop()._default_executor  # type: ignore[attr-defined]

    stored, good, bad, default_executor = asyncio.run(hash_and_verify())
    assert stored.startswith(f"scrypt${2**17}$8$1$") and (good, bad) == (True, False)
    assert default_executor is None
    assert not outdated(stored, 17) and outdated(stored, 14)
    assert not any(t.name.startswith("asyncio_") for t in threading.enumerate())
