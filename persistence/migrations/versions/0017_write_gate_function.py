"""write gate function: a writer enters its workspace's gate and learns, in the same round
trip, the definitions version when a segment is ACTIVE (NULL when none is)

The two cannot be one plain statement: a statement's snapshot is taken before it runs,
so "is any segment ACTIVE" asked beside the lock would not see an activation that
committed while the writer waited for the gate. In a VOLATILE PL/pgSQL function each
query takes its own snapshot, so the question asked after PERFORM sees it.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07 23:30:00.000000
"""

from __future__ import annotations

from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE FUNCTION segmentql_enter_write_gate(gate bigint, ws bigint) RETURNS bigint
        LANGUAGE plpgsql VOLATILE AS $$
        BEGIN
            PERFORM pg_advisory_xact_lock_shared(gate);
            RETURN (
                SELECT coalesce(
                    (SELECT d.version FROM workspace_definitions AS d WHERE d.workspace_pk = ws),
                    0
                )
                WHERE EXISTS (
                    SELECT FROM segment AS s WHERE s.workspace_pk = ws AND s.kind = 'ACTIVE'
                )
            );
        END
        $$
        """
    )


def downgrade() -> None:
    op.execute("DROP FUNCTION segmentql_enter_write_gate(bigint, bigint)")
