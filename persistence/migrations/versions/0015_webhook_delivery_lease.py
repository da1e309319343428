"""webhook deliveries carry a lease number, so an outcome lands only on its own attempt

Every claim, retry and replay moves a delivery's lease number on; a sender records
its outcome only where the number is still the one it claimed with. Before this,
a replay or retry of a delivery that was being sent made it due again while the
first attempt was in flight, and that attempt's outcome then ended the delivery
(and let the customer's next one go) under the re-send.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-03 18:10:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "webhook_delivery",
        sa.Column("lease", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
    )


def downgrade() -> None:
    op.drop_column("webhook_delivery", "lease")
