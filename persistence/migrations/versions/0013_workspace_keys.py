"""every workspace table keyed by workspace first, ready to distribute by workspace_pk

segment, segment_instance, customer, event: primary key (workspace_pk, pk)
(customer keeps a plain index on pk, for the lookups by pk alone). The
customers' records (subscription, invoice, customer_order, wallet,
verification) get a workspace_pk copied from their customer: primary key
(workspace_pk, pk), unique (workspace_pk, customer_pk, id), and, like event
and segment_member, a foreign key (workspace_pk, customer_pk) to the customer.
segment_member,
segment_usage, segment_reference, segment_instance_member get a workspace_pk
(copied from their segment or instance) that leads their primary key, and
their foreign keys to segments and instances join on (workspace_pk, pk).
tests/integration/test_workspace_keys.py checks the result from the catalog.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03 18:30:00.000000
"""

from __future__ import annotations

from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

CHILDREN = ("segment_member", "segment_usage", "segment_reference")
"""Tables that get workspace_pk from their segment (segment_pk)."""

OLD_FOREIGN_KEYS = {
    "segment_member": ["segment_member_segment_pk_fkey"],
    "segment_usage": ["segment_usage_segment_pk_fkey"],
    "segment_reference": [
        "segment_reference_segment_pk_fkey",
        "segment_reference_referenced_pk_fkey",
    ],
    "segment_instance": ["segment_instance_segment_pk_fkey"],
    "segment_instance_member": ["segment_instance_member_instance_pk_fkey"],
}

NEW_FOREIGN_KEYS = [
    ("segment_member", "segment_member_segment_fkey", "segment_pk", "segment", "CASCADE"),
    ("segment_usage", "segment_usage_segment_fkey", "segment_pk", "segment", "CASCADE"),
    ("segment_reference", "segment_reference_segment_fkey", "segment_pk", "segment", "CASCADE"),
    (
        "segment_reference",
        "segment_reference_referenced_fkey",
        "referenced_pk",
        "segment",
        "RESTRICT",
    ),
    ("segment_instance", "segment_instance_segment_fkey", "segment_pk", "segment", "CASCADE"),
    (
        "segment_instance_member",
        "segment_instance_member_instance_fkey",
        "instance_pk",
        "segment_instance",
        "CASCADE",
    ),
]

PRIMARY_KEYS = {
    # table: (new columns, old columns)
    "segment": ("workspace_pk, pk", "pk"),
    "segment_instance": ("workspace_pk, pk", "pk"),
    "segment_member": ("workspace_pk, segment_pk, customer_pk", "segment_pk, customer_pk"),
    "segment_usage": ("workspace_pk, segment_pk, kind, reference", "segment_pk, kind, reference"),
    "segment_reference": ("workspace_pk, segment_pk, referenced_pk", "segment_pk, referenced_pk"),
    "segment_instance_member": (
        "workspace_pk, instance_pk, customer_id",
        "instance_pk, customer_id",
    ),
}


RECORDS = ("subscription", "invoice", "customer_order", "wallet", "verification")
"""The customers' records: workspace_pk copied from their customer."""

TO_CUSTOMER = (*RECORDS, "event", "segment_member")
"""Tables whose foreign key to customer becomes (workspace_pk, customer_pk)."""


def upgrade() -> None:
    _segments_up()
    _customers_up()


def downgrade() -> None:
    _customers_down()
    _segments_down()


def _customers_up() -> None:
    for table in RECORDS:
        op.execute(f"ALTER TABLE {table} ADD COLUMN workspace_pk bigint")
        op.execute(
            f"UPDATE {table} AS r SET workspace_pk = c.workspace_pk "
            "FROM customer AS c WHERE c.pk = r.customer_pk"
        )
        op.execute(f"ALTER TABLE {table} ALTER COLUMN workspace_pk SET NOT NULL")
    for table in TO_CUSTOMER:
        op.execute(f"ALTER TABLE {table} DROP CONSTRAINT {table}_customer_pk_fkey")
    for table in RECORDS:
        op.execute(f"ALTER TABLE {table} DROP CONSTRAINT {table}_customer_id_key")
        op.execute(
            f"ALTER TABLE {table} ADD CONSTRAINT {table}_customer_id_key "
            "UNIQUE (workspace_pk, customer_pk, id)"
        )
    for table in ("customer", "event", *RECORDS):
        op.execute(f"ALTER TABLE {table} DROP CONSTRAINT {table}_pkey")
        op.execute(
            f"ALTER TABLE {table} ADD CONSTRAINT {table}_pkey PRIMARY KEY (workspace_pk, pk)"
        )
    op.execute("CREATE INDEX customer_pk_idx ON customer (pk)")
    for table in TO_CUSTOMER:
        op.execute(
            f"ALTER TABLE {table} ADD CONSTRAINT {table}_customer_fkey "
            "FOREIGN KEY (workspace_pk, customer_pk) REFERENCES customer (workspace_pk, pk) "
            "ON DELETE CASCADE"
        )


def _customers_down() -> None:
    for table in TO_CUSTOMER:
        op.execute(f"ALTER TABLE {table} DROP CONSTRAINT {table}_customer_fkey")
    op.execute("DROP INDEX customer_pk_idx")
    for table in ("customer", "event", *RECORDS):
        op.execute(f"ALTER TABLE {table} DROP CONSTRAINT {table}_pkey")
        op.execute(f"ALTER TABLE {table} ADD CONSTRAINT {table}_pkey PRIMARY KEY (pk)")
    for table in RECORDS:
        op.execute(f"ALTER TABLE {table} DROP CONSTRAINT {table}_customer_id_key")
        op.execute(
            f"ALTER TABLE {table} ADD CONSTRAINT {table}_customer_id_key UNIQUE (customer_pk, id)"
        )
    for table in TO_CUSTOMER:
        op.execute(
            f"ALTER TABLE {table} ADD CONSTRAINT {table}_customer_pk_fkey "
            "FOREIGN KEY (customer_pk) REFERENCES customer (pk) ON DELETE CASCADE"
        )
    for table in RECORDS:
        op.execute(f"ALTER TABLE {table} DROP COLUMN workspace_pk")


def _segments_up() -> None:
    for table in CHILDREN:
        op.execute(f"ALTER TABLE {table} ADD COLUMN workspace_pk bigint")
        op.execute(
            f"UPDATE {table} AS t SET workspace_pk = s.workspace_pk "
            "FROM segment AS s WHERE s.pk = t.segment_pk"
        )
    op.execute("ALTER TABLE segment_instance_member ADD COLUMN workspace_pk bigint")
    op.execute(
        "UPDATE segment_instance_member AS t SET workspace_pk = i.workspace_pk "
        "FROM segment_instance AS i WHERE i.pk = t.instance_pk"
    )
    for table in (*CHILDREN, "segment_instance_member"):
        op.execute(f"ALTER TABLE {table} ALTER COLUMN workspace_pk SET NOT NULL")
    for table, names in OLD_FOREIGN_KEYS.items():
        for name in names:
            op.execute(f"ALTER TABLE {table} DROP CONSTRAINT {name}")
    for table, (new, _) in PRIMARY_KEYS.items():
        op.execute(f"ALTER TABLE {table} DROP CONSTRAINT {table}_pkey")
        op.execute(f"ALTER TABLE {table} ADD CONSTRAINT {table}_pkey PRIMARY KEY ({new})")
    for table, name, column, target, on_delete in NEW_FOREIGN_KEYS:
        op.execute(
            f"ALTER TABLE {table} ADD CONSTRAINT {name} FOREIGN KEY (workspace_pk, {column}) "
            f"REFERENCES {target} (workspace_pk, pk) ON DELETE {on_delete}"
        )
    op.execute("DROP INDEX segment_reference_target_idx")
    op.execute(
        "CREATE INDEX segment_reference_target_idx ON segment_reference (workspace_pk, referenced_pk)"
    )


def _segments_down() -> None:
    op.execute("DROP INDEX segment_reference_target_idx")
    op.execute("CREATE INDEX segment_reference_target_idx ON segment_reference (referenced_pk)")
    for table, name, _, _, _ in NEW_FOREIGN_KEYS:
        op.execute(f"ALTER TABLE {table} DROP CONSTRAINT {name}")
    for table, (_, old) in PRIMARY_KEYS.items():
        op.execute(f"ALTER TABLE {table} DROP CONSTRAINT {table}_pkey")
        op.execute(f"ALTER TABLE {table} ADD CONSTRAINT {table}_pkey PRIMARY KEY ({old})")
    for table, name, column, target, on_delete in NEW_FOREIGN_KEYS:
        old_name = OLD_FOREIGN_KEYS[table][0 if column != "referenced_pk" else 1]
        op.execute(
            f"ALTER TABLE {table} ADD CONSTRAINT {old_name} FOREIGN KEY ({column}) "
            f"REFERENCES {target} (pk) ON DELETE {on_delete}"
        )
    for table in (*CHILDREN, "segment_instance_member"):
        op.execute(f"ALTER TABLE {table} DROP COLUMN workspace_pk")
