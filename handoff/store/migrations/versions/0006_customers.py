"""Identity tokens that have started a conversation (docs/contacts.md, issue 17: customers).

- used_identity_tokens: the jti of each identity token that started a conversation, kept until the
  token could no longer be accepted; a token starts one conversation at most. No data moves.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07 21:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('used_identity_tokens',
    sa.Column('token_id', sa.String(length=200), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('token_id')
    )
    with op.batch_alter_table('used_identity_tokens', schema=None) as batch_op:
        batch_op.create_index('ix_used_identity_tokens_expires', ['expires_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('used_identity_tokens', schema=None) as batch_op:
        batch_op.drop_index('ix_used_identity_tokens_expires')

    op.drop_table('used_identity_tokens')
