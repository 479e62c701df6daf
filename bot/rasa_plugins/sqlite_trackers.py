"""Rasa's SQLTrackerStore, made cheap on SQLite (issue 18; docs/benchmarks.md, "Tracker store").

Rasa opens a new SQLite connection for every read and write of a tracker and commits in SQLite's default
rollback journal with a full sync, some 30 ms a turn on our disks, during which its event loop waits. Here
one connection is kept and the file is in WAL mode with ``synchronous=NORMAL``: a commit writes the log
without waiting for the disk (a power cut may lose the last turns' dialogue state, never corrupt it). On
PostgreSQL the store is Rasa's own, unchanged. Named in bot/endpoints.yml as
``bot.rasa_plugins.sqlite_trackers.SQLiteTrackerStore``; Rasa puts the project's root on its path.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from rasa.core.tracker_store import SQLTrackerStore
from sqlalchemy.pool import StaticPool


class SQLiteTrackerStore(SQLTrackerStore):  # type: ignore[misc]
    engine: sa.engine.Engine

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.engine.dialect.name != "sqlite":
            return
        url = self.engine.url
        self.engine.dispose()
        # One connection, used by Rasa's one event-loop thread (the store's calls are synchronous there).
        self.engine = sa.create_engine(url, poolclass=StaticPool, connect_args={"check_same_thread": False})

        @sa.event.listens_for(self.engine, "connect")
        def pragmas(connection: Any, _record: Any) -> None:
            cursor = connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA busy_timeout=5000")  # the other process of a blue/green switch
            cursor.close()

        self.sessionmaker = sa.orm.session.sessionmaker(bind=self.engine)
