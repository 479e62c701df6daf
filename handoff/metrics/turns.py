"""A bot turn's clock: the bridge to Rasa starts and ends each turn (`TurnClock.turn`), the action endpoint
reports each action call Rasa makes meanwhile (`TurnClock.action`), by the conversation's id (Rasa's
sender id). A replied turn's time is split into Rasa's own (the turn less its actions) and the actions'.

Rasa calls the action endpoint of the node its ``action_endpoint`` names: a turn whose actions another node
served (several nodes, docs/operations.md) has no split here; its whole time is recorded all the same."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from handoff.metrics import series

# The children of the series a turn records, looked up once (a turn records them all).
REPLIED, UNAVAILABLE = (series.BOT_TURNS.labels(outcome=outcome) for outcome in series.TURN_OUTCOMES)
RASA_PART, ACTIONS_PART = (series.TURN_PART_SECONDS.labels(part=part) for part in series.TURN_PARTS)


class TurnClock:
    def __init__(self) -> None:
        self._actions: dict[str, list[float]] = {}  # conversation id -> its turn's action calls, in seconds
        self.in_flight = 0  # turns waiting for Rasa now

    @contextmanager
    def turn(self, conversation_id: str) -> Iterator[TurnOutcome]:
        """Time one turn of ``conversation_id``; it is `unavailable` unless the block sets ``outcome.replied``
        (and also when it raises)."""
        outcome = TurnOutcome()
        actions = self._actions[conversation_id] = []
        started = time.perf_counter()
        self.in_flight += 1
        try:
            yield outcome
        finally:
            self.in_flight -= 1
            seconds = time.perf_counter() - started
            if self._actions.get(conversation_id) is actions:
                del self._actions[conversation_id]
            (REPLIED if outcome.replied else UNAVAILABLE).inc()
            series.TURN_SECONDS.observe(seconds)
            if outcome.replied and actions:
                spent = sum(actions)
                RASA_PART.observe(max(seconds - spent, 0.0))
                ACTIONS_PART.observe(spent)

    def action(self, conversation_id: str, action: str, seconds: float) -> None:
        """Rasa's call of ``action`` for ``conversation_id`` took ``seconds`` in the action endpoint."""
        series.ACTION_SECONDS.labels(action=action).observe(seconds)
        actions = self._actions.get(conversation_id)
        if actions is not None:
            actions.append(seconds)


class TurnOutcome:
    replied = False


CLOCK = TurnClock()  # this process's
