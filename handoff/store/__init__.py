"""The store: everything casedesk keeps, on SQLite (the default) or PostgreSQL, through SQLAlchemy.

- ``sql.py``: `SqlCaseStore`: agents, sessions, cases, messages, timeline events, surveys; every write
  in one transaction through the writer threads.
- ``contacts.py``, ``presence.py``, ``privacy.py``, ``channels.py``: the queries of contacts and accounts,
  of who is connected, of one contact's data and of external channels' chats (mixins of `SqlCaseStore`).
- ``tables.py``: the tables; ``records.py``: the frozen records the store hands out and its exceptions.
- ``migrations/``: the schema revisions (Alembic), applied when the store opens.
"""
