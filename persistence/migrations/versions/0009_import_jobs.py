"""import jobs

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03 12:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('import_job',
    sa.Column('workspace_pk', sa.BigInteger(), nullable=False),
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('state', sa.String(length=10), nullable=False),
    sa.Column('options', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('lines_read', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('customers_written', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('customers_unchanged', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('customers_deleted', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('lines_rejected', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('rejections', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('failure', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['workspace_pk'], ['workspace.pk'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('workspace_pk', 'id')
    )


def downgrade() -> None:
    op.drop_table('import_job')
