"""cost buckets: each API key's query cost points, shared by every process

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03 12:05:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('cost_bucket',
    sa.Column('workspace_pk', sa.BigInteger(), nullable=False),
    sa.Column('key_pk', sa.BigInteger(), nullable=False),
    sa.Column('available', sa.Float(), nullable=False),
    sa.Column('refused', sa.Boolean(), server_default='false', nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['workspace_pk'], ['workspace.pk'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('workspace_pk', 'key_pk')
    )


def downgrade() -> None:
    op.drop_table('cost_bucket')
