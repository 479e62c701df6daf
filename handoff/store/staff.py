"""Agents' accounts and sign-in sessions, and how many cases each agent holds: a mixin of `SqlCaseStore`
(handoff/store/sql.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from handoff.store.base import Queries
from handoff.store.records import Agent, AlreadyExists, Status, aware, to_agent, utcnow
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
        if row is None or aware(row.expires_at) <= utcnow():
            return None
        return to_agent(row)

    async def delete_session(self, token_hash: str) -> None:
        def write(conn: sa.Connection) -> Any:
            conn.execute(agent_sessions.delete().where(agent_sessions.c.token_hash == token_hash))
        await self._write(write)
