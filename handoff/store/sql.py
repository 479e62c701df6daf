"""The case store: cases, messages and their timeline events, behind one writer.

SQLAlchemy 2, on SQLite (the embedded default, WAL mode) or PostgreSQL. Reads are awaited, on the event
loop (asyncpg) or, on SQLite, in reader threads with sqlite3, one hop a statement (reads.py); writes run
in the store's writer threads (`SqlCaseStore._write`: one on SQLite, four on PostgreSQL) with the blocking
driver (sqlite3, psycopg), a transaction each, so a message is stored in one hop however many statements
it takes. Sequence numbers are taken in the statement that stores them, and every status change is a
compare-and-set on the current status stored together with its timeline event, so several processes may
share the database.

The tables are in tables.py, the records the store hands out in records.py; agents and their sessions
(staff.py), the articles shown and the survey (feedback.py), contacts and accounts (contacts.py), who is
connected (presence.py), privacy (privacy.py), the chats of external channels (channels.py), the audit log
with who has held each case (audit.py) and the identity tokens used (identity_tokens.py) are mixins of
`SqlCaseStore` on the same tables and the same writer.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import json
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from datetime import datetime
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from handoff.store import migrations
from handoff.store.audit import AuditQueries
from handoff.store.base import insert_absent
from handoff.store.channels import ChannelLinkQueries
from handoff.store.contacts import ContactQueries
from handoff.store.feedback import FeedbackQueries
from handoff.store.identity_tokens import IdentityTokenQueries
from handoff.store.numbering import INSERT_MESSAGE, numbering
from handoff.store.presence import PresenceQueries
from handoff.store.privacy import PrivacyQueries
from handoff.store.queue_places import QueuePlaceQueries
from handoff.store.reads import READERS, ThreadReads
from handoff.store.records import (
    CaseEvent,
    Conversation,
    Identity,
    Message,
    Posted,
    Reason,
    StaleStatus,
    Status,
    aware,
    utcnow,
)
from handoff.store.staff import StaffQueries
from handoff.store.tables import (
    agents,
    app_keys,
    case_events,
    conversations,
    customers,
    messages,
    surveys,
)

AWAITS = {"customer": "agent", "agent": "customer"}  # who is to write next after a message of each
TITLE_LENGTH = 120


def title_of(text: str) -> str:
    """A case's title: the customer's first message, on one line, shortened at a word."""
    line = " ".join(text.split())
    if len(line) <= TITLE_LENGTH:
        return line
    return line[:TITLE_LENGTH].rsplit(" ", 1)[0].rstrip(" ,.;:") + "…"


SYNC_DRIVERS = {  # async driver -> its blocking twin
    "sqlite+aiosqlite": "sqlite+pysqlite",
    "postgresql+asyncpg": "postgresql+psycopg",
}
# PostgreSQL's connections: each app process keeps up to 10 (and 5 more at a peak) for its reads and one for
# its writer thread, so a server's default 100 serve some 6 processes; a pooled connection is checked before
# it is used, so connections that a server restart broke are replaced, not handed out.
# Writer threads per process: SQLite takes one writer at a time anyway; PostgreSQL commits several at
# once (each commit waits for its flush to disk, and concurrent ones share it: bench/store.py).
WRITERS = {"sqlite": 1, "postgresql": 4}
POSTGRES_POOLS = {
    "reads": {"pool_size": 10, "max_overflow": 5, "pool_pre_ping": True},
    "writes": {"pool_size": WRITERS["postgresql"], "max_overflow": 0, "pool_pre_ping": True},
}
T = TypeVar("T")
BY_ID = conversations.c.id == sa.bindparam("b_id")  # one case, by the value bound to b_id


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.execute("PRAGMA secure_delete=ON")  # a deleted row's bytes are overwritten (docs/privacy.md)
    cursor.close()


class SqlCaseStore(StaffQueries, FeedbackQueries, ContactQueries, PresenceQueries, PrivacyQueries,
                   ChannelLinkQueries, AuditQueries, IdentityTokenQueries, QueuePlaceQueries):
    """Everything the app stores, behind async methods. Open with :meth:`open`, close with :meth:`close`.
    Contacts and accounts, presence, and privacy (a contact's export and deletion, retention): the mixins."""

    def __init__(self, engine: AsyncEngine | ThreadReads, writer_engine: sa.Engine) -> None:
        self._engine = engine  # reads: on the event loop (PostgreSQL), in reader threads (SQLite: reads.py)
        self._writer_engine = writer_engine  # writes, in the writer thread (`_write`)
        self._writer = concurrent.futures.ThreadPoolExecutor(max_workers=WRITERS[writer_engine.dialect.name],
                                                             thread_name_prefix="store-writer")

    @classmethod
    async def open(cls, url: str) -> SqlCaseStore:
        """Open the database, first bringing it to the newest schema revision (handoff.store.migrations)."""
        await migrations.upgrade(url)
        postgres = sa.make_url(url).get_backend_name() == "postgresql"
        engine = create_async_engine(url, **(POSTGRES_POOLS["reads"] if postgres else {}))
        # The writer thread uses the database's plain (blocking) driver.
        writer = sa.create_engine(engine.url.set(drivername=SYNC_DRIVERS.get(engine.url.drivername,
                                                                               engine.url.drivername)),
                                  **(POSTGRES_POOLS["writes"] if postgres else {}))
        if engine.dialect.name != "sqlite":
            return cls(engine, writer)
        reader = sa.create_engine(writer.url, pool_size=READERS, max_overflow=0)
        for sync_engine in (engine.sync_engine, writer, reader):
            sa.event.listen(sync_engine, "connect", _sqlite_pragmas)
        return cls(ThreadReads(reader, engine), writer)

    async def close(self) -> None:
        await self._engine.dispose()
        await asyncio.get_running_loop().run_in_executor(self._writer, self._writer_engine.dispose)
        self._writer.shutdown()

    # -- conversations ---------------------------------------------------------------------------

    async def create_conversation(
        self, *, conversation_id: str, token_hash: str, customer_id: str, customer_name: str,
        channel: str, locale: str, status: str, actor: str, identity: Identity | None = None,
    ) -> Conversation:
        """A new conversation of the contact ``customer_id`` (made when unknown); with the host site's
        ``identity``, of the contact known by it instead (made when unknown; its name and e-mail follow
        the identity's claims)."""
        now = utcnow()
        def write(conn: sa.Connection) -> Any:
            contact_id = customer_id
            if identity is not None:
                contact_id = conn.scalar(sa.select(customers.c.id)
                                         .where(customers.c.external_id == identity.external_id)) or customer_id
            known = conn.scalar(sa.select(customers.c.id).where(customers.c.id == contact_id))
            if known is None:
                conn.execute(customers.insert().values(
                    id=contact_id, display_name=(identity and identity.name) or customer_name, channel=channel,
                    created_at=now, external_id=identity and identity.external_id, email=identity and identity.email,
                ))
            elif identity is not None and (claims := {k: v for k, v in (("display_name", identity.name),
                                                                         ("email", identity.email)) if v}):
                conn.execute(customers.update().where(customers.c.id == contact_id).values(claims))
            conn.execute(conversations.insert().values(
                id=conversation_id, token_hash=token_hash, customer_id=contact_id, channel=channel,
                locale=locale, status=status, last_seq=0, created_at=now, updated_at=now,
                last_activity_at=now,
            ))
            conn.execute(case_events.insert().values(
                conversation_id=conversation_id, from_status=None, to_status=status,
                reason=Reason.CONVERSATION_STARTED, actor=actor, at=now,
            ))
        try:
            await self._write(write)
        except sa.exc.IntegrityError:
            if identity is None:
                raise
            await self._write(write)  # another node made the contact meanwhile: now it is found
        conversation = await self.conversation(conversation_id)
        assert conversation is not None
        return conversation

    @staticmethod
    @functools.cache
    def _conversation_query() -> sa.Select[Any]:
        """A case with its contact's, agent's and survey's columns: built once (building it took 0.3 ms)."""
        return (
            sa.select(
                conversations,
                customers.c.display_name.label("customer_name"),
                customers.c.preferred.label("customer_preferred"),
                customers.c.external_id.label("customer_external_id"),
                customers.c.account_id.label("customer_account_id"),
                agents.c.display_name.label("agent_name"),
                (surveys.c.conversation_id.is_not(None)).label("survey_answered"),
            )
            .join(customers, customers.c.id == conversations.c.customer_id)
            .outerjoin(agents, agents.c.id == conversations.c.agent_id)
            .outerjoin(surveys, surveys.c.conversation_id == conversations.c.id)
        )

    @staticmethod
    def _to_conversation(row: Any) -> Conversation:
        return Conversation(
            id=row.id, number=row.number, customer_id=row.customer_id, customer_name=row.customer_name,
            customer_preferred=bool(row.customer_preferred),
            channel=row.channel, locale=row.locale, status=Status(row.status), resolution=row.resolution,
            escalation_reason=row.escalation_reason, agent_id=row.agent_id, agent_name=row.agent_name,
            last_seq=row.last_seq, created_at=aware(row.created_at),
            queued_at=aware(row.queued_at), last_activity_at=aware(row.last_activity_at),
            survey_answered=bool(row.survey_answered), queue=row.queue, priority=row.priority,
            resolution_category=row.resolution_category, first_response_at=aware(row.first_response_at),
            first_response_due_at=aware(row.first_response_due_at), resolution_due_at=aware(row.resolution_due_at),
            first_response_sla=row.first_response_sla, resolution_sla=row.resolution_sla,
            title=row.title, awaiting=row.awaiting, entitlement=row.entitlement, closed_at=aware(row.closed_at),
            customer_external_id=row.customer_external_id, customer_account_id=row.customer_account_id,
        )

    async def _select_conversations(self, where: Any, order_by: Any = None,
                                    params: dict[str, Any] | None = None) -> list[Conversation]:
        query = self._conversation_query().where(where)
        if order_by is not None:
            query = query.order_by(order_by)
        async with self._engine.connect() as conn:
            rows = (await conn.execute(query, params)).all()
        return [self._to_conversation(row) for row in rows]

    async def conversation(self, conversation_id: str) -> Conversation | None:
        found = await self._select_conversations(BY_ID, params={"b_id": conversation_id})
        return found[0] if found else None

    async def conversation_by_token(self, token_hash: str) -> Conversation | None:
        found = await self._select_conversations(conversations.c.token_hash == token_hash)
        return found[0] if found else None

    async def conversations_in(self, statuses: Iterable[str], agent_id: str | None = None) -> list[Conversation]:
        where: sa.ColumnElement[bool] = conversations.c.status.in_(list(statuses))
        if agent_id is not None:
            where = sa.and_(where, conversations.c.agent_id == agent_id)
        return await self._select_conversations(
            where, sa.func.coalesce(conversations.c.queued_at, conversations.c.created_at)
        )

    async def customer_conversations(self, customer_id: str) -> list[Conversation]:
        """Every conversation of one customer, newest first."""
        return await self._select_conversations(conversations.c.customer_id == customer_id,
                                                conversations.c.number.desc())

    async def update_conversation(self, conversation_id: str, **fields: Any) -> None:
        """Fields that are no status change: the first response, SLA states, priority."""
        def write(conn: sa.Connection) -> Any:
            conn.execute(conversations.update().where(conversations.c.id == conversation_id).values(**fields))
        await self._write(write)

    async def change_sla(self, conversation_id: str, target: str, *, expected: str | None, state: str,
                         status: str) -> bool:
        """Set one SLA target's state (``target``: first_response or resolution) if it is still
        ``expected`` and the case still ``status``, with its timeline event, atomically; False when
        another node did it first."""
        column = conversations.c[f"{target}_sla"]
        now = utcnow()
        def write(conn: sa.Connection) -> Any:
            result = conn.execute(
                conversations.update()
                .where(conversations.c.id == conversation_id, conversations.c.status == status,
                       column.is_(None) if expected is None else column == expected)
                .values({column: state})
            )
            if result.rowcount != 1:
                return False
            conn.execute(case_events.insert().values(
                conversation_id=conversation_id, from_status=status, to_status=status,
                reason=Reason(f"sla_{target}_{state}"), actor="system", at=now,
            ))
            return True
        return await self._write(write)

    async def idle_conversations(self, status: str, before: datetime) -> list[Conversation]:
        return await self._select_conversations(sa.and_(
            conversations.c.status == status, conversations.c.last_activity_at < before,
        ))

    async def change_status(
        self, conversation_id: str, *, expected: str, status: str, reason: str, actor: str,
        fields: dict[str, Any],
    ) -> CaseEvent:
        """Set the status if it is still ``expected`` and record the timeline event, atomically."""
        now = utcnow()
        def write(conn: sa.Connection) -> Any:
            result = conn.execute(
                conversations.update()
                .where(conversations.c.id == conversation_id, conversations.c.status == expected)
                .values(status=status, updated_at=now, **fields)
            )
            if result.rowcount != 1:
                raise StaleStatus(conversation_id)
            conn.execute(case_events.insert().values(
                conversation_id=conversation_id, from_status=expected, to_status=status,
                reason=reason, actor=actor, at=now,
            ))
        await self._write(write)
        return CaseEvent(expected, status, reason, actor, now)

    async def events(self, conversation_id: str) -> list[CaseEvent]:
        query = (
            sa.select(case_events)
            .where(case_events.c.conversation_id == conversation_id)
            .order_by(case_events.c.id)
        )
        async with self._engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [CaseEvent(r.from_status, r.to_status, r.reason, r.actor, aware(r.at)) for r in rows]

    async def recent_durations(self, status: str, then: str, limit: int) -> list[float]:
        """Seconds that the last ``limit`` cases to go from ``status`` to ``then`` spent in ``status``
        (since they last entered it), newest first: e.g. agents' handling times."""
        left, entered = case_events.alias("left_status"), case_events.alias("entered_status")
        since = (
            sa.select(sa.func.max(entered.c.at))
            .where(entered.c.conversation_id == left.c.conversation_id, entered.c.to_status == status,
                   entered.c.id < left.c.id)
            .scalar_subquery()
        )
        query = (
            sa.select(left.c.at, since.label("since"))
            .where(left.c.from_status == status, left.c.to_status == then)
            .order_by(left.c.id.desc())
            .limit(limit)
        )
        async with self._engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [(aware(r.at) - aware(r.since)).total_seconds() for r in rows if r.since is not None]

    # -- messages --------------------------------------------------------------------------------

    async def append_message(
        self, conversation_id: str, *, sender: str, sender_name: str, text: str,
        data: dict[str, Any] | None = None, statuses: Iterable[str] | None = None, agent_id: str | None = None,
        client_id: str | None = None,
    ) -> Posted:
        """Store a message under the conversation's next sequence number (committed on return). With
        ``statuses`` (and ``agent_id``): only while the conversation is in one of them (and is that
        agent's), else `StaleStatus`. `KeyError` when there is no such conversation. With ``client_id``:
        when the conversation has a message of that id already (stored by another process meanwhile),
        nothing is stored and that message is returned (`Posted.repeated`)."""
        now = utcnow()
        data = data or {}
        params: dict[str, Any] = {"b_id": conversation_id, "b_now": now}
        if statuses is not None:
            params["b_statuses"] = list(statuses)
        if agent_id is not None:
            params["b_agent"] = agent_id
        if sender in AWAITS:
            params["b_awaiting"] = AWAITS[sender]
        if sender == "customer" and not data.get("payload"):
            params["b_title"] = title_of(text)
        update = numbering(statuses is not None, agent_id is not None, "b_awaiting" in params, "b_title" in params)
        def write(conn: sa.Connection) -> Any:
            # One statement checks the conversation and takes the next number, so app processes
            # sharing the database never collide, and the message path needs no read before it.
            found = conn.execute(update, params).first()
            if found is None:
                exists = conn.scalar(sa.select(conversations.c.id).where(conversations.c.id == conversation_id))
                raise StaleStatus(conversation_id) if exists else KeyError(conversation_id)
            conn.execute(INSERT_MESSAGE, {
                "conversation_id": conversation_id, "seq": found.last_seq, "sender": sender,
                "sender_name": sender_name, "text": text, "data": json.dumps(data, ensure_ascii=False),
                "created_at": now, "client_id": client_id,
            })
            return found
        try:
            found = await self._write(write)
        except sa.exc.IntegrityError:
            stored = await self.message_by_client_id(conversation_id, client_id) if client_id else None
            if stored is None:
                raise
            conversation = await self.conversation(conversation_id)
            assert conversation is not None
            return Posted(stored, conversation.status, conversation.agent_id, conversation.first_response_at,
                          conversation.channel, repeated=True)
        message = Message(conversation_id, found.last_seq, sender, sender_name, text, data, now, client_id)
        return Posted(message, found.status, found.agent_id, aware(found.first_response_at), found.channel)

    async def message_by_client_id(self, conversation_id: str, client_id: str) -> Message | None:
        """The conversation's message that its client sent with the id ``client_id``, if there is one."""
        rows = await self._select(messages, (messages.c.conversation_id == conversation_id)
                                  & (messages.c.client_id == client_id))
        return self._to_message(rows[0]) if rows else None

    async def awaiting_bot(self, before: datetime | None = None) -> list[str]:
        """The conversations with the bot whose latest message (but private notes) is the customer's (stored
        ``before``, when given): their bot turn never happened (the app stopped in between), oldest first."""
        latest = (sa.select(messages.c.conversation_id, sa.func.max(messages.c.seq).label("seq"))
                  .where(messages.c.sender != "note").group_by(messages.c.conversation_id).subquery())
        query = (sa.select(conversations.c.id)
                 .join(latest, latest.c.conversation_id == conversations.c.id)
                 .join(messages, (messages.c.conversation_id == latest.c.conversation_id)
                       & (messages.c.seq == latest.c.seq))
                 .where(conversations.c.status == Status.BOT, messages.c.sender == "customer",
                        *([messages.c.created_at < before] if before else []))
                 .order_by(messages.c.created_at))
        async with self._engine.connect() as conn:
            return list((await conn.execute(query)).scalars())

    async def messages_after(self, conversation_id: str, after_seq: int = 0) -> list[Message]:
        query = (
            sa.select(messages)
            .where(messages.c.conversation_id == conversation_id, messages.c.seq > after_seq)
            .order_by(messages.c.seq)
        )
        async with self._engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [self._to_message(r) for r in rows]

    async def last_message_from(self, conversation_id: str, senders: Sequence[str]) -> Message | None:
        query = (
            sa.select(messages)
            .where(messages.c.conversation_id == conversation_id, messages.c.sender.in_(senders))
            .order_by(messages.c.seq.desc())
            .limit(1)
        )
        async with self._engine.connect() as conn:
            row = (await conn.execute(query)).first()
        return self._to_message(row) if row else None

    @staticmethod
    def _to_message(row: Any) -> Message:
        return Message(
            row.conversation_id, row.seq, row.sender, row.sender_name, row.text,
            json.loads(row.data), aware(row.created_at), row.client_id,
        )

    # -- keys the app makes itself ----------------------------------------------------------------

    async def app_key(self, name: str, make: Callable[[], str] | None = None) -> str | None:
        """The value of the app's key ``name``. With ``make``: made and stored on first use, once for
        every process sharing the database (the first insert wins; the others read it). Without: None
        while there is none."""
        query = sa.select(app_keys.c.value).where(app_keys.c.name == name)
        async with self._engine.connect() as conn:
            value = await conn.scalar(query)
        if value is not None or make is None:
            return value
        candidate = make()
        def write(conn: sa.Connection) -> Any:
            insert_absent(conn, app_keys, {"name": name, "value": candidate, "created_at": utcnow()})
            return conn.scalar(query)
        return await self._write(write)  # type: ignore[no-any-return]

    # -- reports -------------------------------------------------------------------------------

    async def rows(self, query: sa.Select[Any]) -> AsyncIterator[sa.Row[Any]]:
        """The rows of a read-only query, streamed from the database on the event loop (reports and
        exports build their own queries over the tables above)."""
        async with self._engine.connect() as conn:
            result = await conn.stream(query)
            async for row in result:
                yield row

    # -- plumbing --------------------------------------------------------------------------------

    async def _select(self, table: sa.Table, where: Any, order_by: Any = None, limit: int | None = None) -> list[Any]:
        query = sa.select(table).where(where)
        if order_by is not None:
            query = query.order_by(order_by)
        if limit is not None:
            query = query.limit(limit)
        async with self._engine.connect() as conn:
            return list((await conn.execute(query)).all())

    async def _write(self, fn: Callable[[sa.Connection], T]) -> T:
        """Run ``fn`` in a writer thread of the store (`WRITERS`), in a transaction of its own (committed
        when it returns, rolled back when it raises): a write is one hop from the event loop however many
        statements it has. On SQLite one thread writes, so writes never wait on each other's locks; on
        PostgreSQL several commit at once, as the writes of several app processes do anyway."""
        def run() -> T:
            with self._writer_engine.begin() as conn:
                return fn(conn)

        return await asyncio.get_running_loop().run_in_executor(self._writer, run)
