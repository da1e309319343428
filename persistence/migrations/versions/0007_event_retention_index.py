"""event retention index

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-22 08:14:47.147293
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('event_time_brin', 'event', ['occurred_at'], unique=False, postgresql_using='brin')


def downgrade() -> None:
    op.drop_index('event_time_brin', table_name='event', postgresql_using='brin')

