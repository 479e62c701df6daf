"""Who is connected, on every app process (node) sharing the store: agents with their availability, and
customers. Agents' sockets sit in their own room (`agent_room`) and in the rooms of the queues they may
take (`queue_room`). A change of the agents available is announced (`AgentsChanged`): queue places and
automatic assignment listen. When a customer or an agent was first seen gone is kept for the sweeper."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Any

import socketio

from handoff.cases.events import AgentsChanged, Signal
from handoff.cases.routing import Routing
from handoff.store.records import Agent, utcnow
from handoff.store.sql import SqlCaseStore

AGENT = "/agent"  # the agents' socket.io namespace
AVAILABLE = "available"
AVAILABILITY = (AVAILABLE, "busy", "away")


def agent_room(agent_id: str) -> str:
    """All sockets of one agent (namespace /agent)."""
    return f"agent:{agent_id}"


def queue_room(queue: str) -> str:
    """The sockets of every agent who may take the queue's cases (namespace /agent)."""
    return f"queue:{queue}"


class Presence:
    def __init__(self, store: SqlCaseStore, sio: socketio.AsyncServer, routing: Routing,
                 sweep_interval_seconds: float) -> None:
        self.store = store
        self._sio = sio
        self._routing = routing
        self._sweep_interval_seconds = sweep_interval_seconds
        # This node's sockets are named by `node_id`. When this node first saw a customer (conversation
        # id) or an agent gone, for the sweep:
        self.node_id = "n_" + secrets.token_hex(6)
        self._customer_left_at: dict[str, datetime] = {}
        self._agent_left_at: dict[str, datetime] = {}
        self.agents_changed: Signal[AgentsChanged] = Signal()

    async def node_started(self, alone: bool) -> None:
        """Join the nodes sharing the store. The only node forgets every connection of an earlier run."""
        if alone:
            await self.store.forget_node()
        await self.heartbeat()

    async def heartbeat(self) -> None:
        """This node is alive; a node silent for three sweeps is gone, and its connections with it."""
        silent = timedelta(seconds=3 * self._sweep_interval_seconds)
        await self.store.heartbeat(self.node_id, utcnow() - silent)

    async def node_stopped(self) -> None:
        await self.store.forget_node(self.node_id)

    async def available_agents(self) -> list[Agent]:
        """The agents signed in (on any node) and available."""
        return [agent for agent, availability in await self.store.online_agents() if availability == AVAILABLE]

    # -- agents ------------------------------------------------------------------------------------

    async def agent_connected(self, agent: Agent, sid: str, session_hash: str | None = None,
                              own_room: bool = True) -> None:
        """Put the agent's new socket (of the sign-in ``session_hash``) in its rooms: its own (unless not
        ``own_room``: a socket that resumes enters it when it resumes), and the queues it may take."""
        if own_room:
            await self._sio.enter_room(sid, agent_room(agent.id), namespace=AGENT)
        for queue in self._routing.queues_of(agent.username):
            await self._sio.enter_room(sid, queue_room(queue.name), namespace=AGENT)
        already = await self.store.connected("agent", agent.id)
        # A further socket (another tab, a reconnect) keeps the availability the agent set last.
        availability = next(reversed(already.values()), None) or AVAILABLE
        await self.store.add_connection(self.node_id, sid, "agent", agent.id, availability, session_hash)
        self._agent_left_at.pop(agent.id, None)
        if not already:  # every queued customer's expected wait changes
            await self.agents_changed.notify(AgentsChanged())

    async def agent_disconnected(self, agent_id: str, sid: str) -> None:
        await self.store.remove_connection(self.node_id, sid)
        if not await self.store.connected("agent", agent_id):
            self._agent_left_at[agent_id] = utcnow()
            await self.agents_changed.notify(AgentsChanged())

    async def colleagues(self, agent: Agent) -> list[dict[str, Any]]:
        """The other agents signed in now (for a transfer), with their availability."""
        return [{"username": a.username, "display_name": a.display_name, "availability": availability}
                for a, availability in await self.store.online_agents() if a.id != agent.id]

    async def set_availability(self, agent: Agent, availability: str) -> str:
        """An agent says whether they take conversations now (available) or not (busy, away)."""
        if set((await self.store.connected("agent", agent.id)).values()) != {availability}:
            await self.store.set_connection_availability(agent.id, availability)
            await self.agents_changed.notify(AgentsChanged())
        return availability

    def agent_gone_since(self, agent_id: str, now: datetime) -> datetime:
        """When this node first saw the agent gone (after a restart nobody is connected yet: ``now``)."""
        return self._agent_left_at.setdefault(agent_id, now)

    # -- customers ---------------------------------------------------------------------------------

    async def customer_joined(self, conversation_id: str, sid: str) -> None:
        await self.store.add_connection(self.node_id, sid, "customer", conversation_id)
        self._customer_left_at.pop(conversation_id, None)

    async def customer_left(self, conversation_id: str, sid: str) -> None:
        await self.store.remove_connection(self.node_id, sid)
        if not await self.store.connected("customer", conversation_id):
            self._customer_left_at[conversation_id] = utcnow()

    def customer_gone_since(self, conversation_id: str, now: datetime) -> datetime:
        """When this node first saw the conversation's customer gone (after a restart: ``now``)."""
        return self._customer_left_at.setdefault(conversation_id, now)
