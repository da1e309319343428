"""segment_boundary: each customer's next time boundary per time-relative ACTIVE segment

The sweeper re-evaluates only the customers whose instant has passed
(domain.boundaries) instead of rescanning every time-relative segment.
segment_boundary_state records which description of a segment's instants its
rows follow; with no state, the sweeper rescans the segment once and fills
the rows, so an upgraded database needs no backfill here.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03 18:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def _segment_key(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["workspace_pk", "segment_pk"],
        ["segment.workspace_pk", "segment.pk"],
        ondelete="CASCADE",
        name=f"{table}_segment_fkey",
    )


def upgrade() -> None:
    # Keyed by workspace first, as every workspace table is (migration 0013).
    op.create_table(
        "segment_boundary",
        sa.Column("workspace_pk", sa.BigInteger, primary_key=True),
        sa.Column("segment_pk", sa.BigInteger, primary_key=True),
        sa.Column("customer_pk", sa.BigInteger, primary_key=True),
        sa.Column("next_at", sa.DateTime(timezone=True), nullable=False),
        _segment_key("segment_boundary"),
    )
    op.create_index("segment_boundary_due_idx", "segment_boundary", ["segment_pk", "next_at"])
    op.create_table(
        "segment_boundary_state",
        sa.Column("workspace_pk", sa.BigInteger, primary_key=True),
        sa.Column("segment_pk", sa.BigInteger, primary_key=True),
        sa.Column("key", sa.String(64), nullable=False),
        _segment_key("segment_boundary_state"),
    )


def downgrade() -> None:
    op.drop_table("segment_boundary_state")
    op.drop_index("segment_boundary_due_idx", table_name="segment_boundary")
    op.drop_table("segment_boundary")
