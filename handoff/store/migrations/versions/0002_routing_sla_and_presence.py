"""Routing, SLA and presence: a case's queue, priority, resolution category and SLA clock; a customer's
preferred flag and contract; who is connected to which node.

Cases queued before this revision have no queue (they wait in the last queue) and no SLA deadlines.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01 09:53:06.370256
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('connections',
    sa.Column('node_id', sa.String(length=40), nullable=False),
    sa.Column('sid', sa.String(length=40), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('subject_id', sa.String(length=40), nullable=False),
    sa.Column('availability', sa.String(length=10), nullable=True),
    sa.Column('connected_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('node_id', 'sid')
    )
    with op.batch_alter_table('connections', schema=None) as batch_op:
        batch_op.create_index('ix_connections_subject', ['kind', 'subject_id'], unique=False)

    op.create_table('nodes',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('seen_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('conversations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('queue', sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column('priority', sa.String(length=10), nullable=True))
        batch_op.add_column(sa.Column('resolution_category', sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column('first_response_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('first_response_due_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('resolution_due_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('first_response_sla', sa.String(length=10), nullable=True))
        batch_op.add_column(sa.Column('resolution_sla', sa.String(length=10), nullable=True))
        batch_op.create_index('ix_conversations_customer', ['customer_id'], unique=False)
        batch_op.create_index('ix_conversations_status', ['status'], unique=False)

    with op.batch_alter_table('customers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('preferred', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column('contract', sa.String(length=80), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('customers', schema=None) as batch_op:
        batch_op.drop_column('contract')
        batch_op.drop_column('preferred')

    with op.batch_alter_table('conversations', schema=None) as batch_op:
        batch_op.drop_index('ix_conversations_status')
        batch_op.drop_index('ix_conversations_customer')
        batch_op.drop_column('resolution_sla')
        batch_op.drop_column('first_response_sla')
        batch_op.drop_column('resolution_due_at')
        batch_op.drop_column('first_response_due_at')
        batch_op.drop_column('first_response_at')
        batch_op.drop_column('resolution_category')
        batch_op.drop_column('priority')
        batch_op.drop_column('queue')

    op.drop_table('nodes')
    with op.batch_alter_table('connections', schema=None) as batch_op:
        batch_op.drop_index('ix_connections_subject')

    op.drop_table('connections')
