"""Alembic's environment for the store. handoff.store.migrations runs it with the connection in
``config.attributes``, inside its own transaction; there is no alembic.ini and no offline mode."""

from alembic import context

from handoff.store.tables import metadata

config = context.config
connection = config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations with `casedesk db upgrade` (handoff.store.migrations): it passes the connection")

context.configure(
    connection=connection,
    target_metadata=config.attributes.get("target_metadata", metadata),
    render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters a table by rebuilding it
    transactional_ddl=True,  # handoff.store.migrations makes SQLite's DDL part of the transaction
    compare_server_default=True,
)
with context.begin_transaction():
    context.run_migrations()
