"""The timeline's transitions indexed, newest last: an agent's recent handling times (`recent_durations`, the
expected wait of every queue place) are read from the last cases that went from with_agent to resolved,
which without this index meant reading the whole timeline whenever few cases had been resolved
(bench/relay.py, docs/benchmarks.md).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-08 00:10:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0009'
down_revision: str | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index('ix_case_events_transition', 'case_events', ['from_status', 'to_status', 'id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_case_events_transition', table_name='case_events')
