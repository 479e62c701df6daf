"""The two statements that store a message (`SqlCaseStore.append_message`), built once per shape and reused
with their values bound: building SQLAlchemy statements anew costs about 0.4 ms a message, more than
SQLite takes to run them."""

from __future__ import annotations

import functools
from typing import Any

import sqlalchemy as sa

from handoff.store.tables import conversations, messages

INSERT_MESSAGE = messages.insert()


@functools.cache
def numbering(checks_status: bool, checks_agent: bool, awaits: bool, titles: bool) -> sa.Update:
    """The update that takes a conversation's next sequence number and returns what the message path needs
    (`SqlCaseStore.append_message`). Its values: ``b_id``, ``b_now``, and as the shape asks ``b_statuses``
    (a list), ``b_agent``, ``b_awaiting``, ``b_title``."""
    c = conversations.c
    where = [c.id == sa.bindparam("b_id")]
    if checks_status:
        where.append(c.status.in_(sa.bindparam("b_statuses", expanding=True)))
    if checks_agent:
        where.append(c.agent_id == sa.bindparam("b_agent"))
    values: dict[str, Any] = {"last_seq": c.last_seq + 1, "last_activity_at": sa.bindparam("b_now")}
    if awaits:
        values["awaiting"] = sa.bindparam("b_awaiting")
    if titles:
        values["title"] = sa.func.coalesce(c.title, sa.bindparam("b_title", type_=c.title.type))
    return (conversations.update().where(*where).values(values)
            .returning(c.last_seq, c.status, c.agent_id, c.first_response_at, c.channel))
