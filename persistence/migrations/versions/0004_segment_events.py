"""segment events

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22 07:17:34.694760
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('segment_event',
    sa.Column('workspace_pk', sa.BigInteger(), nullable=False),
    sa.Column('seq', sa.BigInteger(), nullable=False),
    sa.Column('segment_pk', sa.BigInteger(), nullable=False),
    sa.Column('segment_id', sa.String(length=40), nullable=False),
    sa.Column('customer_pk', sa.BigInteger(), nullable=False),
    sa.Column('customer_id', sa.String(length=255), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('occurred_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['workspace_pk'], ['workspace.pk'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('workspace_pk', 'seq')
    )
    op.create_index('segment_event_segment_idx', 'segment_event', ['workspace_pk', 'segment_pk', 'seq'], unique=False)
    op.create_index('segment_event_time_idx', 'segment_event', ['occurred_at'], unique=False)
    op.add_column('workspace', sa.Column('event_seq', sa.BigInteger(), server_default='0', nullable=False))


def downgrade() -> None:
    op.drop_column('workspace', 'event_seq')
    op.drop_index('segment_event_time_idx', table_name='segment_event')
    op.drop_index('segment_event_segment_idx', table_name='segment_event')
    op.drop_table('segment_event')

