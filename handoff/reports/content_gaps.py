"""Content gaps: the customer questions the bot could not answer, grouped by meaning.

A question is unanswered when the bot handed the case over because it was not confident enough
(`low_confidence`), or because the customer said its answer did not help (`answer_not_helpful`) or
that none of the articles it offered fits (`no_offered_article_fits`), and when the customer said
an article it showed did not help (`helped` false in case_articles) without such a handoff
(`not_helpful`). The question is the customer's own words: the message the bot answered (or could
not answer), never a button press or a typed "no". Questions are grouped by meaning with the app's
English encoder (handoff/reports/question_groups.py); each group comes with how often it was asked, the
question that stands for it, a few examples (each also with the case it was asked in, so an editor
can open it or draft an article from the agent's reply, handoff/editorial/drafts.py), and the articles the bot
tried.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

import numpy as np
import numpy.typing as npt
import sqlalchemy as sa

from handoff.cases.views import iso
from handoff.reports import question_groups
from handoff.store.records import aware
from handoff.store.sql import SqlCaseStore
from handoff.store.tables import case_articles, case_events, conversations, messages
from knowledge_index.embedder import Embedder

GAP_REASONS = ("low_confidence", "answer_not_helpful", "no_offered_article_fits")
NOT_HELPFUL = "not_helpful"  # an article judged unhelpful without a handoff for it
MAX_QUESTIONS = 2000  # the newest unanswered questions of the period that are grouped
MAX_GROUPS = 50
EXAMPLES = 3
ENCODE_BATCH = 32  # texts per encoder call: the bot's own queries get the encoder between batches


@dataclasses.dataclass(frozen=True)
class Question:
    conversation_id: str
    seq: int  # of the customer's message
    text: str
    asked_at: datetime
    reason: str
    articles: tuple[str, ...]  # what the bot tried: the articles it showed, else the closest it found


def unanswered(conversation_id: str, rows: Sequence[Any], not_helped: set[int]) -> list[Question]:
    """The unanswered questions of one conversation, from its customer and bot messages in order;
    ``not_helped``: the seqs of the bot messages whose articles the customer said did not help."""
    found: dict[int, Question] = {}
    asked: Any = None  # the customer's last message in their own words
    answered: dict[int, tuple[Any, tuple[str, ...]]] = {}  # bot message seq -> the question, articles shown
    last_answer: tuple[Any, tuple[str, ...]] | None = None

    def add(question: Any, reason: str, articles: tuple[str, ...]) -> None:
        if question is not None and question.seq not in found:
            found[question.seq] = Question(conversation_id, question.seq, question.text,
                                           aware(question.created_at), reason, articles)

    for row in rows:
        data = json.loads(row.data)
        if row.sender == "customer":
            if not data.get("payload") and row.text.strip():
                asked = row
            continue
        kind = data.get("kind")
        if kind in ("answer", "clarify"):
            shown = (data["article"]["id"],) if kind == "answer" else tuple(data.get("offered", ()))
            # A chosen article answers the question the choice was offered for.
            question = last_answer[0] if data.get("decision") == "chosen" and last_answer else asked
            last_answer = answered[row.seq] = (question, shown)
        elif kind == "handoff" and data.get("reason") == "low_confidence":
            closest = tuple(h["article_id"] for h in data.get("hits", [])[:1])
            add(asked, "low_confidence", closest)
        elif kind == "handoff" and data.get("reason") in GAP_REASONS and last_answer is not None:
            add(last_answer[0], data["reason"], last_answer[1])
    for seq in sorted(not_helped):
        if seq in answered:
            add(answered[seq][0], NOT_HELPFUL, answered[seq][1])
    return sorted(found.values(), key=lambda q: q.seq)


def _candidates(cases: sa.ColumnElement[bool]) -> sa.Select[Any]:
    """The ids of the cases that may have unanswered questions: a gap handoff or an unhelpful article."""
    gap_handoffs = sa.select(case_events.c.conversation_id).where(
        case_events.c.to_status == "queued", case_events.c.reason.in_(GAP_REASONS))
    judged = sa.select(case_articles.c.conversation_id).where(case_articles.c.helped.is_(False))
    return sa.select(conversations.c.id).where(
        cases, sa.or_(conversations.c.id.in_(gap_handoffs), conversations.c.id.in_(judged)))


async def resolved_by_agent(store: SqlCaseStore, cases: sa.ColumnElement[bool]) -> set[str]:
    """The cases with unanswered questions that an agent resolved: an editor can draft from their replies."""
    query = sa.select(conversations.c.id).where(
        conversations.c.id.in_(_candidates(cases)), conversations.c.status == "resolved",
        conversations.c.resolution == "agent")
    return {row.id async for row in store.rows(query)}


async def collect(store: SqlCaseStore, cases: sa.ColumnElement[bool]) -> list[Question]:
    """Every unanswered question of the cases, newest first."""
    candidates = _candidates(cases)
    not_helped: dict[str, set[int]] = {}
    async for row in store.rows(sa.select(case_articles.c.conversation_id, case_articles.c.seq)
                                .where(case_articles.c.helped.is_(False),
                                       case_articles.c.conversation_id.in_(candidates))):
        not_helped.setdefault(row.conversation_id, set()).add(row.seq)
    query = (
        sa.select(messages.c.conversation_id, messages.c.seq, messages.c.sender, messages.c.text, messages.c.data,
                  messages.c.created_at)
        .where(messages.c.conversation_id.in_(candidates), messages.c.sender.in_(["customer", "bot"]))
        .order_by(messages.c.conversation_id, messages.c.seq)
    )
    found: list[Question] = []
    current: list[Any] = []
    async for row in store.rows(query):
        if current and current[0].conversation_id != row.conversation_id:
            found += unanswered(current[0].conversation_id, current, not_helped.get(current[0].conversation_id, set()))
            current = []
        current.append(row)
    if current:
        found += unanswered(current[0].conversation_id, current, not_helped.get(current[0].conversation_id, set()))
    return sorted(found, key=lambda q: (q.asked_at, q.conversation_id, q.seq), reverse=True)


def _key(text: str) -> str:
    return " ".join(text.split()).casefold()


async def _encode(embedder: Embedder, texts: list[str]) -> npt.NDArray[np.float32]:
    batches = [await asyncio.to_thread(embedder.encode, texts[i:i + ENCODE_BATCH])
               for i in range(0, len(texts), ENCODE_BATCH)]
    return np.concatenate(batches) if batches else np.zeros((0, embedder.dimension), dtype=np.float32)


async def report(store: SqlCaseStore, cases: sa.ColumnElement[bool], embedder: Embedder,
                 title: Callable[[str], str | None], mask: Callable[[str], str]) -> dict[str, Any]:
    """The content-gaps report of the cases (docs/reports.md, "Content gaps")."""
    questions = await collect(store, cases)
    considered = questions[:MAX_QUESTIONS]
    by_agent = await resolved_by_agent(store, cases)
    texts: dict[str, str] = {}  # one text per distinct question (the newest wording)
    for q in considered:
        texts.setdefault(_key(q.text), " ".join(q.text.split()))
    keys = list(texts)
    row_of = {key: row for row, key in enumerate(keys)}
    vectors = await _encode(embedder, list(texts.values()))
    labels = await asyncio.to_thread(question_groups.group, vectors)
    group_of = dict(zip(keys, labels, strict=True))
    members: dict[int, list[Question]] = {}
    for q in considered:
        members.setdefault(group_of[_key(q.text)], []).append(q)
    ranked: list[tuple[tuple[int, int], dict[str, Any]]] = []
    for label, asked in members.items():
        distinct = list(dict.fromkeys(_key(q.text) for q in asked))  # newest first
        rows = [row_of[k] for k in distinct]
        middle = keys[question_groups.representative(vectors, rows)]
        tried: Counter[str] = Counter(a for q in asked for a in q.articles)
        shown = [middle, *[k for k in distinct if k != middle][:EXAMPLES]]
        # Each wording shown with the case it was asked in: the newest an agent resolved, else the newest.
        case_of: dict[str, Question] = {}
        for q in sorted(asked, key=lambda q: q.conversation_id not in by_agent):  # stable: newest first
            case_of.setdefault(_key(q.text), q)
        # Most asked first; ties: the group asked most recently (groups are numbered newest first).
        ranked.append(((-len(asked), label), {
            "count": len(asked),
            "cases": len({q.conversation_id for q in asked}),
            "representative": mask(texts[middle]),
            "examples": [mask(texts[k]) for k in shown[1:]],
            "asked": [{"question": mask(texts[k]), "case_id": case_of[k].conversation_id,
                       "reason": case_of[k].reason, "resolved_by_agent": case_of[k].conversation_id in by_agent}
                      for k in shown],
            "reasons": dict(Counter(q.reason for q in asked).most_common()),
            "articles": [{"article_id": a, "title": title(a), "count": n}
                         for a, n in sorted(tried.items(), key=lambda item: (-item[1], item[0]))],
            "last_asked_at": iso(asked[0].asked_at),
        }))
    groups = [group for _, group in sorted(ranked, key=lambda item: item[0])]
    return {"questions": len(questions), "considered": len(considered), "similarity": question_groups.SIMILARITY,
            "groups_total": len(groups), "groups": groups[:MAX_GROUPS]}
