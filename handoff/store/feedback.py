"""What customers said of a case: the articles the bot showed and whether they helped, and the survey
answer: a mixin of `SqlCaseStore` (handoff/store/sql.py)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from handoff.store.base import Queries, insert_absent
from handoff.store.records import AlreadyExists, CaseArticle, Survey, aware, utcnow
from handoff.store.tables import case_articles, surveys


class FeedbackQueries(Queries):
    """The case-article and survey methods of `SqlCaseStore`."""

    async def add_case_articles(self, conversation_id: str, seq: int, article_ids: Sequence[str]) -> None:
        """The bot's message ``seq`` showed these articles."""
        now = utcnow()
        def write(conn: sa.Connection) -> Any:
            conn.execute(case_articles.insert(), [
                {"conversation_id": conversation_id, "seq": seq, "article_id": a, "shown_at": now}
                for a in dict.fromkeys(article_ids)
            ])
        await self._write(write)

    async def article_feedback(self, conversation_id: str, helped: bool, article_id: str | None = None) -> None:
        """The customer said whether the articles shown last (or the last showing of ``article_id``)
        helped; articles already judged keep their answer."""
        def write(conn: sa.Connection) -> Any:
            where = [case_articles.c.conversation_id == conversation_id, case_articles.c.helped.is_(None)]
            if article_id is not None:
                where.append(case_articles.c.article_id == article_id)
            last = conn.scalar(sa.select(sa.func.max(case_articles.c.seq)).where(*where))
            if last is not None:
                conn.execute(case_articles.update().where(*where, case_articles.c.seq == last).values(helped=helped))
        await self._write(write)

    async def case_articles(self, conversation_id: str) -> list[CaseArticle]:
        query = (sa.select(case_articles).where(case_articles.c.conversation_id == conversation_id)
                 .order_by(case_articles.c.seq, case_articles.c.article_id))
        async with self._engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [CaseArticle(r.article_id, r.seq, aware(r.shown_at), r.helped) for r in rows]

    async def add_survey(
        self, conversation_id: str, rating: int, comment: str | None, agent_id: str | None, *,
        nps: int | None = None, effort: int | None = None, answered_via: str = "chat",
    ) -> Survey:
        """Store the case's one survey answer; `AlreadyExists` when it has one. The row is the case's
        (its primary key), inserted only if absent, so two app processes answering at once store one."""
        now = utcnow()
        values = {"conversation_id": conversation_id, "rating": rating, "comment": comment, "agent_id": agent_id,
                  "created_at": now, "nps": nps, "effort": effort, "answered_via": answered_via}
        def write(conn: sa.Connection) -> Any:
            if not insert_absent(conn, surveys, values):
                raise AlreadyExists(f"survey for {conversation_id} answered already")
        await self._write(write)
        return Survey(rating, comment, agent_id, now, nps, effort, answered_via)

    async def survey(self, conversation_id: str) -> Survey | None:
        async with self._engine.connect() as conn:
            row = (await conn.execute(
                sa.select(surveys).where(surveys.c.conversation_id == conversation_id)
            )).first()
        if row is None:
            return None
        return Survey(row.rating, row.comment, row.agent_id, aware(row.created_at),
                      row.nps, row.effort, row.answered_via)
