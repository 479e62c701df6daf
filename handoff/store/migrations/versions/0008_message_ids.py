"""Message ids that clients choose, so that a retried send is stored once (docs/operations.md,
"Exactly-once delivery").

- messages.client_id: the id the customer's client (or the agent's panel) gave a message, null for
  messages sent without one and for the bot's and the system's; unique per conversation (a unique index
  on conversation_id and client_id, which both SQLite and PostgreSQL apply only to non-null ids).
  Existing rows keep null.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07 23:50:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0008'
down_revision: str | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('client_id', sa.String(length=64), nullable=True))
        batch_op.create_index('ix_messages_client_id', ['conversation_id', 'client_id'], unique=True)


def downgrade() -> None:
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.drop_index('ix_messages_client_id')
        batch_op.drop_column('client_id')
