"""Reports for supervisors: what the cases of a period say, read from the store's tables.

Every report covers the cases created in a period of whole UTC days (`Scope`), optionally of one
channel and of one queue. The queries are SQLAlchemy core over the tables of handoff/store/tables.py, run
read-only through `SqlCaseStore.rows`; what SQL cannot say portably (days, percentiles, an
article's tags) is worked out here. docs/reports.md says what each figure means and gives the JSON
shape of each report.
"""

from __future__ import annotations

import dataclasses
import statistics
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import numpy as np
import sqlalchemy as sa

from handoff.cases.routing import BREACHED, CHANNELS
from handoff.reports import content_gaps
from handoff.store.records import aware
from handoff.store.sql import SqlCaseStore
from handoff.store.tables import agents, case_articles, conversations, surveys
from knowledge_index.embedder import Embedder
from knowledge_index.storage import ArticleRecord

ArticleLookup = Callable[[str], ArticleRecord | None]  # an article of the index in use, by id
Mask = Callable[[str], str]  # what customer text goes through before a report shows it
OUTCOMES = ("bot", "agent", "abandoned", "cancelled", "open")
ENDED = ("bot", "agent", "abandoned")  # the outcomes the bot's share is counted among


def unmasked(text: str) -> str:
    return text


@dataclasses.dataclass(frozen=True)
class Scope:
    """The cases created from the start of ``first_day`` to the end of ``last_day`` (UTC), of
    ``channel`` and ``queue`` when given."""

    first_day: date
    last_day: date
    channel: str | None = None
    queue: str | None = None

    @property
    def since(self) -> datetime:
        return datetime.combine(self.first_day, time(), UTC)

    @property
    def until(self) -> datetime:
        return datetime.combine(self.last_day + timedelta(days=1), time(), UTC)

    def days(self) -> list[date]:
        return [self.first_day + timedelta(days=n) for n in range((self.last_day - self.first_day).days + 1)]

    def cases(self) -> sa.ColumnElement[bool]:
        """The conversations (cases) in scope, as a condition on the conversations table."""
        c = conversations.c
        where = [c.created_at >= self.since, c.created_at < self.until]
        if self.channel is not None:
            where.append(c.channel == self.channel)
        if self.queue is not None:
            where.append(c.queue == self.queue)
        return sa.and_(*where)

    def view(self) -> dict[str, Any]:
        return {"from": self.first_day.isoformat(), "to": self.last_day.isoformat(), "channel": self.channel,
                "queue": self.queue}


def percent(part: int, whole: int) -> float | None:
    return round(100 * part / whole, 1) if whole else None


def mean(values: list[float], digits: int = 2) -> float | None:
    return round(statistics.fmean(values), digits) if values else None


def durations(seconds: list[float]) -> dict[str, Any]:
    """Count, median, 90th percentile and mean of durations in seconds (percentiles interpolate
    linearly between the closest ranks, as numpy does by default)."""
    if not seconds:
        return {"count": 0, "p50": None, "p90": None, "mean": None}
    p50, p90 = np.percentile(seconds, [50, 90])
    return {"count": len(seconds), "p50": round(float(p50), 1), "p90": round(float(p90), 1),
            "mean": mean(seconds, 1)}


@dataclasses.dataclass(frozen=True)
class Answer:
    """One survey answer: satisfaction 1-5, and NPS 0-10 and effort 1-7 when they were asked."""

    rating: int
    nps: int | None
    effort: int | None


def satisfaction_figures(answers: list[Answer]) -> dict[str, Any]:
    """Answers, mean rating, CSAT (share of ratings 4 and 5), NPS (promoters 9-10 minus detractors
    0-6, in points, over the answers with an NPS) and mean effort."""
    nps = [a.nps for a in answers if a.nps is not None]
    effort = [float(a.effort) for a in answers if a.effort is not None]
    promoters, detractors = sum(n >= 9 for n in nps), sum(n <= 6 for n in nps)
    return {
        "answers": len(answers),
        "mean_rating": mean([float(a.rating) for a in answers]),
        "csat_percent": percent(sum(a.rating >= 4 for a in answers), len(answers)),
        "nps": round(100 * (promoters - detractors) / len(nps), 1) if nps else None,
        "nps_answers": len(nps),
        "mean_effort": mean(effort),
        "effort_answers": len(effort),
    }


def _ranked(counts: dict[str, list[Answer]], key: str, label: Callable[[str], dict[str, Any]] = lambda _: {},
            name: str | None = None) -> list[dict[str, Any]]:
    """One row per key (None for "") with its labels and figures, most answers first, then by
    ``name`` (a label's field) or the key."""
    rows = [{key: k or None, **label(k), **satisfaction_figures(answers)} for k, answers in counts.items()]
    return sorted(rows, key=lambda row: (-row["answers"], row[name or key] or ""))


class Reports:
    """The reports, over one store, with the knowledge index's articles and its English encoder."""

    def __init__(self, store: SqlCaseStore, article: ArticleLookup, embedder: Embedder,
                 mask: Mask = unmasked) -> None:
        self._store = store
        self._article = article
        self._embedder = embedder
        self._mask = mask

    @property
    def store(self) -> SqlCaseStore:
        return self._store

    @property
    def mask(self) -> Mask:
        return self._mask

    async def _all(self, query: sa.Select[Any]) -> list[sa.Row[Any]]:
        return [row async for row in self._store.rows(query)]

    def _tags(self, article_id: str) -> tuple[str, ...]:
        record = self._article(article_id)
        return record.tags if record else ()

    def _title(self, article_id: str) -> str | None:
        record = self._article(article_id)
        return record.title if record else None

    async def _articles_of_cases(self, scope: Scope) -> dict[str, dict[str, bool]]:
        """Case id -> the articles the bot showed in it (in the order first shown), each with whether
        the customer said it did not help."""
        query = (
            sa.select(case_articles.c.conversation_id, case_articles.c.article_id, case_articles.c.helped)
            .join(conversations, conversations.c.id == case_articles.c.conversation_id)
            .where(scope.cases())
            .order_by(case_articles.c.conversation_id, case_articles.c.seq, case_articles.c.article_id)
        )
        shown: dict[str, dict[str, bool]] = defaultdict(dict)
        for row in await self._all(query):
            found = shown[row.conversation_id]
            found[row.article_id] = found.get(row.article_id, False) or row.helped is False
        return shown

    # -- the reports --------------------------------------------------------------------------------

    async def volume(self, scope: Scope) -> dict[str, Any]:
        """Cases per day and channel."""
        rows = await self._all(sa.select(conversations.c.created_at, conversations.c.channel).where(scope.cases()))
        per_day: Counter[tuple[date, str]] = Counter((aware(r.created_at).date(), r.channel) for r in rows)
        known = (scope.channel,) if scope.channel else CHANNELS
        channels = sorted(set(known) | {channel for _, channel in per_day})
        days = [{"date": day.isoformat(), "total": sum(per_day[day, ch] for ch in channels),
                 "channels": {ch: per_day[day, ch] for ch in channels}} for day in scope.days()]
        return {"period": scope.view(), "total": len(rows), "channels": channels,
                "by_channel": {ch: sum(n for (_, c), n in per_day.items() if c == ch) for ch in channels},
                "days": days}

    async def deflection(self, scope: Scope) -> dict[str, Any]:
        """How cases ended: resolved by the bot or by an agent, abandoned, cancelled, still open; the
        bot's share of the ended ones; why the bot handed over."""
        c = conversations.c
        rows = await self._all(sa.select(c.status, c.resolution, sa.func.count().label("n"))
                               .where(scope.cases()).group_by(c.status, c.resolution))
        outcomes = dict.fromkeys(OUTCOMES, 0)
        for row in rows:
            outcomes[_outcome(row.status, row.resolution)] += int(row.n)
        reasons = await self._all(
            sa.select(c.escalation_reason, sa.func.count().label("n"))
            .where(scope.cases(), c.escalation_reason.is_not(None)).group_by(c.escalation_reason))
        ranked = sorted(((r.escalation_reason, int(r.n)) for r in reasons), key=lambda item: (-item[1], item[0]))
        return {
            "period": scope.view(), "cases": sum(outcomes.values()), "outcomes": outcomes,
            "bot_share_percent": percent(outcomes["bot"], sum(outcomes[o] for o in ENDED)),
            "escalated": sum(n for _, n in ranked),
            "escalation_reasons": [{"reason": reason, "count": n} for reason, n in ranked],
        }

    async def satisfaction(self, scope: Scope) -> dict[str, Any]:
        """The survey answers of the cases, overall and by queue, agent, article shown and topic."""
        query = (
            sa.select(surveys.c.conversation_id, surveys.c.rating, surveys.c.nps, surveys.c.effort,
                      surveys.c.agent_id, agents.c.display_name.label("agent_name"), conversations.c.queue)
            .join(conversations, conversations.c.id == surveys.c.conversation_id)
            .outerjoin(agents, agents.c.id == surveys.c.agent_id)
            .where(scope.cases())
        )
        rows = await self._all(query)
        shown = await self._articles_of_cases(scope)
        answers = {r.conversation_id: Answer(r.rating, r.nps, r.effort) for r in rows}
        by_queue: dict[str, list[Answer]] = defaultdict(list)
        by_agent: dict[str, list[Answer]] = defaultdict(list)
        agent_names: dict[str, str | None] = {}
        by_article: dict[str, list[Answer]] = defaultdict(list)
        by_topic: dict[str, list[Answer]] = defaultdict(list)
        for r in rows:
            answer = answers[r.conversation_id]
            by_queue[r.queue or ""].append(answer)
            by_agent[r.agent_id or ""].append(answer)
            agent_names[r.agent_id or ""] = r.agent_name
            for article_id in shown.get(r.conversation_id, {}):
                by_article[article_id].append(answer)
            for tag in dict.fromkeys(t for a in shown.get(r.conversation_id, {}) for t in self._tags(a)):
                by_topic[tag].append(answer)
        return {
            "period": scope.view(),
            "overall": satisfaction_figures(list(answers.values())),
            "by_queue": _ranked(by_queue, "queue"),
            "by_agent": _ranked(by_agent, "agent_id", lambda a: {"agent_name": agent_names[a]}, "agent_name"),
            "by_article": _ranked(by_article, "article_id", lambda a: {"title": self._title(a)}),
            "by_topic": _ranked(by_topic, "tag"),
        }

    async def times(self, scope: Scope) -> dict[str, Any]:
        """Per queue: waiting to the first response and to the resolution by an agent, and SLA breaches."""
        c = conversations.c
        rows = await self._all(
            sa.select(c.queue, c.queued_at, c.first_response_at, c.closed_at, c.resolution,
                      c.first_response_sla, c.resolution_sla)
            .where(scope.cases(), c.queue.is_not(None)))
        by_queue: dict[str, list[sa.Row[Any]]] = defaultdict(list)
        for row in rows:
            by_queue[row.queue].append(row)
        return {"period": scope.view(), "overall": _times(rows),
                "queues": [{"queue": q, **_times(by_queue[q])} for q in sorted(by_queue)]}

    async def topics(self, scope: Scope, tag: str | None = None) -> dict[str, Any]:
        """Cases per article tag and per article (the articles the bot showed in each case), with how
        many were handed over and their satisfaction, most cases first; with ``tag``, only the cases
        about an article with that tag."""
        c = conversations.c
        rows = await self._all(
            sa.select(c.id, c.escalation_reason, surveys.c.rating)
            .outerjoin(surveys, surveys.c.conversation_id == c.id).where(scope.cases()))
        shown = await self._articles_of_cases(scope)
        if tag is not None:
            shown = {case: found for case, found in shown.items() if any(tag in self._tags(a) for a in found)}
        by_tag: dict[str, list[sa.Row[Any]]] = defaultdict(list)
        by_article: dict[str, list[sa.Row[Any]]] = defaultdict(list)
        not_helped: Counter[str] = Counter()
        for row in rows:
            found = shown.get(row.id, {})
            for article_id, unhelpful in found.items():
                by_article[article_id].append(row)
                not_helped[article_id] += unhelpful
            for t in dict.fromkeys(t for a in found for t in self._tags(a)):
                by_tag[t].append(row)
        return {
            "period": scope.view(), "tag": tag, "cases": len(rows), "with_articles": len(shown),
            "tags": [{"tag": t, **_case_figures(cases)} for t, cases in _by_cases(by_tag)],
            "articles": [{"article_id": a, "title": self._title(a), "tags": list(self._tags(a)),
                          **_case_figures(cases), "not_helped": not_helped[a]} for a, cases in _by_cases(by_article)],
        }

    async def gaps(self, scope: Scope) -> dict[str, Any]:
        """The questions the bot could not answer, grouped by meaning (handoff/reports/content_gaps.py)."""
        return {"period": scope.view(),
                **await content_gaps.report(self._store, scope.cases(), self._embedder, self._title, self._mask)}


def _outcome(status: str, resolution: str | None) -> str:
    if status == "resolved":
        return "agent" if resolution == "agent" else "bot"
    return status if status in ("abandoned", "cancelled") else "open"


def _times(rows: Iterable[sa.Row[Any]]) -> dict[str, Any]:
    rows = list(rows)
    first = [(aware(r.first_response_at) - aware(r.queued_at)).total_seconds()
             for r in rows if r.queued_at is not None and r.first_response_at is not None]
    resolved = [(aware(r.closed_at) - aware(r.queued_at)).total_seconds()
                for r in rows if r.resolution == "agent" and r.queued_at is not None and r.closed_at is not None]
    first_breaches = sum(r.first_response_sla == BREACHED for r in rows)
    resolution_breaches = sum(r.resolution_sla == BREACHED for r in rows)
    return {
        "cases": len(rows), "first_response": durations(first), "resolution": durations(resolved),
        "first_response_breaches": first_breaches, "first_response_breach_percent": percent(first_breaches, len(rows)),
        "resolution_breaches": resolution_breaches,
        "resolution_breach_percent": percent(resolution_breaches, len(rows)),
    }


def _by_cases(groups: dict[str, list[sa.Row[Any]]]) -> list[tuple[str, list[sa.Row[Any]]]]:
    return sorted(groups.items(), key=lambda item: (-len(item[1]), item[0]))


def _case_figures(cases: list[sa.Row[Any]]) -> dict[str, Any]:
    escalated = sum(r.escalation_reason is not None for r in cases)
    ratings = [float(r.rating) for r in cases if r.rating is not None]
    return {"cases": len(cases), "escalated": escalated, "escalated_percent": percent(escalated, len(cases)),
            "answers": len(ratings), "mean_rating": mean(ratings)}
