"""Routing: the queues and agents of the settings file, and the rules that pick a case's queue, its
priority, its SLA deadlines and the agents who may take it.

A case goes to the first queue (in file order) that takes its topics, language and channel; the last
queue takes what no queue before it takes. An agent may take a queue's cases when they have all of
its skills. Cases are served in `Routing.order`: SLA close to breach first, then high priority, then
the longest waiting.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

CHANNELS = ("web", "mobile", "telegram")  # where customers chat from
HIGH, NORMAL = "high", "normal"
PRIORITIES = (HIGH, NORMAL)  # served in this order
PICK, AUTO = "pick", "auto"
ASSIGNMENT = (PICK, AUTO)
WARNING, BREACHED, MET = "warning", "breached", "met"
DEFAULT_FIRST_RESPONSE = {HIGH: 120.0, NORMAL: 300.0}
DEFAULT_RESOLUTION = {HIGH: 1800.0, NORMAL: 3600.0}
LANGUAGE = re.compile(r"[a-z]{2}")
CATEGORY = re.compile(r"[a-z0-9_]{1,40}")
DEFAULT_CATEGORIES = (
    "question_answered", "problem_solved", "order_changed", "refund_or_replacement", "no_reply", "other",
)


@dataclasses.dataclass(frozen=True)
class QueueSpec:
    """One queue. An empty ``topics``, ``languages`` or ``channels`` takes any."""

    name: str
    topics: frozenset[str] = frozenset()
    languages: frozenset[str] = frozenset()
    channels: frozenset[str] = frozenset()
    skills: frozenset[str] = frozenset()  # an agent needs all of them
    assignment: str = PICK
    first_response_seconds: Mapping[str, float] = dataclasses.field(
        default_factory=lambda: dict(DEFAULT_FIRST_RESPONSE))
    resolution_seconds: Mapping[str, float] = dataclasses.field(default_factory=lambda: dict(DEFAULT_RESOLUTION))

    def takes(self, topics: Iterable[str], language: str, channel: str) -> bool:
        return ((not self.topics or not self.topics.isdisjoint(topics))
                and (not self.languages or language in self.languages)
                and (not self.channels or channel in self.channels))


@dataclasses.dataclass(frozen=True)
class AgentSpec:
    username: str
    skills: frozenset[str] = frozenset()
    capacity: int | None = None  # None: the setting agent_capacity


DEFAULT_QUEUES = (QueueSpec("general"),)


@dataclasses.dataclass(frozen=True)
class Deadlines:
    first_response: datetime
    resolution: datetime


class Routing:
    def __init__(self, queues: tuple[QueueSpec, ...], agents: tuple[AgentSpec, ...], default_capacity: int,
                 warning_ratio: float) -> None:
        self.queues = queues
        self._by_name = {q.name: q for q in queues}
        self._agents = {a.username: a for a in agents}
        self._default_capacity = default_capacity
        self._warning_ratio = warning_ratio

    def queue(self, name: str | None) -> QueueSpec:
        """The queue of that name; the last queue for a name no longer configured."""
        return self._by_name.get(name or "", self.queues[-1])

    def has_queue(self, name: str) -> bool:
        return name in self._by_name

    def queue_for(self, topics: Iterable[str], language: str, channel: str) -> QueueSpec:
        topics = set(topics)
        return next((q for q in self.queues if q.takes(topics, language, channel)), self.queues[-1])

    def capacity(self, username: str) -> int:
        spec = self._agents.get(username)
        return spec.capacity if spec and spec.capacity is not None else self._default_capacity

    def skills(self, username: str) -> frozenset[str]:
        spec = self._agents.get(username)
        return spec.skills if spec else frozenset()

    def may_take(self, username: str, queue: QueueSpec) -> bool:
        return queue.skills <= self.skills(username)

    def queues_of(self, username: str) -> list[QueueSpec]:
        return [q for q in self.queues if self.may_take(username, q)]

    @staticmethod
    def priority(preferred: bool, contract: str | None) -> str:
        return HIGH if preferred or contract else NORMAL

    def deadlines(self, queue: QueueSpec, priority: str, start: datetime) -> Deadlines:
        return Deadlines(start + timedelta(seconds=queue.first_response_seconds[priority]),
                         start + timedelta(seconds=queue.resolution_seconds[priority]))

    def sla_state(self, start: datetime | None, due: datetime | None, done: datetime | None,
                  now: datetime) -> str | None:
        """Where one SLA target stands: met, breached, warning (past `warning_ratio` of its time), or
        None while on track (or without a target)."""
        if start is None or due is None:
            return None
        at = done or now
        if at > due:
            return BREACHED
        if done is not None:
            return MET
        return WARNING if at >= start + (due - start) * self._warning_ratio else None


def order_key(urgent: bool, priority: str | None, queued_at: datetime) -> tuple[int, int, datetime]:
    """The order queued cases are served in: SLA close to breach (or past it) first, then priority,
    then the longest waiting."""
    rank = PRIORITIES.index(priority) if priority in PRIORITIES else len(PRIORITIES)
    return (0 if urgent else 1, rank, queued_at)


# -- parsing the settings file ----------------------------------------------------------------------

def _strings(where: str, value: Any) -> frozenset[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ValueError(f"{where}: expected a list of names, got {value!r}")
    return frozenset(value)


def _targets(where: str, value: Any, default: Mapping[str, float]) -> dict[str, float]:
    if not isinstance(value, dict):
        raise ValueError(f"{where}: expected a table like {{ high = 120, normal = 300 }}, got {value!r}")
    unknown = set(value) - set(PRIORITIES)
    if unknown:
        raise ValueError(f"{where}: unknown priority {sorted(unknown)[0]!r}; priorities are {', '.join(PRIORITIES)}")
    targets = dict(default)
    for priority, seconds in value.items():
        if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds <= 0:
            raise ValueError(f"{where}.{priority}: expected a positive number of seconds, got {seconds!r}")
        targets[priority] = float(seconds)
    return targets


def _table(where: str, item: Any, allowed: set[str], required: set[str]) -> dict[str, Any]:
    if not isinstance(item, dict):
        raise ValueError(f"{where}: expected a table, got {item!r}")
    unknown = set(item) - allowed
    if unknown:
        raise ValueError(f"{where}: unknown key {sorted(unknown)[0]!r}")
    missing = required - set(item)
    if missing:
        raise ValueError(f"{where}: {sorted(missing)[0]} is required")
    return item


def _checked(where: str, names: frozenset[str], valid: Callable[[str], object], expected: str) -> frozenset[str]:
    wrong = sorted(n for n in names if not valid(n))
    if wrong:
        raise ValueError(f"{where}: {wrong[0]!r} is not {expected}")
    return names


def parse_queues(value: Any) -> tuple[QueueSpec, ...]:
    if not isinstance(value, list) or not value:
        raise ValueError("queues: expected one or more [[queues]] tables")
    queues: list[QueueSpec] = []
    for i, item in enumerate(value):
        where = f"queues[{i}]"
        item = _table(where, item, {"name", "topics", "languages", "channels", "skills", "assignment",
                                    "first_response_seconds", "resolution_seconds"}, {"name"})
        name = item["name"]
        if not isinstance(name, str) or not name or len(name) > 40:
            raise ValueError(f"{where}.name: expected a name of 1..40 characters, got {name!r}")
        if any(q.name == name for q in queues):
            raise ValueError(f"{where}.name: queue {name!r} is defined twice")
        assignment = item.get("assignment", PICK)
        if assignment not in ASSIGNMENT:
            raise ValueError(f"{where}.assignment: expected one of {', '.join(ASSIGNMENT)}, got {assignment!r}")
        lists = {key: _strings(f"{where}.{key}", item.get(key, [])) for key in ("topics", "languages", "channels",
                                                                              "skills")}
        _checked(f"{where}.channels", lists["channels"], CHANNELS.__contains__, f"one of {', '.join(CHANNELS)}")
        _checked(f"{where}.languages", lists["languages"], LANGUAGE.fullmatch, "a two-letter language code like de")
        queues.append(QueueSpec(
            name=name,
            **lists,
            assignment=assignment,
            first_response_seconds=_targets(f"{where}.first_response_seconds", item.get("first_response_seconds", {}),
                                            DEFAULT_FIRST_RESPONSE),
            resolution_seconds=_targets(f"{where}.resolution_seconds", item.get("resolution_seconds", {}),
                                        DEFAULT_RESOLUTION),
        ))
    return tuple(queues)


def parse_agents(value: Any) -> tuple[AgentSpec, ...]:
    if not isinstance(value, list):
        raise ValueError("agents: expected [[agents]] tables")
    agents: list[AgentSpec] = []
    for i, item in enumerate(value):
        where = f"agents[{i}]"
        item = _table(where, item, {"username", "skills", "capacity"}, {"username"})
        username = item["username"]
        if not isinstance(username, str) or not username:
            raise ValueError(f"{where}.username: expected a username, got {username!r}")
        if any(a.username == username for a in agents):
            raise ValueError(f"{where}.username: agent {username!r} is listed twice")
        capacity = item.get("capacity")
        if capacity is not None and (isinstance(capacity, bool) or not isinstance(capacity, int)
                                     or not 1 <= capacity <= 100):
            raise ValueError(f"{where}.capacity: must be 1..100, got {capacity!r}")
        agents.append(AgentSpec(username, _strings(f"{where}.skills", item.get("skills", [])), capacity))
    return tuple(agents)


def parse_categories(value: Any) -> tuple[str, ...]:
    names = _strings("resolution_categories", value)
    if not names:
        raise ValueError("resolution_categories: name at least one category")
    _checked("resolution_categories", names, CATEGORY.fullmatch, "a name of 1..40 letters, digits and _")
    return tuple(dict.fromkeys(value))
