"""Who is connected, to which app process (node): a mixin of `SqlCaseStore` (handoff/store/sql.py) on the
tables `nodes` and `connections`, shared by every node through the database."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from handoff.store.base import Queries
from handoff.store.records import Agent, to_agent, utcnow
from handoff.store.tables import agents, connections, nodes


class PresenceQueries(Queries):
    """The presence methods of `SqlCaseStore`."""

    async def heartbeat(self, node_id: str, stale_before: datetime) -> None:
        """The node is alive; forget the connections of nodes not seen since ``stale_before``."""
        now = utcnow()
        def write(conn: sa.Connection) -> Any:
            updated = conn.execute(nodes.update().where(nodes.c.id == node_id).values(seen_at=now))
            if updated.rowcount == 0:
                conn.execute(nodes.insert().values(id=node_id, seen_at=now))
            dead = sa.select(nodes.c.id).where(nodes.c.seen_at < stale_before)
            conn.execute(connections.delete().where(connections.c.node_id.in_(dead)))
            conn.execute(nodes.delete().where(nodes.c.seen_at < stale_before))
        await self._write(write)

    async def forget_node(self, node_id: str | None = None) -> None:
        """Drop one node's connections (it stops), or every node's (the only node starts)."""
        def write(conn: sa.Connection) -> Any:
            if node_id is None:
                conn.execute(connections.delete())
                conn.execute(nodes.delete())
            else:
                conn.execute(connections.delete().where(connections.c.node_id == node_id))
                conn.execute(nodes.delete().where(nodes.c.id == node_id))
        await self._write(write)

    async def add_connection(self, node_id: str, sid: str, kind: str, subject_id: str,
                             availability: str | None = None, session_hash: str | None = None) -> None:
        # a socket bound again (a second resume) is one connection
        def write(conn: sa.Connection) -> Any:
            conn.execute(connections.delete().where(connections.c.node_id == node_id, connections.c.sid == sid))
            conn.execute(connections.insert().values(
                node_id=node_id, sid=sid, kind=kind, subject_id=subject_id, availability=availability,
                connected_at=utcnow(), session_hash=session_hash,
            ))
        await self._write(write)

    async def remove_connection(self, node_id: str, sid: str) -> None:
        def write(conn: sa.Connection) -> Any:
            conn.execute(connections.delete().where(connections.c.node_id == node_id,
                                                          connections.c.sid == sid))
        await self._write(write)

    async def set_connection_availability(self, agent_id: str, availability: str) -> None:
        def write(conn: sa.Connection) -> Any:
            conn.execute(connections.update().where(connections.c.kind == "agent",
                                                          connections.c.subject_id == agent_id)
                               .values(availability=availability))
        await self._write(write)

    async def agent_sockets(self, agent_id: str, session_hashes: Sequence[str] | None = None) -> list[str]:
        """The sids of the agent's sockets on every node (only those of ``session_hashes``, when given)."""
        query = sa.select(connections.c.sid).where(connections.c.kind == "agent",
                                                   connections.c.subject_id == agent_id)
        if session_hashes is not None:
            query = query.where(connections.c.session_hash.in_(list(session_hashes)))
        async with self._engine.connect() as conn:
            return [row[0] for row in (await conn.execute(query)).all()]

    async def connected(self, kind: str, subject_id: str | None = None) -> dict[str, str | None]:
        """Subject id -> availability (the last one set) of everyone of ``kind`` connected anywhere."""
        query = sa.select(connections.c.subject_id, connections.c.availability).where(connections.c.kind == kind)
        if subject_id is not None:
            query = query.where(connections.c.subject_id == subject_id)
        async with self._engine.connect() as conn:
            rows = (await conn.execute(query.order_by(connections.c.connected_at))).all()
        return {row[0]: row[1] for row in rows}

    async def online_agents(self) -> list[tuple[Agent, str | None]]:
        """The agents connected anywhere, with their availability."""
        query = (
            sa.select(agents, connections.c.availability)
            .join(connections, sa.and_(connections.c.kind == "agent", connections.c.subject_id == agents.c.id))
            .order_by(connections.c.connected_at)
        )
        async with self._engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        found: dict[str, tuple[Agent, str | None]] = {}
        for r in rows:
            found[r.id] = (to_agent(r), r.availability)
        return list(found.values())
