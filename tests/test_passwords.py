"""Staff passwords: the rules a new one must meet, each with its own message, and scrypt at OWASP's
parameters by default, on hashing threads of their own."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest

from handoff.settings import Settings, load_settings
from handoff.staff.passwords import DEFAULT_COST, PasswordHasher, WeakPassword, check_password, outdated
from handoff.web.keys import CONVERSATIONS
from harness.clients import sign_in
from harness.servers import TEST_HASH_COST, AppServer, free_port, served_app


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


async def test_a_changed_password_hash_cost_rehashes_on_the_next_sign_in(tmp_path: Path) -> None:
    """The app started again with another `password_hash_cost`: the first agent's hash (made at the tests' cost)
    is made again at the new one when they sign in, and still signs them in."""
    rasa = f"http://127.0.0.1:{free_port()}"

    def stored(app: AppServer) -> str:
        agent = app.run(lambda: app.app[CONVERSATIONS].store.agent_by_username("agent"))
        assert agent is not None
        return agent.password_hash

    with served_app(tmp_path, rasa) as app:
        assert stored(app).startswith(f"scrypt${2**TEST_HASH_COST}$8$1$")
    with served_app(tmp_path, rasa, {"CASEDESK_PASSWORD_HASH_COST": str(TEST_HASH_COST + 1)}) as app:
        assert stored(app).startswith(f"scrypt${2**TEST_HASH_COST}$8$1$")  # nothing changes before a sign-in
        await sign_in(app.url)
        assert stored(app).startswith(f"scrypt${2**(TEST_HASH_COST + 1)}$8$1$")
        await sign_in(app.url)
