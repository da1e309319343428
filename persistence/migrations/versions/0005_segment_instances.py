"""segment instances

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22 07:23:53.816139
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('segment_instance',
    sa.Column('pk', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('workspace_pk', sa.BigInteger(), nullable=False),
    sa.Column('segment_pk', sa.BigInteger(), nullable=False),
    sa.Column('id', sa.String(length=80), nullable=False),
    sa.Column('segment_id', sa.String(length=40), nullable=False),
    sa.Column('segment_name', sa.String(length=200), nullable=False),
    sa.Column('segment_created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('schedule', sa.String(length=30), nullable=True),
    sa.Column('segment_by', sa.String(length=20), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('window_start', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('num_customers', sa.Integer(), nullable=False),
    sa.Column('num_orders', sa.Integer(), nullable=False),
    sa.Column('total_revenue', sa.Numeric(precision=20, scale=4), nullable=False),
    sa.ForeignKeyConstraint(['segment_pk'], ['segment.pk'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['workspace_pk'], ['workspace.pk'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('pk'),
    sa.UniqueConstraint('workspace_pk', 'id', name='segment_instance_workspace_id_key')
    )
    op.create_index('segment_instance_segment_idx', 'segment_instance', ['segment_pk', 'created_at'], unique=False)
    op.create_table('segment_instance_member',
    sa.Column('instance_pk', sa.BigInteger(), nullable=False),
    sa.Column('customer_id', sa.String(length=255), nullable=False),
    sa.Column('customer_pk', sa.BigInteger(), nullable=False),
    sa.Column('email', sa.String(length=320), nullable=True),
    sa.ForeignKeyConstraint(['instance_pk'], ['segment_instance.pk'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('instance_pk', 'customer_id')
    )
    op.add_column('segment', sa.Column('next_snapshot_at', sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    op.drop_column('segment', 'next_snapshot_at')
    op.drop_table('segment_instance_member')
    op.drop_index('segment_instance_segment_idx', table_name='segment_instance')
    op.drop_table('segment_instance')

