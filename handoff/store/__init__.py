"""The store: everything casedesk keeps, on SQLite (the default) or PostgreSQL, through SQLAlchemy.

- ``sql.py``: `SqlCaseStore`: cases, messages, timeline events, app keys; every write
  in one transaction through the writer threads.
- ``staff.py``, ``feedback.py``, ``contacts.py``, ``presence.py``, ``privacy.py``, ``channels.py``,
  ``audit.py``, ``identity_tokens.py``: the queries of agents and their sessions, of the articles shown and
  the survey, of contacts and accounts, of who is connected, of one contact's data, of external channels'
  chats, of the audit log with who has held each case, and of the identity tokens used (mixins of
  `SqlCaseStore` on `base.Queries`).
- ``tables.py``: the tables; ``records.py``: the frozen records the store hands out and its exceptions.
- ``migrations/``: the schema revisions (Alembic), applied when the store opens.
"""
