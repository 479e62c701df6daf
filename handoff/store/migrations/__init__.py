"""The store's schema under Alembic: bring a database to the newest revision, say which revision it is
at, write the next revision.

The scripts live beside this module (``env.py``, ``script.py.mako``, ``versions/``) and ship with the
package; the Alembic configuration is built here, so there is no ``alembic.ini``. Revisions are numbered
``0001``, ``0002``, ... Revision ``0001`` is exactly the schema that ``metadata.create_all`` made before
migrations existed: a database that has those tables and no revision is stamped ``0001``, then upgraded.
The same revisions run on SQLite and PostgreSQL.
"""

from __future__ import annotations

import dataclasses
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import Script, ScriptDirectory
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

SCRIPTS = Path(__file__).resolve().parent
BASELINE = "0001"
BASELINE_TABLES = frozenset({
    "agents", "agent_sessions", "customers", "conversations", "messages", "case_events", "surveys",
})

# PostgreSQL's advisory lock (per database) that migration runs take turns on: "casedesk" in ASCII.
LOCK = int.from_bytes(b"casedesk")
T = TypeVar("T")


class MigrationError(RuntimeError):
    """The database cannot be brought to the newest revision; the message says why."""


@dataclasses.dataclass(frozen=True)
class Revisions:
    current: str | None  # None: no revision recorded (an empty database, or one from before migrations)
    head: str
    before_migrations: bool  # the baseline's tables without a recorded revision (made by create_all)

    def describe(self) -> str:
        if self.before_migrations:
            return f"none: made before migrations (`casedesk db upgrade` stamps it {BASELINE}, then upgrades it)"
        if self.current is None:
            return "none: an empty database"
        return f"{self.current} (head)" if self.current == self.head else f"{self.current} (head is {self.head})"


def sqlite_file(url: str) -> Path | None:
    """The file of a SQLite URL; None for an in-memory database or another database."""
    parsed = sa.make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        return None
    return Path(parsed.database)


def alembic_config(
    connection: sa.Connection, scripts: Path = SCRIPTS, target_metadata: sa.MetaData | None = None
) -> Config:
    """Alembic's configuration, in code; ``env.py`` migrates ``connection`` to ``target_metadata``
    (the store's ``metadata`` by default)."""
    config = Config()
    config.set_main_option("script_location", str(scripts).replace("%", "%%"))
    config.set_main_option("file_template", "%%(rev)s_%%(slug)s")
    config.attributes["connection"] = connection
    if target_metadata is not None:
        config.attributes["target_metadata"] = target_metadata
    return config


def _engine(url: str) -> AsyncEngine:
    """An engine for one migration run, which is one transaction, DDL included. On SQLite the sqlite3
    module would otherwise run each CREATE and ALTER outside it, and a failed migration would leave half a
    schema; the transaction is begun IMMEDIATE so that two processes upgrading at once take turns. Foreign
    keys are not enforced during the run (SQLite ignores that switch inside a transaction, hence here): batch
    mode rebuilds a table by copying it, dropping the old one and renaming the copy, and dropping a table that
    others reference would fail. The references are checked once at the end instead. PostgreSQL's DDL is
    transactional as it is; there the run takes turns by a lock (`_run`)."""
    engine = create_async_engine(url, poolclass=NullPool)
    if engine.dialect.name == "sqlite":
        @sa.event.listens_for(engine.sync_engine, "connect")
        def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.isolation_level = None  # we say BEGIN ourselves
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=OFF")
            cursor.execute("PRAGMA busy_timeout=5000")
            cursor.close()

        @sa.event.listens_for(engine.sync_engine, "begin")
        def _sqlite_begin(connection: sa.Connection) -> None:
            connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


async def _run(url: str, job: Callable[[sa.Connection], T]) -> T:
    engine = _engine(url)
    try:
        try:
            connection = await engine.connect()
        except (OSError, sa.exc.DBAPIError) as exc:
            reason = exc.orig if isinstance(exc, sa.exc.DBAPIError) else exc
            raise MigrationError(f"cannot open the database {engine.url.render_as_string()}: {reason}") from exc
        try:
            async with connection.begin():
                if connection.dialect.name == "postgresql":
                    # Two processes upgrading at once take turns: the lock is held until the transaction ends.
                    await connection.execute(sa.select(sa.func.pg_advisory_xact_lock(LOCK)))
                return await connection.run_sync(job)
        finally:
            await connection.close()
    finally:
        await engine.dispose()


def _revisions(connection: sa.Connection, config: Config) -> Revisions:
    scripts = ScriptDirectory.from_config(config)
    head = scripts.get_current_head()
    if head is None:
        raise MigrationError(f"no revisions in {scripts.dir}")
    current = MigrationContext.configure(connection, opts={"transactional_ddl": True}).get_current_revision()
    if current is not None and current not in {script.revision for script in scripts.walk_revisions()}:
        raise MigrationError(f"the database is at revision {current}, which this casedesk does not have (the newest"
                             f" it knows is {head}): was it upgraded by a newer version? Nothing was changed")
    ours: frozenset[str] = frozenset()
    if current is None:
        ours = BASELINE_TABLES & set(sa.inspect(connection).get_table_names())
        if ours and ours != BASELINE_TABLES:
            missing = ", ".join(sorted(BASELINE_TABLES - ours))
            raise MigrationError(f"the database has some of casedesk's tables but not {missing}, and no revision:"
                                 " it was not made by casedesk; nothing was changed")
    return Revisions(current, head, before_migrations=bool(ours))


def _upgrade(connection: sa.Connection, scripts: Path) -> tuple[Revisions, Revisions]:
    config = alembic_config(connection, scripts)
    before = _revisions(connection, config)
    if before.before_migrations:
        command.stamp(config, BASELINE)
    command.upgrade(config, "head")
    if connection.dialect.name == "sqlite":
        broken = connection.exec_driver_sql("PRAGMA foreign_key_check").all()
        if broken:
            raise MigrationError(f"the upgrade would leave {len(broken)} broken references (the first: table,"
                                 f" rowid, parent: {tuple(broken[0])[:3]}); nothing was changed")
    return before, _revisions(connection, config)


async def upgrade(url: str, scripts: Path = SCRIPTS) -> tuple[Revisions, Revisions]:
    """Bring the database to the newest revision, creating a SQLite file when needed (a PostgreSQL database
    must exist); all or nothing. Returns the revisions before and after."""
    path = sqlite_file(url)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
    elif sa.make_url(url).get_backend_name() == "sqlite":
        raise MigrationError("an in-memory SQLite database is not supported (the migrations run on their own"
                             " connection, which would see another, empty database); use a file")
    return await _run(url, lambda connection: _upgrade(connection, scripts))


async def revisions(url: str) -> Revisions | None:
    """The database's revision and the newest; None when the SQLite file does not exist (yet)."""
    path = sqlite_file(url)
    if path is not None and not path.exists():
        return None
    return await _run(url, lambda connection: _revisions(connection, alembic_config(connection)))


async def new_revision(message: str, scripts: Path = SCRIPTS, target_metadata: sa.MetaData | None = None) -> Path:
    """Write the next revision into ``scripts/versions``: what ``target_metadata`` (the store's by
    default) has that the newest revision does not, found by comparing it with a scratch database upgraded
    to the newest revision: a SQLite file, whatever database the app uses. The revision is written in batch
    mode, which SQLite needs and PostgreSQL runs as plain ALTER TABLEs. Returns the new file, to be read and
    completed before it is committed."""
    def write(connection: sa.Connection) -> Path:
        config = alembic_config(connection, scripts, target_metadata)
        command.upgrade(config, "head")
        head = _revisions(connection, config).head
        script = command.revision(config, message, autogenerate=True, rev_id=f"{int(head) + 1:04d}")
        assert isinstance(script, Script)
        return Path(script.path)

    with tempfile.TemporaryDirectory() as scratch:
        return await _run(f"sqlite+aiosqlite:///{Path(scratch) / 'scratch.db'}", write)
