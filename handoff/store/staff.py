"""Agents' accounts and sign-in sessions, and how many cases each agent holds: a mixin of `SqlCaseStore`
(handoff/store/sql.py)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from handoff.store.base import Queries
from handoff.store.records import Agent, AlreadyExists, LastOfRole, Status, aware, to_agent, utcnow
from handoff.store.tables import agent_sessions, agents, conversations


class StaffQueries(Queries):
    """The agent and session methods of `SqlCaseStore`."""

    async def add_agent(self, agent_id: str, username: str, display_name: str, password_hash: str,
                        roles: frozenset[str] = frozenset({"agent"})) -> Agent:
        def write(conn: sa.Connection) -> Any:
            exists = conn.scalar(sa.select(agents.c.id).where(agents.c.username == username))
            if exists:
                raise AlreadyExists(f"agent {username!r} exists")
            conn.execute(agents.insert().values(
                id=agent_id, username=username, display_name=display_name,
                password_hash=password_hash, created_at=utcnow(), roles=",".join(sorted(roles)),
            ))
        await self._write(write)
        return Agent(agent_id, username, display_name, password_hash, roles)

    async def agent_by_username(self, username: str) -> Agent | None:
        async with self._engine.connect() as conn:
            row = (await conn.execute(sa.select(agents).where(agents.c.username == username))).first()
        return to_agent(row) if row else None

    async def agents(self) -> list[Agent]:
        """Every account, by username."""
        async with self._engine.connect() as conn:
            return [to_agent(row) for row in (await conn.execute(sa.select(agents).order_by(agents.c.username)))]

    async def change_agent(self, agent_id: str, values: Mapping[str, Any], keep_role: str | None = None) -> Agent:
        """Change the account's columns (``password_hash``, ``roles`` as a set, ``disabled_at``); with
        ``keep_role``, refused (`LastOfRole`, nothing changed) when no active account would have that role.
        Changing the roles, the password or disabling also ends the account's sessions, in the same
        transaction."""
        row_values = {key: ",".join(sorted(value)) if key == "roles" else value for key, value in values.items()}

        def write(conn: sa.Connection) -> Agent:
            conn.execute(agents.update().where(agents.c.id == agent_id).values(**row_values))
            if keep_role is not None:
                still = [r for r in conn.execute(sa.select(agents.c.roles).where(agents.c.disabled_at.is_(None)))
                         if keep_role in r.roles.split(",")]
                if not still:
                    raise LastOfRole(keep_role)
            if set(row_values) & {"password_hash", "roles"} or row_values.get("disabled_at") is not None:
                conn.execute(agent_sessions.delete().where(agent_sessions.c.agent_id == agent_id))
            return to_agent(conn.execute(sa.select(agents).where(agents.c.id == agent_id)).one())
        return await self._write(write)

    async def rehash_agent(self, agent_id: str, old_hash: str, new_hash: str) -> None:
        """Store a new hash of the same password (new parameters), unless the password changed meanwhile."""
        def write(conn: sa.Connection) -> Any:
            conn.execute(agents.update().where(agents.c.id == agent_id, agents.c.password_hash == old_hash)
                         .values(password_hash=new_hash))
        await self._write(write)

    async def agent(self, agent_id: str) -> Agent | None:
        async with self._engine.connect() as conn:
            row = (await conn.execute(sa.select(agents).where(agents.c.id == agent_id))).first()
        return to_agent(row) if row else None

    async def agent_loads(self) -> dict[str, int]:
        """Agent id -> how many conversations they hold now."""
        query = (
            sa.select(conversations.c.agent_id, sa.func.count())
            .where(conversations.c.status == Status.WITH_AGENT, conversations.c.agent_id.is_not(None))
            .group_by(conversations.c.agent_id)
        )
        async with self._engine.connect() as conn:
            return {row[0]: int(row[1]) for row in (await conn.execute(query)).all()}

    async def count_agents(self) -> int:
        async with self._engine.connect() as conn:
            return int(await conn.scalar(sa.select(sa.func.count()).select_from(agents)) or 0)

    async def add_session(self, token_hash: str, agent_id: str, expires_at: datetime) -> None:
        def write(conn: sa.Connection) -> Any:
            conn.execute(agent_sessions.insert().values(
                token_hash=token_hash, agent_id=agent_id, created_at=utcnow(), expires_at=expires_at,
            ))
        await self._write(write)

    async def agent_for_session(self, token_hash: str) -> Agent | None:
        query = (
            sa.select(agents, agent_sessions.c.expires_at)
            .join(agent_sessions, agent_sessions.c.agent_id == agents.c.id)
            .where(agent_sessions.c.token_hash == token_hash)
        )
        async with self._engine.connect() as conn:
            row = (await conn.execute(query)).first()
        if row is None or aware(row.expires_at) <= utcnow() or row.disabled_at is not None:
            return None
        return to_agent(row)

    async def live_sessions(self, token_hashes: Sequence[str]) -> set[str]:
        """Those of ``token_hashes`` that are sessions now: not ended, not expired, of an active account."""
        query = (
            sa.select(agent_sessions.c.token_hash)
            .join(agents, agent_sessions.c.agent_id == agents.c.id)
            .where(agent_sessions.c.token_hash.in_(list(token_hashes)), agent_sessions.c.expires_at > utcnow(),
                   agents.c.disabled_at.is_(None))
        )
        async with self._engine.connect() as conn:
            return {row[0] for row in (await conn.execute(query)).all()}

    async def expired_sessions(self, token_hashes: Sequence[str]) -> set[str]:
        """Those of ``token_hashes`` that are sessions past their expiry (not ended otherwise)."""
        query = sa.select(agent_sessions.c.token_hash).where(
            agent_sessions.c.token_hash.in_(list(token_hashes)), agent_sessions.c.expires_at <= utcnow())
        async with self._engine.connect() as conn:
            return {row[0] for row in (await conn.execute(query)).all()}

    async def session_counts(self) -> dict[str, int]:
        """Agent id -> how many sessions (not expired) the account has."""
        query = (sa.select(agent_sessions.c.agent_id, sa.func.count()).where(agent_sessions.c.expires_at > utcnow())
                 .group_by(agent_sessions.c.agent_id))
        async with self._engine.connect() as conn:
            return {row[0]: int(row[1]) for row in (await conn.execute(query)).all()}

    async def delete_session(self, token_hash: str) -> None:
        def write(conn: sa.Connection) -> Any:
            conn.execute(agent_sessions.delete().where(agent_sessions.c.token_hash == token_hash))
        await self._write(write)

    async def delete_sessions(self, agent_id: str) -> int:
        """End every session of the account; how many there were."""
        def write(conn: sa.Connection) -> int:
            return int(conn.execute(agent_sessions.delete().where(agent_sessions.c.agent_id == agent_id)).rowcount)
        return await self._write(write)
