"""customer import fingerprints: the hash of the line each customer last took from an import

An import skips, unparsed, a line whose hash is the one its customer last took
while the customer has not been written since (its updated_at is the one noted):
re-importing an unchanged file reads it, hashes it and writes nothing.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-03 18:15:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "customer_import_fingerprint",
        sa.Column("workspace_pk", sa.BigInteger(), nullable=False),
        sa.Column("customer_pk", sa.BigInteger(), nullable=False),
        sa.Column("line_hash", sa.LargeBinary(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_pk", "customer_pk"],
            ["customer.workspace_pk", "customer.pk"],
            ondelete="CASCADE",
            name="customer_import_fingerprint_customer_fkey",
        ),
        sa.PrimaryKeyConstraint("workspace_pk", "customer_pk"),
    )
    op.create_index(
        "customer_import_fingerprint_hash_idx",
        "customer_import_fingerprint",
        ["workspace_pk", "line_hash"],
    )


def downgrade() -> None:
    op.drop_index("customer_import_fingerprint_hash_idx", "customer_import_fingerprint")
    op.drop_table("customer_import_fingerprint")
