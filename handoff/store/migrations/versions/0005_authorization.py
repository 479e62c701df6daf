"""Authorization by need and the audit log (docs/security.md, "Authorization by need").

- case_holders: the agents who have held each case (they may read it later, whatever their queues);
  filled from what earlier revisions kept: each case's agent now, the agent its survey is stored with,
  and the agents named as the actor of its timeline events;
- audit_log: who did what to which target, when (staff actions).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07 21:05:00.000000
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('case_holders',
    sa.Column('conversation_id', sa.String(length=40), nullable=False),
    sa.Column('agent_id', sa.String(length=40), nullable=False),
    sa.Column('since', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['conversation_id'], ['conversations.id'], ),
    sa.PrimaryKeyConstraint('conversation_id', 'agent_id')
    )
    with op.batch_alter_table('case_holders', schema=None) as batch_op:
        batch_op.create_index('ix_case_holders_agent', ['agent_id'], unique=False)

    op.create_table('audit_log',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('actor_id', sa.String(length=40), nullable=True),
    sa.Column('actor', sa.String(length=80), nullable=False),
    sa.Column('action', sa.String(length=40), nullable=False),
    sa.Column('target', sa.String(length=120), nullable=False),
    sa.Column('details', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.create_index('ix_audit_log_action', ['action'], unique=False)
        batch_op.create_index('ix_audit_log_actor', ['actor'], unique=False)
        batch_op.create_index('ix_audit_log_at', ['at'], unique=False)
        batch_op.create_index('ix_audit_log_target', ['target'], unique=False)

    _fill_case_holders()


def _fill_case_holders() -> None:
    """The holders earlier revisions can tell: the case's agent, its survey's agent, the agents of its events."""
    conn = op.get_bind()
    meta = sa.MetaData()
    conversations = sa.Table('conversations', meta, autoload_with=conn)
    surveys = sa.Table('surveys', meta, autoload_with=conn)
    events = sa.Table('case_events', meta, autoload_with=conn)
    agents = sa.Table('agents', meta, autoload_with=conn)
    holders = sa.Table('case_holders', meta, autoload_with=conn)
    queries = [
        sa.select(conversations.c.id, conversations.c.agent_id).where(conversations.c.agent_id.is_not(None)),
        sa.select(surveys.c.conversation_id, surveys.c.agent_id).where(surveys.c.agent_id.is_not(None)),
        sa.select(events.c.conversation_id, agents.c.id)
        .join(agents, events.c.actor == sa.literal("agent:") + agents.c.username),
    ]
    found = {(row[0], row[1]) for query in queries for row in conn.execute(query)}
    now = datetime.now(UTC)
    if found:
        conn.execute(holders.insert(), [{"conversation_id": c, "agent_id": a, "since": now} for c, a in sorted(found)])


def downgrade() -> None:
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_log_target')
        batch_op.drop_index('ix_audit_log_at')
        batch_op.drop_index('ix_audit_log_actor')
        batch_op.drop_index('ix_audit_log_action')

    op.drop_table('audit_log')
    with op.batch_alter_table('case_holders', schema=None) as batch_op:
        batch_op.drop_index('ix_case_holders_agent')

    op.drop_table('case_holders')
