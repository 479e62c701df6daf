"""Sign-in: sessions as opaque tokens whose digests the store keeps, checked on every call
(`AgentAuth.authenticate`), ended by signing out, by expiry or by a change to the account
(handoff/staff/roster.py); whoever holds sockets of a session listens to `AgentAuth.sessions_ended`.
A sign-in stores the same password hashed again when the stored hash has other parameters than
``password_hash_cost``'s: the one write to an account outside `StaffAccounts`, and no change of it."""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from handoff.errors import ApiError
from handoff.staff.audit import AuditLog
from handoff.staff.passwords import PasswordHasher
from handoff.store.records import Agent, utcnow
from handoff.store.sql import SqlCaseStore

# A session checked against the store is trusted this long by this process before the next check; a
# sign-out through this process ends it at once, through another node within this time.
RECHECK_SECONDS = 5.0
# What an account may do: take and handle cases in the panel; see reports and manage contacts, accounts
# and entitlements; edit the knowledge base.
AGENT, SUPERVISOR, EDITOR = "agent", "supervisor", "editor"
ROLES = (AGENT, SUPERVISOR, EDITOR)


def token_digest(token: str) -> str:
    """What the store keeps of a bearer token (agent session or conversation token)."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def agent_view(agent: Agent) -> dict[str, Any]:
    return {"id": agent.id, "username": agent.username, "display_name": agent.display_name,
            "roles": sorted(agent.roles)}


@dataclass(frozen=True)
class SessionsEnded:
    """Sessions of one account ended: those of ``session_hashes`` (a sign-out), or all of them (None: the
    account was disabled, its sessions revoked, its password or roles changed)."""

    agent_id: str
    session_hashes: tuple[str, ...] | None
    reason: str  # signed_out, disabled, revoked, password_changed, roles_changed


Listener = Callable[[SessionsEnded], Awaitable[None]]


class AgentAuth:
    def __init__(self, store: SqlCaseStore, session_hours: float, hasher: PasswordHasher | None = None,
                 audit: AuditLog | None = None) -> None:
        self._store = store
        self._session_hours = session_hours
        self.hasher = hasher or PasswordHasher()
        self.audit = audit or AuditLog(store)  # sign-in, sign-out and account changes are recorded there
        self._checked: dict[str, tuple[Agent, float]] = {}  # token digest -> agent, when checked (monotonic)
        # Called after sessions end (the web layer ends their sockets on every node).
        self.sessions_ended: list[Listener] = []

    async def login(self, username: str, password: str) -> tuple[str, Agent]:
        agent = await self._store.agent_by_username(username)
        # A dummy hash for unknown names, so timing does not reveal which names exist.
        if not await self.hasher.verify(password, agent.password_hash if agent else None) or agent is None:
            raise ApiError("unauthorized", "wrong username or password")
        if not agent.active:
            raise ApiError("unauthorized", "this account is disabled; ask a supervisor")
        if self.hasher.outdated(agent.password_hash):  # made at other parameters: store it at today's
            await self._store.rehash_agent(agent.id, agent.password_hash, await self.hasher.hash(password))
        token = secrets.token_urlsafe(32)
        expires = utcnow() + timedelta(hours=self._session_hours)
        await self._store.add_session(token_digest(token), agent.id, expires)
        await self.audit.record(agent, "auth.sign_in", f"agent:{agent.id}")
        return token, agent

    async def authenticate(self, token: object, role: str = AGENT, *others: str, fresh: bool = False) -> Agent:
        """The account signed in with ``token``, if it has ``role`` or one of the ``others``; ``fresh``: ask
        the store, whatever this process checked lately."""
        agent = await self._signed_in(token, fresh)
        wanted = (role, *others)
        if agent.roles.isdisjoint(wanted):
            needed = " or ".join(wanted)
            raise ApiError("forbidden", f"this needs the {needed} role, which {agent.username} does not have")
        return agent

    async def _signed_in(self, token: object, fresh: bool) -> Agent:
        if not isinstance(token, str) or not token:
            raise ApiError("unauthorized", "sign in first: no agent token was given")
        digest = token_digest(token)
        checked = self._checked.get(digest)
        if not fresh and checked is not None and time.monotonic() - checked[1] < RECHECK_SECONDS:
            return checked[0]
        agent = await self._store.agent_for_session(digest)
        if agent is None:
            self._checked.pop(digest, None)
            raise ApiError("unauthorized", "sign in again: the agent token is invalid or expired")
        self._checked[digest] = (agent, time.monotonic())
        return agent

    async def logout(self, token: str) -> None:
        """End this session (every role may); its sockets end on every node."""
        agent = await self._signed_in(token, fresh=True)
        digest = token_digest(token)
        await self._store.delete_session(digest)
        await self.audit.record(agent, "auth.sign_out", f"agent:{agent.id}")
        await self.ended(SessionsEnded(agent.id, (digest,), "signed_out"))

    def forget(self, session_hash: str) -> None:
        """Check this session against the store next time (its socket was ended)."""
        self._checked.pop(session_hash, None)

    async def ended(self, event: SessionsEnded) -> None:
        """Sessions ended in the store: forget them here and tell the listeners."""
        for digest, (agent, _) in list(self._checked.items()):
            if agent.id == event.agent_id and (event.session_hashes is None or digest in event.session_hashes):
                del self._checked[digest]
        for listener in self.sessions_ended:
            await listener(event)
