"""The ``[limits]`` table of the settings: each entry a rate in the `limits` library's notation
("20/minute", "3/2 seconds", several joined by ";": "10/minute;100/hour"), or "" for none."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from limits import RateLimitItem, parse_many


@dataclasses.dataclass(frozen=True)
class LimitTable:
    # conversation starts (socket /chat start_conversation, POST /api/conversations)
    starts_per_address: str = "20/minute;200/hour"
    starts_per_identity: str = "10/minute;100/hour"  # the host site's signed identity (its external id)
    messages_per_conversation: str = "20/minute;300/hour"  # what a customer sends, on every channel
    messages_per_address: str = "60/minute;1000/hour"  # the same from one client address, in all its conversations
    # cases handed over to the agents' queues, per contact and per client address
    handovers_per_contact: str = "3/hour"
    handovers_per_address: str = "10/hour"
    long_polls_per_conversation: str = "60/minute"  # GET .../messages?wait=N with N > 0 (REST for apps)
    connections_per_address: str = "60/minute"  # socket.io /chat connections
    sign_ins_per_address: str = "30/minute"  # POST /api/agent/login, right or wrong
    sign_in_failures_per_username: str = "10/15 minutes"  # wrong passwords; past it the username is locked

    def items(self) -> dict[str, tuple[RateLimitItem, ...]]:
        """Each limit that is set, parsed."""
        return {name: tuple(parse_many(value)) for name, value in dataclasses.asdict(self).items() if value}


NAMES = tuple(f.name for f in dataclasses.fields(LimitTable))


def check_entry(key: str, value: Any) -> str:
    """One entry's value, checked: the error names the key and shows the notation."""
    if not isinstance(value, str):
        raise ValueError(f"limits.{key}: expected a rate such as \"20/minute\" (or \"\" for none), got {value!r}")
    value = value.strip()
    if value:
        try:
            items = parse_many(value)
        except ValueError:
            items = []
        if not items or any(item.amount < 1 for item in items):
            raise ValueError(f"limits.{key}: expected a rate such as \"20/minute\", \"3/2 seconds\" or "
                             f"\"10/minute;100/hour\" (or \"\" for none), got {value!r}")
    return value


def parse_table(value: Any, base: LimitTable | None = None) -> LimitTable:
    """The ``[limits]`` table of the settings file (or overrides of single entries, over ``base``)."""
    if not isinstance(value, Mapping):
        raise ValueError(f"limits: expected a table of rates such as starts_per_address = \"20/minute\", got {value!r}")
    for key in value:
        if key not in NAMES:
            raise ValueError(f"limits.{key}: unknown limit; the limits are {', '.join(NAMES)}")
    return dataclasses.replace(base or LimitTable(), **{key: check_entry(key, v) for key, v in value.items()})
