"""Link conversations to the chats of external messaging channels (docs/channels.md).

- channel_links: for each conversation a channel such as Telegram started, the channel's id of the
  chat; the newest link of a chat is its current case. No data moves: there were no such channels.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 13:15:30.172089
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('channel_links',
    sa.Column('conversation_id', sa.String(length=40), nullable=False),
    sa.Column('channel', sa.String(length=20), nullable=False),
    sa.Column('external_id', sa.String(length=100), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['conversation_id'], ['conversations.id'], ),
    sa.PrimaryKeyConstraint('conversation_id')
    )
    with op.batch_alter_table('channel_links', schema=None) as batch_op:
        batch_op.create_index('ix_channel_links_chat', ['channel', 'external_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('channel_links', schema=None) as batch_op:
        batch_op.drop_index('ix_channel_links_chat')

    op.drop_table('channel_links')
