"""webhook deliveries pending before lines: each (endpoint, customer) keeps one head

Deliveries written before persistence.webhook_lines all have a real
next_attempt_at; the claim now takes every due row, so a backlog left by an
older version would send several deliveries of one customer at once, out of
order. Every PENDING delivery behind an older PENDING one of its line waits
('infinity') until the head ends and promotes it.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03 17:00:00.000000
"""

from __future__ import annotations

from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        UPDATE webhook_delivery AS d SET next_attempt_at = 'infinity'
        WHERE d.status = 'PENDING' AND EXISTS (
            SELECT 1 FROM webhook_delivery AS ahead
            WHERE ahead.workspace_pk = d.workspace_pk AND ahead.endpoint_id = d.endpoint_id
              AND ahead.customer_id = d.customer_id AND ahead.status = 'PENDING'
              AND ahead.seq < d.seq
        )
        """
    )


def downgrade() -> None:
    # The older version knows no waiting rows: each is due now, as it wrote them.
    op.execute(
        "UPDATE webhook_delivery SET next_attempt_at = now() "
        "WHERE status = 'PENDING' AND next_attempt_at = 'infinity'"
    )
