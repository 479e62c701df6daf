"""Contacts and accounts, entitlements, case records, survey questions, roles.

- accounts (with a parent account); a contact's account, external id (a known customer) and e-mail;
- entitlements replace the contact's free-text contract: each contract a customer had becomes an
  entitlement of that customer, without dates (active until ended);
- a case's title, who it awaits, the entitlement that gave its priority, when it was closed (cases
  closed before this revision get the time of their closing event);
- the articles shown in a case; the survey's NPS and effort answers and how it was answered;
- agents' roles (every existing account is an agent);
- app_keys: keys the app makes itself (the survey links' signing key).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 12:16:32.702954
"""

import secrets
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('accounts',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('parent_id', sa.String(length=40), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['parent_id'], ['accounts.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('accounts', schema=None) as batch_op:
        batch_op.create_index('ix_accounts_parent', ['parent_id'], unique=False)

    op.create_table('app_keys',
    sa.Column('name', sa.String(length=40), nullable=False),
    sa.Column('value', sa.String(length=200), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('name')
    )
    op.create_table('entitlements',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('customer_id', sa.String(length=40), nullable=True),
    sa.Column('account_id', sa.String(length=40), nullable=True),
    sa.Column('name', sa.String(length=80), nullable=False),
    sa.Column('starts_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('ends_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('(customer_id IS NULL) <> (account_id IS NULL)', name='ck_entitlements_one_owner'),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], ),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('entitlements', schema=None) as batch_op:
        batch_op.create_index('ix_entitlements_account', ['account_id'], unique=False)
        batch_op.create_index('ix_entitlements_customer', ['customer_id'], unique=False)

    op.create_table('case_articles',
    sa.Column('conversation_id', sa.String(length=40), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('article_id', sa.String(length=120), nullable=False),
    sa.Column('shown_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('helped', sa.Boolean(), nullable=True),
    sa.ForeignKeyConstraint(['conversation_id'], ['conversations.id'], ),
    sa.PrimaryKeyConstraint('conversation_id', 'seq', 'article_id')
    )
    with op.batch_alter_table('case_articles', schema=None) as batch_op:
        batch_op.create_index('ix_case_articles_article', ['article_id'], unique=False)

    with op.batch_alter_table('agents', schema=None) as batch_op:
        batch_op.add_column(sa.Column('roles', sa.String(length=80), server_default='agent', nullable=False))

    with op.batch_alter_table('conversations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('title', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('awaiting', sa.String(length=10), nullable=True))
        batch_op.add_column(sa.Column('entitlement', sa.String(length=80), nullable=True))
        batch_op.add_column(sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index('ix_conversations_closed', ['closed_at'], unique=False)
        batch_op.create_index('ix_conversations_created', ['created_at'], unique=False)

    bind = op.get_bind()
    bind.execute(sa.text(
        "UPDATE conversations SET closed_at = (SELECT max(at) FROM case_events e WHERE "
        "e.conversation_id = conversations.id AND e.to_status = conversations.status) "
        "WHERE status IN ('resolved', 'abandoned')"
    ))
    bind.execute(sa.text(  # the contract that made queued and handled cases high priority
        "UPDATE conversations SET entitlement = (SELECT contract FROM customers c WHERE c.id = customer_id) "
        "WHERE priority IS NOT NULL"
    ))
    contracts = bind.execute(sa.text(
        "SELECT id, contract, created_at FROM customers WHERE contract IS NOT NULL")).all()
    entitlements = sa.table("entitlements", sa.column("id"), sa.column("customer_id"), sa.column("name"),
                            sa.column("created_at"))
    if contracts:
        op.bulk_insert(entitlements, [
            {"id": "e_" + secrets.token_hex(8), "customer_id": customer_id, "name": contract, "created_at": created_at}
            for customer_id, contract, created_at in contracts
        ])

    with op.batch_alter_table('customers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('external_id', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('email', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('account_id', sa.String(length=40), nullable=True))
        batch_op.create_index('ix_customers_account', ['account_id'], unique=False)
        batch_op.create_unique_constraint('uq_customers_external_id', ['external_id'])
        batch_op.create_foreign_key('fk_customers_account', 'accounts', ['account_id'], ['id'])
        batch_op.drop_column('contract')

    with op.batch_alter_table('surveys', schema=None) as batch_op:
        batch_op.add_column(sa.Column('nps', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('effort', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('answered_via', sa.String(length=10), server_default='chat', nullable=False))



def downgrade() -> None:
    with op.batch_alter_table('surveys', schema=None) as batch_op:
        batch_op.drop_column('answered_via')
        batch_op.drop_column('effort')
        batch_op.drop_column('nps')

    with op.batch_alter_table('customers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('contract', sa.VARCHAR(length=80), nullable=True))
        batch_op.drop_constraint('fk_customers_account', type_='foreignkey')
        batch_op.drop_constraint('uq_customers_external_id', type_='unique')
        batch_op.drop_index('ix_customers_account')
        batch_op.drop_column('account_id')
        batch_op.drop_column('email')
        batch_op.drop_column('external_id')

    with op.batch_alter_table('conversations', schema=None) as batch_op:
        batch_op.drop_index('ix_conversations_created')
        batch_op.drop_index('ix_conversations_closed')
        batch_op.drop_column('closed_at')
        batch_op.drop_column('entitlement')
        batch_op.drop_column('awaiting')
        batch_op.drop_column('title')

    with op.batch_alter_table('agents', schema=None) as batch_op:
        batch_op.drop_column('roles')

    with op.batch_alter_table('case_articles', schema=None) as batch_op:
        batch_op.drop_index('ix_case_articles_article')

    op.drop_table('case_articles')
    with op.batch_alter_table('entitlements', schema=None) as batch_op:
        batch_op.drop_index('ix_entitlements_customer')
        batch_op.drop_index('ix_entitlements_account')

    op.drop_table('entitlements')
    op.drop_table('app_keys')
    with op.batch_alter_table('accounts', schema=None) as batch_op:
        batch_op.drop_index('ix_accounts_parent')

    op.drop_table('accounts')
