"""`casedesk agent add|list|disable|enable|passwd|roles|revoke` as operators run them (`python -m handoff`,
a process each) on a real database, and the first account's generated password: on the terminal only, else
in a file only its owner can read, never on standard output."""

from __future__ import annotations

import asyncio
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from handoff import cli
from handoff.errors import ApiError
from handoff.settings import load_settings
from handoff.staff.accounts import AgentAuth
from handoff.staff.passwords import PasswordHasher
from handoff.store.sql import SqlCaseStore
from harness.clients import sign_in
from harness.servers import PASSWORD, ROOT, TEST_HASH_COST, app_env, free_port, start_app


def casedesk(env: dict[str, str], *args: str, password: str | None = None) -> subprocess.CompletedProcess[str]:
    extra = {"CASEDESK_NEW_AGENT_PASSWORD": password} if password else {}
    return subprocess.run([sys.executable, "-m", "handoff", *args], cwd=ROOT, env={**env, **extra},
                          capture_output=True, text=True, stdin=subprocess.DEVNULL)


def test_the_agent_commands_on_a_database(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Each verb once. The command as operators run it (`python -m handoff`, a process) for one change and one
    refusal: its exit status and output streams; the other verbs through the same `cli.main` in this process
    (arguments, settings from the same environment, output and exit status), since a process each costs a
    second or more. The rules behind them are tested in-process (tests/store/test_staff_accounts.py,
    tests/test_passwords.py)."""
    env, db_path = app_env(tmp_path, f"http://127.0.0.1:{free_port()}")
    url = f"sqlite+aiosqlite:///{db_path}"

    def run(*args: str, password: str | None = None) -> tuple[int, str, str]:
        capsys.readouterr()
        code = cli.main(list(args), {**env, **({"CASEDESK_NEW_AGENT_PASSWORD": password} if password else {})})
        out, err = capsys.readouterr()
        return code, out, err

    def ok(*args: str, password: str | None = None) -> str:
        code, out, err = run(*args, password=password)
        assert code == 0, err
        return out

    def refused(*args: str, password: str | None = None) -> str:
        code, out, err = run(*args, password=password)
        assert code == 1 and not out, (code, out, err)
        return err

    async def login(username: str, password: str) -> str:
        store = await SqlCaseStore.open(url)
        try:
            token, _ = await AgentAuth(store, 1, PasswordHasher(TEST_HASH_COST)).login(username, password)
            return token
        finally:
            await store.close()

    added = casedesk(env, "agent", "add", "boss", "--role", "supervisor", "--role", "agent", password=PASSWORD)
    assert (added.returncode, added.stdout) == (0, "agent boss added (agent, supervisor)\n"), added
    ok("agent", "add", "kim", "--display-name", "Kim K", password=PASSWORD)
    for _ in range(2):
        asyncio.run(login("kim", PASSWORD))

    listing = ok("agent", "list").splitlines()
    assert listing[0].split() == ["username", "display", "name", "roles", "state", "sessions"]
    assert [line.split() for line in listing[1:]] == [
        ["boss", "boss", "agent,supervisor", "active", "0"], ["kim", "Kim", "K", "agent", "active", "2"]]

    assert ok("agent", "revoke", "kim") == "2 sessions of kim ended\n"
    assert ok("agent", "disable", "kim").startswith("agent kim disabled")
    with pytest.raises(ApiError, match="this account is disabled"):
        asyncio.run(login("kim", PASSWORD))
    assert ok("agent", "enable", "kim") == "agent kim enabled\n"
    asyncio.run(login("kim", PASSWORD))

    ok("agent", "passwd", "kim", password="a new long passphrase")
    with pytest.raises(ApiError, match="wrong username or password"):
        asyncio.run(login("kim", PASSWORD))
    asyncio.run(login("kim", "a new long passphrase"))

    assert ok("agent", "roles", "kim", "--role", "editor", "--role", "agent").startswith("roles of kim: agent, editor")
    last = casedesk(env, "agent", "disable", "boss")
    assert last.returncode == 1 and not last.stdout, last
    assert "boss is the last active supervisor" in last.stderr
    assert "must not be or contain the user name" in refused("agent", "add", "kimberly", password="kimberly-2026!")


def test_the_generated_first_password_goes_to_a_file_only_its_owner_reads(tmp_path: Path) -> None:
    """No terminal on standard output (a service's log): the password is in a 0600 file, not in the output."""
    secret_file = tmp_path / "secret" / "first-password"
    app = start_app(tmp_path / "app", f"http://127.0.0.1:{free_port()}", {
        "CASEDESK_FIRST_AGENT_PASSWORD": "", "CASEDESK_FIRST_AGENT_PASSWORD_FILE": str(secret_file)})
    try:
        password = secret_file.read_text().strip()
        assert len(password) >= 12 and stat.S_IMODE(secret_file.stat().st_mode) == 0o600
        assert password not in "".join(app.output)
        assert f"its password is in {secret_file}" in "".join(app.output)
        asyncio.run(sign_in(app.url, "agent", password))
    finally:
        app.stop()


def test_on_a_terminal_the_first_password_is_shown_and_no_file_is_written(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    settings = load_settings(None, {}, first_agent_password_file=str(tmp_path / "pw"))
    cli.hand_over_first_password(settings, "shown-on-the-terminal", terminal=True)
    assert "agent / shown-on-the-terminal (shown once" in capsys.readouterr().out
    assert not (tmp_path / "pw").exists()
    (tmp_path / "pw").write_text("old")
    (tmp_path / "pw").chmod(0o644)  # a file there before keeps no other mode
    cli.hand_over_first_password(settings, "in-the-file-only", terminal=False)
    assert "in-the-file-only" not in capsys.readouterr().out
    assert (tmp_path / "pw").read_text() == "in-the-file-only\n"
    assert stat.S_IMODE((tmp_path / "pw").stat().st_mode) == 0o600
