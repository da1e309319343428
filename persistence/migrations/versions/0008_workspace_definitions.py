"""workspace definitions version

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 23:20:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('workspace_definitions',
    sa.Column('workspace_pk', sa.BigInteger(), nullable=False),
    sa.Column('version', sa.BigInteger(), server_default='0', nullable=False),
    sa.ForeignKeyConstraint(['workspace_pk'], ['workspace.pk'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('workspace_pk')
    )


def downgrade() -> None:
    op.drop_table('workspace_definitions')
