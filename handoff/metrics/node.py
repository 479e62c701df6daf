"""What a node serves at ``/metrics``: the process-wide series (`handoff.metrics.series`), the process's own
(resident memory, CPU, open files, the garbage collector) and what is read when Prometheus scrapes
(`NodeState`): the agents' queues from the store (every node sees the same), the customers and agents
connected to this node, and this node's bot queue."""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable, Iterator, Mapping
from typing import Protocol

from prometheus_client import CollectorRegistry, GCCollector, PlatformCollector, ProcessCollector, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from handoff.metrics import series

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"  # Prometheus' text format


class BotLoad(Protocol):
    """The bot's load on this node: turns waiting for their turn with Rasa (the bounded queue), turns
    waiting for Rasa's answer now, and the turns refused since start because the queue was full."""

    @property
    def depth(self) -> int: ...

    @property
    def in_flight(self) -> int: ...

    @property
    def busy_refusals(self) -> int: ...


@dataclasses.dataclass(frozen=True)
class QueueLoad:
    """One agents' queue: the cases waiting in it, and how long the longest waiting one has (0: none)."""

    waiting: int
    oldest_wait_seconds: float


@dataclasses.dataclass(frozen=True)
class NodeState:
    queues: Mapping[str, QueueLoad]
    customers: int  # conversations with a customer's socket on this node
    agents: int  # agents with a socket on this node
    bot: BotLoad


def _families(state: NodeState | None) -> Iterator[Metric]:
    queue_length = GaugeMetricFamily("casedesk_queue_length", "Cases waiting in each agents' queue",
                                     labels=["queue"])
    oldest = GaugeMetricFamily("casedesk_queue_oldest_wait_seconds", "How long the longest waiting case of each "
                               "agents' queue has waited (0: none waits)", labels=["queue"])
    for name, load in (state.queues if state else {}).items():
        queue_length.add_metric([name], load.waiting)
        oldest.add_metric([name], load.oldest_wait_seconds)
    yield queue_length
    yield oldest
    yield GaugeMetricFamily("casedesk_connected_customers", "Conversations with a customer's socket on this node",
                            value=state.customers if state else 0)
    yield GaugeMetricFamily("casedesk_connected_agents", "Agents with a socket on this node",
                            value=state.agents if state else 0)
    yield GaugeMetricFamily("casedesk_bot_queue_depth", "Bot turns of this node waiting for their turn with Rasa",
                            value=state.bot.depth if state else 0)
    yield GaugeMetricFamily("casedesk_bot_turns_in_flight", "Bot turns of this node waiting for Rasa's answer",
                            value=state.bot.in_flight if state else 0)
    yield CounterMetricFamily("casedesk_bot_busy_refusals", "Bot turns refused because the bot's queue was full "
                              "(the customer is told the assistant is busy)",
                              value=state.bot.busy_refusals if state else 0)


class NodeMetrics:
    """The registry of one node's ``/metrics``; ``read`` gives what is read at each scrape."""

    def __init__(self, read: Callable[[], Awaitable[NodeState]]) -> None:
        self._read = read
        self._state: NodeState | None = None
        self.registry = CollectorRegistry()
        for collector in series.ALL:
            self.registry.register(collector)
        for process_collector in (ProcessCollector, PlatformCollector, GCCollector):
            process_collector(registry=self.registry)
        self.registry.register(self)

    async def exposition(self) -> bytes:
        """Everything, in Prometheus' text format, as it is now."""
        self._state = await self._read()
        return generate_latest(self.registry)  # no await in between: the state read is the one shown

    def describe(self) -> Iterator[Metric]:
        return _families(None)

    def collect(self) -> Iterator[Metric]:
        return _families(self._state)
