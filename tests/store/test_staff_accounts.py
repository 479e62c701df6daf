"""The one owner of account changes (`StaffAccounts`) and sign-in (`AgentAuth`) on each store: disabled
accounts cannot sign in, a change that takes rights away ends the sessions, nobody leaves the desk without
an active supervisor, and a password stored at other parameters is hashed again on its next sign-in."""

from __future__ import annotations

import pytest

from handoff.errors import ApiError
from handoff.staff.accounts import AgentAuth, SessionsEnded
from handoff.staff.passwords import PasswordHasher
from handoff.staff.roster import StaffAccounts
from handoff.store.audit import AuditFilter
from handoff.store.sql import SqlCaseStore
from harness.servers import TEST_HASH_COST

GOOD = "correct horse battery"


async def test_disable_enable_roles_password_and_revoke(auth: AgentAuth, staff: StaffAccounts) -> None:
    heard: list[SessionsEnded] = []

    async def listen(event: SessionsEnded) -> None:
        heard.append(event)

    auth.sessions_ended.append(listen)
    boss = await staff.add("boss", GOOD, roles=("supervisor", "agent"))
    kim = await staff.add("kim", GOOD)
    token, _ = await auth.login("kim", GOOD)

    assert (await staff.disable("kim", by=boss)).disabled_at is not None
    assert heard[-1] == SessionsEnded(kim.id, None, "disabled")
    with pytest.raises(ApiError, match="invalid or expired"):
        await auth.authenticate(token)
    with pytest.raises(ApiError, match="disabled"):
        await auth.login("kim", GOOD)
    with pytest.raises(ApiError, match="wrong username or password"):  # only the right password hears why
        await auth.login("kim", "a wrong password")
    await staff.enable("kim", by=boss)
    token, _ = await auth.login("kim", GOOD)

    changed = await staff.set_roles("kim", ("agent", "editor"), by=boss)
    assert changed.roles == {"agent", "editor"} and heard[-1].reason == "roles_changed"
    with pytest.raises(ApiError, match="invalid or expired"):
        await auth.authenticate(token)
    token, _ = await auth.login("kim", GOOD)
    with pytest.raises(ApiError, match="must not be or contain the user name"):
        await staff.set_password("kim", "kim-and-more-letters", by=boss)
    await staff.set_password("kim", "another good passphrase", by=boss)
    with pytest.raises(ApiError, match="invalid or expired"):
        await auth.authenticate(token)
    with pytest.raises(ApiError, match="wrong username or password"):
        await auth.login("kim", GOOD)

    tokens = [(await auth.login("kim", "another good passphrase"))[0] for _ in range(2)]
    assert [a["sessions"] for a in await staff.accounts() if a["username"] == "kim"] == [2]
    _, ended = await staff.revoke("kim", by=boss)
    assert ended == 2 and heard[-1] == SessionsEnded(kim.id, None, "revoked")
    for revoked in tokens:
        with pytest.raises(ApiError, match="invalid or expired"):
            await auth.authenticate(revoked)
    with pytest.raises(ApiError, match="no account named 'ghost'"):
        await staff.disable("ghost")

    # Each change is in the audit log, by whom, on which account; no password in it.
    entries = await auth.audit.entries(AuditFilter(action="staff."), None, 50)
    assert [(e.actor, e.action, e.target) for e in reversed(entries)] == [
        ("cli", "staff.add", f"agent:{boss.id}"), ("cli", "staff.add", f"agent:{kim.id}"),
        *[("boss", f"staff.{verb}", f"agent:{kim.id}")
          for verb in ("disable", "enable", "roles", "password", "revoke")]]
    assert entries[0].details == {"sessions": 2}
    assert entries[2].details == {"before": ["agent"], "after": ["agent", "editor"]}
    assert not any(GOOD in str(e.details) or "passphrase" in str(e.details) for e in entries)


async def test_the_last_active_supervisor_stays(auth: AgentAuth, staff: StaffAccounts) -> None:
    boss = await staff.add("boss", GOOD, roles=("supervisor", "agent"))
    with pytest.raises(ApiError, match="boss is the last active supervisor") as refused:
        await staff.disable("boss")  # the command line, too
    assert refused.value.code == "conflict"
    with pytest.raises(ApiError, match="last active supervisor"):
        await staff.set_roles("boss", ("agent",))
    other = await staff.add("other", GOOD, roles=("supervisor",))
    with pytest.raises(ApiError, match="you cannot disable your own account"):  # on the page, not yourself
        await staff.disable("boss", by=boss)
    with pytest.raises(ApiError, match="you cannot take the supervisor role from yourself"):
        await staff.set_roles("boss", ("agent",), by=boss)
    await staff.disable("boss", by=other)  # another supervisor may
    with pytest.raises(ApiError, match="other is the last active supervisor"):
        await staff.set_roles("other", ("editor",))
    assert {a["username"]: a["disabled"] for a in await staff.accounts()} == {"boss": True, "other": False}
    with pytest.raises(ApiError, match="exists") as exists:
        await staff.add("other", GOOD)
    assert exists.value.code == "conflict"


async def test_the_first_account_follows_the_password_rules(staff: StaffAccounts) -> None:
    with pytest.raises(ApiError, match="must not be or contain the user name"):
        await staff.ensure_first("administrator", "administrator-2026")
    assert await staff.accounts() == []
    generated = await staff.ensure_first("root", None)
    assert generated and len(generated) >= 12


async def test_a_password_stored_at_other_parameters_is_hashed_again_on_sign_in(
        store: SqlCaseStore, staff: StaffAccounts) -> None:
    await staff.add("kim", GOOD)
    before = await store.agent_by_username("kim")
    assert before is not None and before.password_hash.startswith(f"scrypt${2**TEST_HASH_COST}$8$1$")
    stronger = AgentAuth(store, 1, PasswordHasher(TEST_HASH_COST + 1))  # password_hash_cost changed
    with pytest.raises(ApiError):
        await stronger.login("kim", "not the password")
    assert (await store.agent_by_username("kim")) == before  # a failed sign-in rehashes nothing
    await stronger.login("kim", GOOD)
    after = await store.agent_by_username("kim")
    assert after is not None and after.password_hash.startswith(f"scrypt${2**(TEST_HASH_COST + 1)}$8$1$")
    assert after.password_hash != before.password_hash
    await stronger.login("kim", GOOD)  # the new hash works, and stays
    assert (await store.agent_by_username("kim")) == after
