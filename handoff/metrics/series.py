"""The series recorded as things happen, process-wide (one app process is one node; each serves its own).

Prometheus' conventions: the ``casedesk_`` prefix, counters end in ``_total``, times are seconds; labels
take a few known values only, never a conversation id or a customer's text. The series are registered in
no global registry: `handoff.metrics.node` puts them in the registry a node serves."""

from __future__ import annotations

from prometheus_client import Counter, Histogram, disable_created_metrics

# No `_created` series beside each counter and histogram: Prometheus does not need them.
disable_created_metrics()

# A bot turn waits this long at most (rasa_timeout_seconds, 15 s by default); its buckets, in seconds.
TURN_BUCKETS = (0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 1.5, 2.5, 5.0, 10.0, 15.0, 30.0)
ACTION_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)

TURN_OUTCOMES = ("replied", "unavailable")
BOT_TURNS = Counter("casedesk_bot_turns", "Bot turns by outcome: replied, or unavailable (Rasa failed, timed out "
                    "or sent no reply)", ["outcome"], registry=None)
TURN_SECONDS = Histogram("casedesk_bot_turn_seconds", "A bot turn as the app waits for it: Rasa's answer, with "
                         "the action calls Rasa makes meanwhile", buckets=TURN_BUCKETS, registry=None)
TURN_PARTS = ("rasa", "actions")
TURN_PART_SECONDS = Histogram("casedesk_bot_turn_part_seconds", "A replied bot turn's time by part: rasa (Rasa's "
                              "own, the turn less the actions), actions (the app's action endpoint: the knowledge "
                              "base's retrieval and the decision)", ["part"], buckets=TURN_BUCKETS, registry=None)
ACTION_SECONDS = Histogram("casedesk_bot_action_seconds", "A call of Rasa to the app's action endpoint, by action "
                           "(action_answer_from_kb: the retrieval and the decision)", ["action"],
                           buckets=ACTION_BUCKETS, registry=None)
# The kinds of the bot's replies (bot/actions: ``data.kind``); "text" a plain response, "other" any other.
DECISION_KINDS = frozenset({"answer", "clarify", "handoff", "resolved", "small_talk", "text"})
DECISIONS = Counter("casedesk_bot_decisions", "The bot's replies by kind: answer, clarify (two articles offered), "
                    "handoff, resolved, small_talk, text, other", ["kind"], registry=None)
HANDOVERS = Counter("casedesk_handovers", "Cases the bot handed to the agents' queues, by reason", ["reason"],
                    registry=None)
RESOLUTIONS = Counter("casedesk_resolutions", "Cases resolved, by reason (answer_helped, goodbye, idle: by the "
                      "bot; resolved_by_agent)", ["reason"], registry=None)
SLA_EVENTS = Counter("casedesk_sla_events", "SLA targets of open cases that reached their warning or were "
                     "breached, as the sweep records them", ["target", "state"], registry=None)
PUBLISHES = Counter("casedesk_publishes", "Publishes of the knowledge base by outcome: published, refused (by "
                    "the quality gate), failed", ["outcome"], registry=None)
LIMIT_REFUSALS = Counter("casedesk_limit_refusals", "Requests refused by a limit (docs/settings.md, \"Limits\"), "
                         "by limit", ["limit"], registry=None)

ALL = (BOT_TURNS, TURN_SECONDS, TURN_PART_SECONDS, ACTION_SECONDS, DECISIONS, HANDOVERS, RESOLUTIONS, SLA_EVENTS,
       PUBLISHES, LIMIT_REFUSALS)


def decision(kind: object) -> None:
    """One reply of the bot, of ``kind`` (its ``data.kind``; None: a plain response)."""
    DECISIONS.labels(kind="text" if kind is None else kind if kind in DECISION_KINDS else "other").inc()


def case_changed(before: str, after: str, reason: str) -> None:
    """A case's status change (`Conversations.transition`): a hand-over when the bot passes it to the queue,
    a resolution when it is resolved."""
    if before == "bot" and after == "queued":
        HANDOVERS.labels(reason=reason).inc()
    elif after == "resolved":
        RESOLUTIONS.labels(reason=reason).inc()


# The series of known labels exist from the start, at 0: a dashboard's rate is 0 rather than missing.
for _outcome in TURN_OUTCOMES:
    BOT_TURNS.labels(outcome=_outcome)
for _outcome in ("published", "refused", "failed"):
    PUBLISHES.labels(outcome=_outcome)
for _part in TURN_PARTS:
    TURN_PART_SECONDS.labels(part=_part)
for _target in ("first_response", "resolution"):
    for _state in ("warning", "breached"):
        SLA_EVENTS.labels(target=_target, state=_state)
