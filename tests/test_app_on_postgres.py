"""The app on PostgreSQL, end to end: `casedesk serve` with a postgresql+asyncpg:// database_url brings an
empty database to the newest revision, creates the first agent there, and stores a customer's
conversation and the relay both ways. (The other app tests run on SQLite; tests/test_store.py runs the
store itself on both.)"""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from harness.clients import agent_socket, queued_customer, sign_in
from harness.servers import free_port, start_app


async def test_the_app_stores_a_conversation_on_postgresql(tmp_path: Path, postgres_url: str) -> None:
    rasa = f"http://127.0.0.1:{free_port()}"  # nothing listens: the first message is handed over
    app = start_app(tmp_path, rasa, {"CASEDESK_DATABASE_URL": postgres_url, "CASEDESK_RASA_TIMEOUT_SECONDS": "2"})
    try:
        customer, conversation_id = await queued_customer(app.url, "my fork leaks oil")
        agent = await agent_socket(app.url, await sign_in(app.url))  # the first agent, made at start
        await agent.ok("accept_case", {"conversation_id": conversation_id})
        await agent.ok("send_message", {"conversation_id": conversation_id, "text": "Hello from the workshop"})
        await customer.wait_for("message_created", lambda m: m["text"] == "Hello from the workshop")
        await customer.ok("send_message", {"text": "Thanks!"})
        await agent.wait_for("message_created", lambda m: m["text"] == "Thanks!")
        await customer.close()
        await agent.close()
    finally:
        app.stop()

    engine = create_async_engine(postgres_url, poolclass=NullPool)
    try:
        async with engine.connect() as conn:
            case = (await conn.execute(sa.text("SELECT status, agent_id IS NOT NULL, last_seq FROM conversations"
                                               " WHERE id = :id"), {"id": conversation_id})).one()
            stored = (await conn.execute(sa.text("SELECT seq, sender, text FROM messages WHERE conversation_id = :id"
                                                 " ORDER BY seq"), {"id": conversation_id})).all()
    finally:
        await engine.dispose()
    assert tuple(case) == ("with_agent", True, len(stored))
    assert [seq for seq, _, _ in stored] == list(range(1, len(stored) + 1))
    said = [(sender, text) for _, sender, text in stored]
    assert said[0] == ("customer", "my fork leaks oil")
    assert ("agent", "Hello from the workshop") in said and said[-1] == ("customer", "Thanks!")
