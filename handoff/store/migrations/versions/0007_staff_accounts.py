"""Staff accounts that can be disabled, and sockets that know their sign-in (docs/security.md, "Staff
accounts and sessions").

- agents.disabled_at: when the account was disabled (null: it is active); a disabled account cannot sign
  in, and its sessions were ended;
- connections.session_hash: the digest of the sign-in session an agent's socket connected with, so that
  ending a session ends its sockets on every node. Existing rows keep null (they are customers' sockets,
  or agents' of an earlier run, forgotten at start).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07 21:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('agents', schema=None) as batch_op:
        batch_op.add_column(sa.Column('disabled_at', sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table('connections', schema=None) as batch_op:
        batch_op.add_column(sa.Column('session_hash', sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('connections', schema=None) as batch_op:
        batch_op.drop_column('session_hash')
    with op.batch_alter_table('agents', schema=None) as batch_op:
        batch_op.drop_column('disabled_at')
