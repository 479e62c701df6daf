"""The one owner of every change to a staff account (`StaffAccounts`): adding one, the first one, disabling
and enabling, a new password, new roles, ending its sessions. The `casedesk agent` commands and the
supervisors' page both go through it, and it records each change in the audit log (``staff.add``,
``staff.disable``, ``staff.enable``, ``staff.password``, ``staff.roles``, ``staff.revoke`` on ``agent:ID``);
whoever else needs to know of a change listens to `StaffAccounts.changed`.

A change that takes rights away (disable, revoke, a new password, new roles) ends every session of the
account, and so every socket of it on every node (`AgentAuth.sessions_ended`). No change may leave no
active supervisor (`conflict`)."""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

from handoff.errors import ApiError
from handoff.staff.accounts import AGENT, ROLES, SUPERVISOR, AgentAuth, SessionsEnded, agent_view
from handoff.staff.passwords import PasswordHasher, WeakPassword, check_password
from handoff.store.records import Agent, AlreadyExists, LastOfRole, utcnow
from handoff.store.sql import SqlCaseStore

USERNAME_LENGTH, DISPLAY_NAME_LENGTH = 80, 120


@dataclass(frozen=True)
class AccountChange:
    """What changed: ``action`` (add, disable, enable, password, roles, revoke) on ``account`` (after the
    change), by ``by`` (None: the operator's command line)."""

    action: str
    account: Agent
    by: Agent | None
    detail: dict[str, Any]


Listener = Callable[[AccountChange], Awaitable[None]]


def parse_roles(roles: Iterable[str]) -> frozenset[str]:
    chosen = frozenset(roles)
    if not chosen or not chosen <= set(ROLES):
        raise ApiError("invalid_payload", f"roles: must be one or more of {', '.join(ROLES)}")
    return chosen


def account_view(agent: Agent, sessions: int = 0) -> dict[str, Any]:
    return {**agent_view(agent), "disabled": not agent.active,
            "disabled_at": agent.disabled_at.isoformat() if agent.disabled_at else None, "sessions": sessions}


class StaffAccounts:
    def __init__(self, store: SqlCaseStore, auth: AgentAuth) -> None:
        self._store = store
        self._auth = auth
        self._hasher: PasswordHasher = auth.hasher
        self.changed: list[Listener] = []  # told of every change, after it is stored

    async def accounts(self) -> list[dict[str, Any]]:
        """Every account with its state and how many sessions it has."""
        counts = await self._store.session_counts()
        return [account_view(agent, counts.get(agent.id, 0)) for agent in await self._store.agents()]

    async def by_id(self, agent_id: str) -> Agent | None:
        return await self._store.agent(agent_id)

    async def account(self, username: str) -> Agent:
        agent = await self._store.agent_by_username(username)
        if agent is None:
            raise ApiError("not_found", f"no account named {username!r}")
        return agent

    async def add(self, username: str, password: str, display_name: str | None = None,
                  roles: Iterable[str] = (AGENT,), by: Agent | None = None) -> Agent:
        username = username.strip()
        if not 0 < len(username) <= USERNAME_LENGTH or any(c.isspace() or not c.isprintable() for c in username):
            raise ApiError("invalid_payload", f"username: 1 to {USERNAME_LENGTH} characters, no spaces")
        display_name = (display_name or "").strip() or username
        if len(display_name) > DISPLAY_NAME_LENGTH:
            raise ApiError("invalid_payload", f"display_name: at most {DISPLAY_NAME_LENGTH} characters")
        chosen = parse_roles(roles)
        self._check(password, username)
        try:
            agent = await self._store.add_agent("a_" + secrets.token_hex(8), username, display_name,
                                                await self._hasher.hash(password), chosen)
        except AlreadyExists:
            raise ApiError("conflict", f"an account named {username!r} exists") from None
        await self._tell("add", agent, by, {"roles": sorted(chosen)})
        return agent

    async def ensure_first(self, username: str, password: str | None) -> str | None:
        """Create the first account, with every role, when there is none; return the password if we
        generated it (its owner must see it once, and nobody else: `casedesk` shows it on the terminal or
        writes it to a file only they can read)."""
        if await self._store.count_agents():
            return None
        generated = None if password else secrets.token_urlsafe(18)
        await self.add(username, password or generated or "", username.capitalize(), ROLES)
        return generated

    async def disable(self, username: str, by: Agent | None = None) -> Agent:
        """The account cannot sign in any more; its sessions and sockets end. Not the last active supervisor."""
        agent = await self.account(username)
        self._not_yourself(agent, by, "disable your own account")
        if not agent.active:
            return agent
        changed = await self._change(agent, {"disabled_at": utcnow()}, self._kept(agent, frozenset()))
        await self._end(changed, "disabled")
        await self._tell("disable", changed, by, {})
        return changed

    async def enable(self, username: str, by: Agent | None = None) -> Agent:
        agent = await self.account(username)
        if agent.active:
            return agent
        changed = await self._change(agent, {"disabled_at": None})
        await self._tell("enable", changed, by, {})
        return changed

    async def set_password(self, username: str, password: str, by: Agent | None = None) -> Agent:
        """A new password; the account's sessions end (sign in again with it)."""
        agent = await self.account(username)
        self._check(password, agent.username)
        changed = await self._change(agent, {"password_hash": await self._hasher.hash(password)})
        await self._end(changed, "password_changed")
        await self._tell("password", changed, by, {})
        return changed

    async def set_roles(self, username: str, roles: Iterable[str], by: Agent | None = None) -> Agent:
        """New roles; the account's sessions end (sign in again to use them). Not the last supervisor's."""
        agent = await self.account(username)
        chosen = parse_roles(roles)
        if chosen == agent.roles:
            return agent
        if SUPERVISOR not in chosen:
            self._not_yourself(agent, by, "take the supervisor role from yourself")
        changed = await self._change(agent, {"roles": chosen}, self._kept(agent, chosen))
        await self._end(changed, "roles_changed")
        await self._tell("roles", changed, by, {"before": sorted(agent.roles), "after": sorted(chosen)})
        return changed

    async def revoke(self, username: str, by: Agent | None = None) -> tuple[Agent, int]:
        """End every session of the account (it may sign in again); how many there were."""
        agent = await self.account(username)
        ended = await self._store.delete_sessions(agent.id)
        await self._end(agent, "revoked")
        await self._tell("revoke", agent, by, {"sessions": ended})
        return agent, ended

    # -- one way for each step ---------------------------------------------------------------------

    @staticmethod
    def _not_yourself(agent: Agent, by: Agent | None, what: str) -> None:
        """On the supervisors' page nobody locks themselves out by accident (the command line may)."""
        if by is not None and by.id == agent.id:
            raise ApiError("conflict", f"you cannot {what} here; another supervisor can")

    @staticmethod
    def _kept(agent: Agent, roles_after: frozenset[str]) -> str | None:
        """The role that must stay with some active account when ``agent`` is left with ``roles_after``."""
        return SUPERVISOR if SUPERVISOR in agent.roles and SUPERVISOR not in roles_after else None

    def _check(self, password: str, username: str) -> None:
        try:
            check_password(password, username)
        except WeakPassword as exc:
            raise ApiError("invalid_payload", str(exc)) from None

    async def _change(self, agent: Agent, values: dict[str, Any], keep_role: str | None = None) -> Agent:
        try:
            return await self._store.change_agent(agent.id, values, keep_role)
        except LastOfRole as exc:
            raise ApiError("conflict", f"{agent.username} is the last active {exc.role}: give another account"
                           f" the {exc.role} role first") from None

    async def _end(self, agent: Agent, reason: str) -> None:
        await self._auth.ended(SessionsEnded(agent.id, None, reason))

    async def _tell(self, action: str, agent: Agent, by: Agent | None, detail: dict[str, Any]) -> None:
        await self._auth.audit.record(by, f"staff.{action}", f"agent:{agent.id}", **detail)
        change = AccountChange(action, agent, by, detail)
        for listener in self.changed:
            await listener(change)
