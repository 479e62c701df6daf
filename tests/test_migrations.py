"""The store's schema migrations (handoff/store/migrations) on real SQLite files and, where a test takes
`database_url` (tests/conftest.py), on real PostgreSQL databases too: a new database gets exactly the
declared schema, an operator's database from before migrations is stamped and keeps its data, the next
revision is written and applied, a failed one changes nothing, two upgrades at once take turns, and the
``casedesk db`` commands."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from handoff.store import migrations
from handoff.store.records import Agent
from handoff.store.sql import SqlCaseStore
from handoff.store.tables import metadata
from harness.servers import free_port

ROOT = Path(__file__).resolve().parent.parent
BEFORE_MIGRATIONS = ROOT / "tests" / "fixtures" / "store-before-migrations.sql"
HEAD = ScriptDirectory(str(migrations.SCRIPTS)).get_current_head()


def url(path: Path) -> str:
    return f"sqlite+aiosqlite:///{path}"


def sql(path: Path, query: str, *args: Any) -> list[tuple[Any, ...]]:
    with contextlib.closing(sqlite3.connect(path)) as conn:
        rows = conn.execute(query, args).fetchall()
        conn.commit()
    return rows


def schema(path: Path) -> list[tuple[str, str, str]]:
    """The tables and indexes of a SQLite file as its sqlite_master holds them, Alembic's own left out."""
    rows = sql(path, "SELECT type, name, sql FROM sqlite_master WHERE tbl_name != 'alembic_version' ORDER BY 1, 2")
    return [(kind, name, " ".join((text or "").split())) for kind, name, text in rows]


def revision_in(path: Path) -> list[str]:
    return [version for (version,) in sql(path, "SELECT version_num FROM alembic_version")]


async def query(database_url: str, statement: str) -> list[tuple[Any, ...]]:
    """Run one statement on any of the stores' databases (committed); its rows, if it has any."""
    engine = create_async_engine(database_url, poolclass=NullPool)
    try:
        async with engine.begin() as conn:
            result = await conn.exec_driver_sql(statement)
            return [tuple(row) for row in result.all()] if result.returns_rows else []
    finally:
        await engine.dispose()


async def tables(database_url: str) -> dict[str, list[str]]:
    """Every table of the database, Alembic's included, with its columns."""
    engine = create_async_engine(database_url, poolclass=NullPool)
    try:
        async with engine.connect() as conn:
            return await conn.run_sync(lambda sync: {
                name: [column["name"] for column in sa.inspect(sync).get_columns(name)]
                for name in sorted(sa.inspect(sync).get_table_names())
            })
    finally:
        await engine.dispose()


async def schema_diff(database_url: str, target: sa.MetaData = metadata) -> list[Any]:
    """What Alembic's autogenerate finds between the database and ``target``: empty when they agree."""
    engine = create_async_engine(database_url, poolclass=NullPool)
    try:
        async with engine.connect() as conn:
            return await conn.run_sync(lambda sync: compare_metadata(
                MigrationContext.configure(sync, opts={"compare_type": True, "compare_server_default": True}),
                target,
            ))
    finally:
        await engine.dispose()


def made_before_migrations(path: Path) -> None:
    """An operator's database from before migrations (what ``metadata.create_all`` made), with an agent."""
    with contextlib.closing(sqlite3.connect(path)) as conn:
        conn.executescript(BEFORE_MIGRATIONS.read_text())
        conn.execute("INSERT INTO agents VALUES ('a1', 'kim', 'Kim', 'scrypt$x', '2026-01-05 10:00:00.000000')")
        conn.commit()


async def test_a_new_database_gets_exactly_the_declared_schema(database_url: str) -> None:
    store = await SqlCaseStore.open(database_url)
    await store.close()
    assert await query(database_url, "SELECT version_num FROM alembic_version") == [(HEAD,)]
    assert await schema_diff(database_url) == []


async def test_two_upgrades_at_once_take_turns(database_url: str) -> None:
    first, second = await asyncio.gather(migrations.upgrade(database_url), migrations.upgrade(database_url))
    assert {first[0].current, second[0].current} == {None, HEAD}  # one made the schema, the other found it
    assert first[1].current == second[1].current == HEAD
    assert await schema_diff(database_url) == []


async def test_the_baseline_is_the_schema_create_all_made_before_migrations(tmp_path: Path) -> None:
    made_before_migrations(tmp_path / "old.db")
    engine = create_async_engine(url(tmp_path / "baseline.db"))
    async with engine.begin() as conn:
        await conn.run_sync(lambda sync: command.upgrade(migrations.alembic_config(sync), migrations.BASELINE))
    await engine.dispose()
    assert schema(tmp_path / "baseline.db") == schema(tmp_path / "old.db")


async def test_a_database_from_before_migrations_is_stamped_and_keeps_its_data(tmp_path: Path) -> None:
    path = tmp_path / "casedesk.db"
    made_before_migrations(path)
    found = await migrations.revisions(url(path))
    assert found is not None and (found.current, found.before_migrations) == (None, True)

    store = await SqlCaseStore.open(url(path))
    try:
        assert await store.agent_by_username("kim") == Agent("a1", "kim", "Kim", "scrypt$x")
        await store.add_agent("a2", "sam", "Sam", "scrypt$y")  # and it is written to as before
        assert await store.count_agents() == 2
    finally:
        await store.close()
    assert revision_in(path) == [HEAD]
    assert await schema_diff(url(path)) == []
    reopened = await SqlCaseStore.open(url(path))  # stamped once: opening again changes nothing
    assert await reopened.count_agents() == 2
    await reopened.close()
    assert revision_in(path) == [HEAD]


def scripts_copy(tmp_path: Path) -> Path:
    """The migration scripts copied aside, so a test may add revisions without touching the package."""
    scripts = tmp_path / "migrations"
    shutil.copytree(migrations.SCRIPTS, scripts, ignore=shutil.ignore_patterns("__pycache__"))
    return scripts


async def test_the_next_revision_is_written_from_the_tables_and_applied_to_a_database_with_data(
    tmp_path: Path, database_url: str,
) -> None:
    changed = sa.MetaData()
    for table in metadata.tables.values():
        table.to_metadata(changed)
    conversations = changed.tables["conversations"]
    conversations.append_column(sa.Column("weight", sa.Integer, nullable=False, server_default="0"))
    conversations.c.locale.type = sa.String(35)  # SQLite rebuilds the table for this (batch mode)
    sa.Index("ix_conversations_locale", conversations.c.locale)
    scripts = scripts_copy(tmp_path)

    written = await migrations.new_revision("weight and longer locales", scripts, changed)
    assert written.parent == scripts / "versions"
    assert written.name == f"{int(HEAD or 0) + 1:04d}_weight_and_longer_locales.py"
    text = written.read_text()
    assert f"down_revision: str | None = '{HEAD}'" in text
    assert "batch_op.add_column(sa.Column('weight'" in text and "batch_op.alter_column('locale'" in text

    # Written on SQLite whatever the database (batch mode), applied to both.
    store = await SqlCaseStore.open(database_url)  # at the package's head, with a conversation and its messages
    conversation = await store.create_conversation(
        conversation_id="c1", token_hash="t1", customer_id="u1", customer_name="Dana", channel="web",
        locale="en", status="bot", actor="test",
    )
    await store.append_message(conversation.id, sender="customer", sender_name="Dana", text="hello")
    await store.close()

    before, after = await migrations.upgrade(database_url, scripts)
    assert (before.current, after.current) == (HEAD, written.name[:4])
    assert await schema_diff(database_url, changed) == []
    assert await query(database_url, "SELECT id, locale, weight FROM conversations") == [("c1", "en", 0)]
    assert await query(database_url, "SELECT conversation_id, seq, text FROM messages") == [("c1", 1, "hello")]
    path = migrations.sqlite_file(database_url)
    assert path is None or sql(path, "PRAGMA foreign_key_check") == []


async def test_a_failing_revision_changes_nothing(tmp_path: Path, database_url: str) -> None:
    scripts = scripts_copy(tmp_path)
    (scripts / "versions" / "9000_fails.py").write_text(
        f'"""fails half-way"""\n'
        f'import sqlalchemy as sa\nfrom alembic import op\n\n'
        f'revision = "9000"\ndown_revision = "{HEAD}"\n\n\n'
        f'def upgrade() -> None:\n'
        f'    op.create_table("half_done", sa.Column("id", sa.Integer, primary_key=True))\n'
        f'    op.add_column("agents", sa.Column("nickname", sa.String(20)))\n'
        f'    op.execute("SELECT no_such_function()")\n'
    )
    path = migrations.sqlite_file(database_url)
    if path is not None:  # from before migrations: not even the stamp may stay
        made_before_migrations(path)
    else:  # at the head
        await migrations.upgrade(database_url)
        await query(database_url, "INSERT INTO agents VALUES ('a1', 'kim', 'Kim', 'scrypt$x', '2026-01-05 10:00Z')")
    before = await tables(database_url)
    before_sql = schema(path) if path else None
    with pytest.raises(sa.exc.DBAPIError, match="no_such_function"):
        await migrations.upgrade(database_url, scripts)
    assert await tables(database_url) == before  # neither the new table, nor the new column, nor the stamp
    assert ("alembic_version" in before) == (path is None)
    if path is None:
        assert await query(database_url, "SELECT version_num FROM alembic_version") == [(HEAD,)]
    else:
        assert schema(path) == before_sql
    assert await query(database_url, "SELECT username FROM agents") == [("kim",)]


@pytest.mark.parametrize(("damage", "message"), [
    ("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL); INSERT INTO alembic_version VALUES ('0999');",
     "at revision 0999, which this casedesk does not have"),
    ("DROP TABLE surveys;", "some of casedesk's tables but not surveys"),
])
async def test_a_database_it_cannot_place_is_refused_and_left_alone(
    tmp_path: Path, damage: str, message: str
) -> None:
    path = tmp_path / "casedesk.db"
    made_before_migrations(path)
    with contextlib.closing(sqlite3.connect(path)) as conn:
        conn.executescript(damage)
    before = schema(path)
    with pytest.raises(migrations.MigrationError, match=message):
        await SqlCaseStore.open(url(path))
    assert schema(path) == before


def casedesk(tmp_path: Path, *args: str, database_url: str = "") -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CASEDESK_")}
    (tmp_path / "none.toml").write_text("")
    env.update(CASEDESK_SETTINGS=str(tmp_path / "none.toml"),
               CASEDESK_DATABASE_URL=database_url or url(tmp_path / "var" / "casedesk.db"))
    return subprocess.run([sys.executable, "-m", "handoff", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=120, check=False)


def test_the_db_commands_upgrade_and_show_the_revision(tmp_path: Path) -> None:
    def said(*args: str) -> str:
        done = casedesk(tmp_path, "db", *args)
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout.strip()

    assert said("current").startswith("no database yet at sqlite+aiosqlite:///")
    assert said("upgrade") == f"database upgraded from revision none (empty) to {HEAD} (head)"
    assert said("current") == f"revision {HEAD} (head)"
    assert said("upgrade") == f"database already at revision {HEAD} (head)"
    assert revision_in(tmp_path / "var" / "casedesk.db") == [HEAD]

    (tmp_path / "var" / "casedesk.db").unlink()
    made_before_migrations(tmp_path / "var" / "casedesk.db")
    baseline = migrations.BASELINE
    assert said("current") == f"revision none: made before migrations (`casedesk db upgrade` stamps it {baseline}," \
                              " then upgrades it)"
    assert said("upgrade").startswith(f"the database was made before migrations: stamped revision {baseline}\n")
    assert said("current") == f"revision {HEAD} (head)"

    sql(tmp_path / "var" / "casedesk.db", "UPDATE alembic_version SET version_num = '0999'")
    refused = casedesk(tmp_path, "db", "upgrade")
    assert refused.returncode == 1
    assert "error: the database is at revision 0999" in refused.stderr


def test_the_db_commands_on_postgresql(tmp_path: Path, postgres_url: str) -> None:
    def said(*args: str) -> str:
        done = casedesk(tmp_path, "db", *args, database_url=postgres_url)
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout.strip()

    assert said("current") == "revision none: an empty database"
    assert said("upgrade") == f"database upgraded from revision none (empty) to {HEAD} (head)"
    assert said("current") == f"revision {HEAD} (head)"

    nobody = f"postgresql+asyncpg://casedesk:s3cret@127.0.0.1:{free_port()}/casedesk"  # nothing listens there
    refused = casedesk(tmp_path, "db", "upgrade", database_url=nobody)
    assert refused.returncode == 1
    assert refused.stderr.startswith(f"error: cannot open the database {nobody.replace('s3cret', '***')}: ")
    assert "s3cret" not in refused.stderr and "Traceback" not in refused.stderr


async def test_revision_0003_turns_contracts_into_entitlements_and_dates_closed_cases(
    tmp_path: Path, database_url: str,
) -> None:
    at_0002 = scripts_copy(tmp_path)
    for later in (at_0002 / "versions").glob("000[3-9]_*.py"):
        later.unlink()
    await migrations.upgrade(database_url, at_0002)
    assert (await migrations.revisions(database_url)).current == "0002"  # type: ignore[union-attr]
    t, closed = datetime(2026, 11, 30, 10, tzinfo=UTC), datetime(2026, 11, 30, 10, 20, tzinfo=UTC)
    engine = create_async_engine(database_url, poolclass=NullPool)
    try:
        async with engine.begin() as conn:  # rows as revision 0002 had them
            for statement, rows in (
                ("INSERT INTO customers (id, display_name, channel, created_at, preferred, contract) "
                 "VALUES (:id, 'Customer', 'web', :t, false, :contract)",
                 [{"id": "u1", "t": t, "contract": "Gold"}, {"id": "u2", "t": t, "contract": None}]),
                ("INSERT INTO conversations (id, token_hash, customer_id, channel, locale, status, resolution, "
                 "last_seq, created_at, updated_at, last_activity_at, priority) "
                 "VALUES (:id, :id, :customer, 'web', 'en', :status, :resolution, 0, :t, :t, :t, :priority)",
                 [{"id": "c1", "customer": "u1", "status": "resolved", "resolution": "agent", "t": t,
                   "priority": "high"},
                  {"id": "c2", "customer": "u2", "status": "queued", "resolution": None, "t": t,
                   "priority": "normal"}]),
                ("INSERT INTO case_events (conversation_id, from_status, to_status, reason, actor, at) "
                 "VALUES (:id, :before, :after, 'test', 'system', :at)",
                 [{"id": "c1", "before": None, "after": "bot", "at": t},
                  {"id": "c1", "before": "with_agent", "after": "resolved", "at": closed},
                  {"id": "c2", "before": "bot", "after": "queued", "at": t}]),
            ):
                await conn.execute(sa.text(statement), rows)
    finally:
        await engine.dispose()

    await migrations.upgrade(database_url)
    store = await SqlCaseStore.open(database_url)
    try:
        [gold] = await store.entitlements_of("u1")
        assert (gold.name, gold.customer_id, gold.starts_at, gold.ends_at) == ("Gold", "u1", None, None)
        assert await store.entitlements_of("u2") == []
        assert await store.active_entitlement("u1", gold.created_at) == "Gold"
        resolved, queued = await store.conversation("c1"), await store.conversation("c2")
        assert resolved is not None and queued is not None
        assert (resolved.entitlement, resolved.closed_at) == ("Gold", closed)
        assert (queued.entitlement, queued.closed_at) == (None, None)
    finally:
        await store.close()
    assert "contract" not in (await tables(database_url))["customers"]
    assert await schema_diff(database_url) == []


async def test_revision_0004_links_chats_to_conversations_that_keep_their_data(
    tmp_path: Path, database_url: str,
) -> None:
    at_0003 = scripts_copy(tmp_path)
    for later in (at_0003 / "versions").glob("000[4-9]_*.py"):
        later.unlink()
    await migrations.upgrade(database_url, at_0003)
    assert (await migrations.revisions(database_url)).current == "0003"  # type: ignore[union-attr]
    assert "channel_links" not in await tables(database_url)
    store = await SqlCaseStore.open(database_url)  # upgrades to the head, 0004 included
    try:
        assert (await migrations.revisions(database_url)).current == HEAD  # type: ignore[union-attr]
        conversation = await store.create_conversation(
            conversation_id="c1", token_hash="t1", customer_id="u1", customer_name="Dana", channel="telegram",
            locale="en", status="resolved", actor="test",
        )
        await store.link_chat("telegram", "1001", conversation.id)
        assert await store.chat_conversation("telegram", "1001") == "c1"
        assert await store.conversation_chat("c1") == "1001"
        assert await store.chat_conversation("telegram", "2002") is None
        # the link is the contact's data: deleting the contact deletes it (docs/privacy.md)
        deleted = await store.delete_contact("u1")
        assert deleted.rows.get("channel_links") == 1
        assert await store.chat_conversation("telegram", "1001") is None
    finally:
        await store.close()
    assert await schema_diff(database_url) == []


async def test_revision_0005_fills_who_held_each_case_from_what_earlier_revisions_kept(
    tmp_path: Path, database_url: str,
) -> None:
    at_0004 = scripts_copy(tmp_path)
    for later in (at_0004 / "versions").glob("000[5-9]_*.py"):
        later.unlink()
    await migrations.upgrade(database_url, at_0004)
    assert (await migrations.revisions(database_url)).current == "0004"  # type: ignore[union-attr]
    t = datetime(2026, 12, 1, 10, tzinfo=UTC)
    engine = create_async_engine(database_url, poolclass=NullPool)
    try:
        async with engine.begin() as conn:  # rows as revision 0004 had them
            for statement, rows in (
                ("INSERT INTO agents (id, username, display_name, password_hash, created_at, roles) "
                 "VALUES (:id, :name, :name, 'scrypt$x', :t, 'agent')",
                 [{"id": f"a{n}", "name": name, "t": t} for n, name in enumerate(("kim", "lee", "max", "ned"))]),
                ("INSERT INTO customers (id, display_name, channel, created_at, preferred) "
                 "VALUES ('u1', 'Customer', 'web', :t, false)", [{"t": t}]),
                ("INSERT INTO conversations (id, token_hash, customer_id, channel, locale, status, agent_id, "
                 "last_seq, created_at, updated_at, last_activity_at) "
                 "VALUES (:id, :id, 'u1', 'web', 'en', :status, :agent, 0, :t, :t, :t)",
                 [{"id": "c1", "status": "with_agent", "agent": "a0", "t": t},  # kim holds it now
                  {"id": "c2", "status": "resolved", "agent": None, "t": t}]),
                ("INSERT INTO surveys (conversation_id, rating, agent_id, created_at, answered_via) "
                 "VALUES ('c2', 5, 'a1', :t, 'chat')", [{"t": t}]),  # lee resolved it
                ("INSERT INTO case_events (conversation_id, from_status, to_status, reason, actor, at) "
                 "VALUES (:id, :before, :after, :reason, :actor, :t)",
                 [{"id": "c2", "before": "queued", "after": "with_agent", "reason": "accepted", "actor": "agent:max",
                   "t": t},  # max accepted it once
                  {"id": "c2", "before": "bot", "after": "queued", "reason": "customer_request", "actor": "bot",
                   "t": t}]),
            ):
                await conn.execute(sa.text(statement), rows)
    finally:
        await engine.dispose()

    store = await SqlCaseStore.open(database_url)  # upgrades to the head, 0005 included
    try:
        assert await store.held_by("a0", ["c1", "c2"]) == {"c1"}
        assert await store.held_by("a1", ["c1", "c2"]) == {"c2"}
        assert await store.held_by("a2", ["c1", "c2"]) == {"c2"}
        assert await store.held_by("a3", ["c1", "c2"]) == set()  # ned never held one
        # who held a case goes with the case: deleting the contact deletes it (docs/privacy.md)
        await store.update_conversation("c1", status="resolved")
        assert (await store.delete_contact("u1")).rows.get("case_holders") == 3
    finally:
        await store.close()
    assert await schema_diff(database_url) == []
