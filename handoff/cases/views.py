"""The JSON shapes of docs/protocol.md, built from store records through the wire's reply models
(handoff/wire/replies.py), so that what is sent is what the models (and the documents made from
them) say."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from handoff.store.records import CaseArticle, CaseEvent, Conversation, Message, Survey
from handoff.wire import replies


def iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


def message_view(m: Message) -> dict[str, Any]:
    return replies.Message.model_validate({
        "conversation_id": m.conversation_id, "seq": m.seq, "sender": m.sender,
        "sender_name": m.sender_name, "text": m.text, "created_at": iso(m.created_at), "data": m.data,
        "client_id": m.client_id,
    }).model_dump(mode="json")


@dataclass(frozen=True)
class QueuePlace:
    """Where a queued case stands: its position, how many agents are signed in and available, and
    the expected wait in seconds (None while there is too little history to tell, or nobody to wait for)."""

    position: int
    agents_available: int
    estimated_wait_seconds: int | None


def _case_view(c: Conversation, place: QueuePlace | None) -> dict[str, Any]:
    """What the customer and the agents both see of a case."""
    return {
        "id": c.id, "case_number": c.number, "status": c.status,
        "queue_position": place.position if place else None,
        "agents_available": place.agents_available if place else None,
        "estimated_wait_seconds": place.estimated_wait_seconds if place else None,
        "agent_name": c.agent_name, "resolution": c.resolution,
        "survey_answered": c.survey_answered, "last_seq": c.last_seq,
    }


def conversation_view(c: Conversation, place: QueuePlace | None, survey_url: str | None = None) -> dict[str, Any]:
    """The customer's view, with the link to their survey (`handoff.surveys.links`), which agents never get."""
    return replies.Conversation.model_validate({**_case_view(c, place), "survey_url": survey_url}).model_dump(
        mode="json")


def _warning_at(start: datetime | None, due: datetime | None, ratio: float) -> str | None:
    return iso(start + (due - start) * ratio) if start and due else None


def case_summary(c: Conversation, place: QueuePlace | None, warning_ratio: float) -> dict[str, Any]:
    """What agents see of a case; ``warning_ratio``: the setting sla_warning_ratio, for the SLA warning times."""
    return replies.CaseSummary.model_validate({
        **_case_view(c, place),
        "customer_id": c.customer_id, "customer_name": c.customer_name,
        "customer_preferred": c.customer_preferred, "entitlement": c.entitlement,
        "title": c.title, "status_reason": c.status_reason, "state": c.state, "closed_at": iso(c.closed_at),
        "channel": c.channel, "locale": c.locale,
        "escalation_reason": c.escalation_reason, "queued_at": iso(c.queued_at),
        "agent_id": c.agent_id, "created_at": iso(c.created_at),
        "queue": c.queue, "priority": c.priority, "resolution_category": c.resolution_category,
        "sla": {
            "first_response_due_at": iso(c.first_response_due_at), "first_response_at": iso(c.first_response_at),
            "first_response_warning_at": _warning_at(c.queued_at, c.first_response_due_at, warning_ratio),
            "first_response": c.first_response_sla,
            "resolution_due_at": iso(c.resolution_due_at), "resolution": c.resolution_sla,
            "resolution_warning_at": _warning_at(c.queued_at, c.resolution_due_at, warning_ratio),
        },
    }).model_dump(mode="json")


def survey_view(s: Survey) -> dict[str, Any]:
    return replies.Survey.model_validate({
        "rating": s.rating, "comment": s.comment, "nps": s.nps, "effort": s.effort,
        "answered_via": s.answered_via, "created_at": iso(s.created_at),
    }).model_dump(mode="json")


def case_survey_view(s: Survey, articles: list[CaseArticle]) -> dict[str, Any]:
    """The survey as agents see it in the case: with the agent it is stored with and the articles the
    bot showed in the case (its `case_articles`), each once."""
    article_ids = list(dict.fromkeys(a.article_id for a in articles))
    return replies.CaseSurvey.model_validate(
        {**survey_view(s), "agent_id": s.agent_id, "article_ids": article_ids}).model_dump(mode="json")


def event_view(e: CaseEvent) -> dict[str, Any]:
    return replies.CaseEvent.model_validate(
        {"from": e.from_status, "to": e.to_status, "reason": e.reason, "actor": e.actor, "at": iso(e.at)},
    ).model_dump(mode="json")


def article_view(a: CaseArticle) -> dict[str, Any]:
    return replies.CaseArticle.model_validate(
        {"article_id": a.article_id, "seq": a.seq, "shown_at": iso(a.shown_at), "helped": a.helped},
    ).model_dump(mode="json")
