"""A queued case's place in its queue, counted by the database: a mixin of `SqlCaseStore`
(handoff/store/sql.py). One count per place, whatever the queue's length, so that placing many cases at
once is linear (reading the whole queue for each case, as before, made 1,000 hand-overs quadratic)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from handoff.store.base import Queries
from handoff.store.records import Status, aware
from handoff.store.tables import conversations


class QueuePlaceQueries(Queries):
    """The queue-place method of `SqlCaseStore`."""

    async def queue_position(self, conversation_id: str, queues: Sequence[str], others_except: Sequence[str] | None,
                             urgent_states: Sequence[str], priorities: Sequence[str]) -> int | None:
        """The place (from 1) of a queued case among the queued cases of ``queues`` (and, with
        ``others_except``, of every queue not named in it: the queue that takes the cases of queues no
        longer configured), in the order they are served: an SLA state in ``urgent_states`` first, then by
        ``priorities``, then the longest waiting (then by id); None when the case is not queued."""
        c = conversations.c
        urgent = sa.case((sa.or_(c.first_response_sla.in_(urgent_states), c.resolution_sla.in_(urgent_states)), 0),
                         else_=1)
        rank = sa.case(*((c.priority == p, i) for i, p in enumerate(priorities)), else_=len(priorities))
        since = sa.func.coalesce(c.queued_at, c.created_at)
        async with self._engine.connect() as conn:
            mine = (await conn.execute(sa.select(urgent, rank, since, c.id).where(
                c.id == conversation_id, c.status == Status.QUEUED))).first()
            if mine is None:
                return None
            keys: list[Any] = [urgent, rank, since, c.id]
            ahead = sa.or_(*(sa.and_(*(k == v for k, v in zip(keys[:i], mine, strict=False)), keys[i] < mine[i])
                             for i in range(len(keys))))
            where: sa.ColumnElement[bool] = c.queue.in_(list(queues))
            if others_except is not None:
                where = sa.or_(where, c.queue.is_(None), c.queue.not_in(list(others_except)))
            count = await conn.scalar(sa.select(sa.func.count()).where(c.status == Status.QUEUED, where, ahead))
        return int(count or 0) + 1

    async def queue_counts(self) -> dict[str | None, tuple[int, datetime]]:
        """By queue (None: a case with no queue), the queued cases and the oldest time one of them was queued:
        one grouped count (the metrics read it at each scrape)."""
        c = conversations.c
        since = sa.func.min(sa.func.coalesce(c.queued_at, c.created_at))
        query = sa.select(c.queue, sa.func.count(), since).where(c.status == Status.QUEUED).group_by(c.queue)
        async with self._engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return {row[0]: (int(row[1]), aware(row[2])) for row in rows}
