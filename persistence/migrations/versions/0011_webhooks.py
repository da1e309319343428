"""webhook endpoints and deliveries; API key expiry and last use

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03 12:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('api_key', sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True))
    op.add_column('api_key', sa.Column('last_used_at', sa.DateTime(timezone=True), nullable=True))
    op.create_table('webhook_endpoint',
    sa.Column('workspace_pk', sa.BigInteger(), nullable=False),
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('url', sa.Text(), nullable=False),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('segment_ids', postgresql.ARRAY(sa.String(length=40)), nullable=False),
    sa.Column('event_types', postgresql.ARRAY(sa.String(length=40)), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('disabled_reason', sa.Text(), nullable=True),
    sa.Column('secret', sa.String(length=100), nullable=False),
    sa.Column('previous_secret', sa.String(length=100), nullable=True),
    sa.Column('previous_secret_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('cursor_seq', sa.BigInteger(), nullable=False),
    sa.Column('failing_since', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['workspace_pk'], ['workspace.pk'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('workspace_pk', 'id')
    )
    op.create_table('webhook_delivery',
    sa.Column('workspace_pk', sa.BigInteger(), nullable=False),
    sa.Column('endpoint_id', sa.String(length=40), nullable=False),
    sa.Column('seq', sa.BigInteger(), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('segment_id', sa.String(length=40), nullable=False),
    sa.Column('segment_name', sa.String(length=200), nullable=False),
    sa.Column('customer_id', sa.String(length=255), nullable=False),
    sa.Column('occurred_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('last_status_code', sa.Integer(), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('last_attempt_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('delivered_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['workspace_pk', 'endpoint_id'], ['webhook_endpoint.workspace_pk', 'webhook_endpoint.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('workspace_pk', 'endpoint_id', 'seq')
    )
    op.create_index('webhook_delivery_due_idx', 'webhook_delivery', ['next_attempt_at'], unique=False, postgresql_where=sa.text("status = 'PENDING'"))
    op.create_index('webhook_delivery_customer_idx', 'webhook_delivery', ['workspace_pk', 'endpoint_id', 'customer_id', 'seq'], unique=False, postgresql_where=sa.text("status = 'PENDING'"))
    op.create_index('webhook_delivery_status_idx', 'webhook_delivery', ['workspace_pk', 'endpoint_id', 'status', 'seq'], unique=False)


def downgrade() -> None:
    op.drop_table('webhook_delivery')
    op.drop_table('webhook_endpoint')
    op.drop_column('api_key', 'last_used_at')
    op.drop_column('api_key', 'expires_at')
