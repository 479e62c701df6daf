"""The app: cases and their conversations, the store, the socket namespaces and REST, the agent panel.

Rooms, each with its own map (dependencies point down this list, never up):

- ``app.py``, ``cli.py``: the composition root. The app factory and the ``casedesk`` command build the
  settings once and wire every room, the connectors (connectors/) and the bot's action endpoint (bot/).
- ``web/``: what speaks HTTP and socket.io: the error boundary, the namespaces ``/chat`` and ``/agent``,
  REST routes by subject (``web/routes/``), pages and static files.
- ``editorial/``, ``reports/``, ``privacy/``, ``contacts/``: what editors, supervisors and the law need
  on top of cases: publishing the knowledge base, reports and exports, a contact's data, the directory.
- ``cases/``: the owner of every status change and every message (``Conversations``), the lifecycle,
  routing and queues, the channel port (``Channel``) that connectors implement, the bridge to Rasa.
- ``surveys/``: the questions after a case and their one-time links.
- ``staff/``: agents' accounts and sign-in.
- ``store/``: tables, records, migrations and the queries (SQLAlchemy; SQLite or PostgreSQL).
- ``catalogue/``: every text a customer reads, in English, German and Arabic.
- ``wire/``: the pydantic models of what clients send and the server answers, the mapping of their
  validation errors to the one error shape, and the OpenAPI documents built from them. Depends only on
  pydantic and ``errors.py``; every room above may use it.
- ``settings.py``, ``errors.py``: settings built once, and the one error shape.
"""
