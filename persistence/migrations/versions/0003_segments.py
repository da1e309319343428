"""segments

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 07:14:52.848072
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('segment',
    sa.Column('pk', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('workspace_pk', sa.BigInteger(), nullable=False),
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('predicate', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('predicate_text', sa.Text(), nullable=True),
    sa.Column('time_relative', sa.Boolean(), server_default='false', nullable=False),
    sa.Column('schedule', sa.String(length=30), nullable=True),
    sa.Column('segment_by', sa.String(length=20), server_default='CUSTOMER_ID', nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('activated_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('member_count', sa.Integer(), nullable=True),
    sa.Column('total_customers', sa.Integer(), nullable=True),
    sa.Column('stats_computed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_duration_ms', sa.Numeric(precision=12, scale=3), nullable=True),
    sa.ForeignKeyConstraint(['workspace_pk'], ['workspace.pk'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('pk'),
    sa.UniqueConstraint('workspace_pk', 'id', name='segment_workspace_id_key'),
    sa.UniqueConstraint('workspace_pk', 'name', name='segment_workspace_name_key')
    )
    op.create_index('segment_kind_idx', 'segment', ['workspace_pk', 'kind'], unique=False)
    op.create_table('segment_member',
    sa.Column('segment_pk', sa.BigInteger(), nullable=False),
    sa.Column('customer_pk', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['customer_pk'], ['customer.pk'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['segment_pk'], ['segment.pk'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('segment_pk', 'customer_pk')
    )
    op.create_index('segment_member_customer_idx', 'segment_member', ['customer_pk'], unique=False)
    op.create_table('segment_reference',
    sa.Column('segment_pk', sa.BigInteger(), nullable=False),
    sa.Column('referenced_pk', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['referenced_pk'], ['segment.pk'], ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['segment_pk'], ['segment.pk'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('segment_pk', 'referenced_pk')
    )
    op.create_index('segment_reference_target_idx', 'segment_reference', ['referenced_pk'], unique=False)
    op.create_table('segment_usage',
    sa.Column('segment_pk', sa.BigInteger(), nullable=False),
    sa.Column('kind', sa.String(length=30), nullable=False),
    sa.Column('reference', sa.String(length=255), nullable=False),
    sa.Column('attached_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['segment_pk'], ['segment.pk'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('segment_pk', 'kind', 'reference')
    )
    op.create_index('customer_updated_idx', 'customer', ['workspace_pk', 'updated_at'], unique=False)
    op.add_column('workspace', sa.Column('customers_deleted_at', sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    op.drop_column('workspace', 'customers_deleted_at')
    op.drop_index('customer_updated_idx', table_name='customer')
    op.drop_table('segment_usage')
    op.drop_index('segment_reference_target_idx', table_name='segment_reference')
    op.drop_table('segment_reference')
    op.drop_index('segment_member_customer_idx', table_name='segment_member')
    op.drop_table('segment_member')
    op.drop_index('segment_kind_idx', table_name='segment')
    op.drop_table('segment')

