"""Agent accounts and sign-in: scrypt password hashes, opaque session tokens stored as digests."""

from __future__ import annotations

import asyncio
import base64
import functools
import hashlib
import hmac
import secrets
import time
from datetime import timedelta
from typing import Any

from handoff.errors import ApiError
from handoff.staff.audit import AuditLog
from handoff.store.records import Agent, AlreadyExists, utcnow
from handoff.store.sql import SqlCaseStore

_N, _R, _P = 2**14, 8, 1
# A session checked against the store is trusted this long by this process before the next check; a
# sign-out through this process ends it at once, through another node within this time.
RECHECK_SECONDS = 5.0
# What an account may do: take and handle cases in the panel; see reports and manage contacts, accounts
# and entitlements; edit the knowledge base.
AGENT, SUPERVISOR, EDITOR = "agent", "supervisor", "editor"
ROLES = (AGENT, SUPERVISOR, EDITOR)


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=_N, r=_R, p=_P, dklen=32)
    b64 = base64.b64encode
    return f"scrypt${_N}${_R}${_P}${b64(salt).decode()}${b64(digest).decode()}"


def verify_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.b64decode(digest)
        actual = hashlib.scrypt(
            password.encode(), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p),
            dklen=len(expected),
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)


def token_digest(token: str) -> str:
    """What the store keeps of a bearer token (agent session or conversation token)."""
    return hashlib.sha256(token.encode()).hexdigest()


def agent_view(agent: Agent) -> dict[str, Any]:
    return {"id": agent.id, "username": agent.username, "display_name": agent.display_name,
            "roles": sorted(agent.roles)}


class AgentAuth:
    def __init__(self, store: SqlCaseStore, session_hours: float, audit: AuditLog | None = None) -> None:
        self._store = store
        self.audit = audit or AuditLog(store)  # sign-in and sign-out are recorded there
        self._session_hours = session_hours
        self._checked: dict[str, tuple[Agent, float]] = {}  # token digest -> agent, when checked (monotonic)

    async def add(self, username: str, password: str, display_name: str | None = None,
                  roles: frozenset[str] = frozenset({AGENT})) -> Agent:
        if len(password) < 8:
            raise ValueError("password: must be at least 8 characters")
        if not roles or not roles <= set(ROLES):
            raise ValueError(f"roles: must be some of {', '.join(ROLES)}")
        try:
            password_hash = await asyncio.to_thread(hash_password, password)
            return await self._store.add_agent("a_" + secrets.token_hex(8), username, display_name or username,
                                               password_hash, roles)
        except AlreadyExists as exc:
            raise ValueError(str(exc)) from None

    async def ensure_first_agent(self, username: str, password: str | None) -> str | None:
        """Create the first account, with every role, when there is none; return the password if we
        generated it."""
        if await self._store.count_agents():
            return None
        generated = None if password else secrets.token_urlsafe(12)
        await self.add(username, password or generated or "", display_name=username.capitalize(),
                       roles=frozenset(ROLES))
        return generated

    async def login(self, username: str, password: str) -> tuple[str, Agent]:
        agent = await self._store.agent_by_username(username)
        # Verify against a dummy hash for unknown names, so timing does not reveal which names exist.
        stored = agent.password_hash if agent else _dummy_hash()
        if not await asyncio.to_thread(verify_password, password, stored) or agent is None:
            raise ApiError("unauthorized", "wrong username or password")
        token = secrets.token_urlsafe(32)
        expires = utcnow() + timedelta(hours=self._session_hours)
        await self._store.add_session(token_digest(token), agent.id, expires)
        await self.audit.record(agent, "auth.sign_in", f"agent:{agent.id}")
        return token, agent

    async def authenticate(self, token: object, role: str = AGENT, *others: str) -> Agent:
        """The account signed in with ``token``, if it has ``role`` or one of the ``others``."""
        agent = await self._signed_in(token)
        wanted = (role, *others)
        if agent.roles.isdisjoint(wanted):
            needed = " or ".join(wanted)
            raise ApiError("forbidden", f"this needs the {needed} role, which {agent.username} does not have")
        return agent

    async def _signed_in(self, token: object) -> Agent:
        if not isinstance(token, str) or not token:
            raise ApiError("unauthorized", "sign in first: no agent token was given")
        digest = token_digest(token)
        checked = self._checked.get(digest)
        if checked is not None and time.monotonic() - checked[1] < RECHECK_SECONDS:
            return checked[0]
        agent = await self._store.agent_for_session(digest)
        if agent is None:
            self._checked.pop(digest, None)
            raise ApiError("unauthorized", "sign in again: the agent token is invalid or expired")
        self._checked[digest] = (agent, time.monotonic())
        return agent

    async def logout(self, token: str) -> None:
        agent = await self._signed_in(token)
        digest = token_digest(token)
        self._checked.pop(digest, None)
        await self._store.delete_session(digest)
        await self.audit.record(agent, "auth.sign_out", f"agent:{agent.id}")


@functools.cache
def _dummy_hash() -> str:
    return hash_password(secrets.token_urlsafe(16))
