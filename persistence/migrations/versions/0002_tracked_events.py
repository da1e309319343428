"""tracked events

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 07:07:50.103832
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('event',
    sa.Column('pk', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('workspace_pk', sa.BigInteger(), nullable=False),
    sa.Column('customer_pk', sa.BigInteger(), nullable=False),
    sa.Column('id', sa.String(length=255), nullable=True),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('occurred_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('properties', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=False),
    sa.ForeignKeyConstraint(['customer_pk'], ['customer.pk'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['workspace_pk'], ['workspace.pk'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('pk')
    )
    op.create_index('event_customer_name_idx', 'event', ['customer_pk', 'name', 'occurred_at'], unique=False)
    op.create_index('event_customer_time_idx', 'event', ['customer_pk', 'occurred_at'], unique=False)
    op.create_index('event_idempotency_key', 'event', ['workspace_pk', 'id'], unique=True, postgresql_where=sa.text('id IS NOT NULL'))
    op.create_index('event_name_time_idx', 'event', ['workspace_pk', 'name', 'occurred_at'], unique=False)


def downgrade() -> None:
    op.drop_index('event_name_time_idx', table_name='event')
    op.drop_index('event_idempotency_key', table_name='event', postgresql_where=sa.text('id IS NOT NULL'))
    op.drop_index('event_customer_time_idx', table_name='event')
    op.drop_index('event_customer_name_idx', table_name='event')
    op.drop_table('event')

