"""The bulk import's write path: a chunk of validated changes COPYed into staging tables and
merged into the customer tables set-based, a handful of statements whatever its size.

Same meaning as `CustomerRepository.upsert` (PATCH: an
absent field keeps its stored value, properties merge key by key, related
records are upserted by id and never removed), but the merge runs in
PostgreSQL: each staged row carries a bit mask of the fields its line sent, and
`CASE WHEN sent & bit` picks the staged or the stored value. A row whose merged
values equal the stored ones is not written (`IS DISTINCT FROM`; the API's upsert
writes it anyway), so an unchanged file writes nothing.

The staging tables are temporary (`ON COMMIT DELETE ROWS`), created once per
connection and emptied at the start of every chunk (a strict import merges
several chunks in one transaction).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncConnection

from domain.customer import CUSTOMER_ATTRS, EXCLUDED_ORDER_STATUSES, RELATED_ATTRS, CustomerChange
from domain.footprint import EVERYTHING
from persistence.customers import UpsertOutcome
from persistence.field_map import SCOPE_TABLES, customer_table, snake

CUSTOMER_FIELDS = tuple(name for name in CUSTOMER_ATTRS if name != "createdAt")
"""The PATCH fields of a customer, in bit order (createdAt is never cleared: see `_merge`)."""
SCOPE_FIELDS = {scope: tuple(attrs) for scope, attrs in RELATED_ATTRS.items()}
CUSTOMER_STAGE = "import_stage_customer"
_EXCLUDED = ", ".join(f"'{status}'" for status in EXCLUDED_ORDER_STATUSES)
PK_STAGE = "import_stage_pk"
"""The pk of each staged customer id, once the customers are merged (records join it)."""


def _stage_name(scope: str) -> str:
    return f"import_stage_{scope}"


def _type_of(table: Table, column: str) -> str:
    return str(table.c[column].type.compile(dialect=postgresql.dialect()))  # type: ignore[no-untyped-call]


def _stage_ddl() -> list[str]:
    c = customer_table
    customer_columns = ", ".join(
        f"{snake(name)} {_type_of(c, snake(name))}" for name in CUSTOMER_FIELDS
    )
    ddl = [
        f"CREATE TEMP TABLE IF NOT EXISTS {PK_STAGE} (id text PRIMARY KEY, pk bigint) "
        "ON COMMIT DELETE ROWS",
        f"CREATE TEMP TABLE IF NOT EXISTS {CUSTOMER_STAGE} (id text, sent integer, "
        f"{customer_columns}, created_at timestamptz, props_set jsonb, props_removed text[], "
        "props_cleared boolean) ON COMMIT DELETE ROWS",
    ]
    for scope, fields in SCOPE_FIELDS.items():
        table = SCOPE_TABLES[scope]
        columns = ", ".join(f"{snake(name)} {_type_of(table, snake(name))}" for name in fields)
        ddl.append(
            f"CREATE TEMP TABLE IF NOT EXISTS {_stage_name(scope)} "
            f"(customer_id text, id text, sent integer, {columns}) ON COMMIT DELETE ROWS"
        )
    return ddl


def _picked(fields: Sequence[str]) -> list[str]:
    """`new_x` (the staged value when its bit is set, else the stored one) and `old_x`."""
    out = []
    for bit, name in enumerate(fields):
        col = snake(name)
        out.append(f"CASE WHEN s.sent & {1 << bit} <> 0 THEN s.{col} ELSE o.{col} END AS new_{col}")
        out.append(f"o.{col} AS old_{col}")
    return out


def _differs(columns: Sequence[str]) -> str:
    new = ", ".join(f"m.new_{col}" for col in columns)
    old = ", ".join(f"m.old_{col}" for col in columns)
    return f"m.old_pk IS NULL OR ROW({new}) IS DISTINCT FROM ROW({old})"


def _customer_merge() -> str:
    """One statement: the chunk's customers merged, inserted or updated where they differ,
    and every staged id's pk noted in the pk stage; returns each written pk, whether it was
    created, and the old and new parents of the written (their hasChild may have moved).

    Each stored customer is found by its unique key, one probe a staged row (a
    LATERAL with LIMIT, which the planner keeps as such): the work follows the
    chunk's size, never the workspace's, whatever the statistics say. A new
    customer gets its activity from its staged orders (it has no others); one
    that existed is recomputed after its orders are merged (`_ACTIVITY`).
    """
    columns = [snake(name) for name in CUSTOMER_FIELDS] + ["created_at", "properties"]
    activity = ["orders_count", "total_spent", "first_order_at", "last_order_at"]
    return f"""
WITH activity AS (
    SELECT customer_id,
        count(*) FILTER (WHERE counted) AS orders_count,
        coalesce(sum(coalesce(amount, 0)) FILTER (WHERE counted), 0) AS total_spent,
        min(placed_at) FILTER (WHERE counted) AS first_order_at,
        max(placed_at) FILTER (WHERE counted) AS last_order_at
    FROM (SELECT customer_id, amount, placed_at,
                 coalesce(status, 'PLACED') NOT IN ({_EXCLUDED}) AS counted
          FROM {_stage_name("orders")}) o
    GROUP BY customer_id
), merged AS (
    SELECT s.id, o.pk AS old_pk, {", ".join(_picked(CUSTOMER_FIELDS))},
        coalesce(s.created_at, o.created_at, $2) AS new_created_at, o.created_at AS old_created_at,
        (CASE WHEN s.props_cleared THEN '{{}}'::jsonb
              ELSE coalesce(o.properties, '{{}}'::jsonb) END || s.props_set) - s.props_removed
            AS new_properties,
        o.properties AS old_properties, o.parent_id AS previous_parent
    FROM {CUSTOMER_STAGE} s LEFT JOIN LATERAL (
        SELECT * FROM customer c WHERE c.workspace_pk = $1 AND c.id = s.id LIMIT 1
    ) o ON true
), written AS (
    INSERT INTO customer (workspace_pk, id, {", ".join(columns)}, {", ".join(activity)},
                          updated_at)
    SELECT $1, m.id, {", ".join(f"m.new_{col}" for col in columns)},
        {", ".join(f"coalesce(a.{col}, 0)" for col in activity[:2])},
        {", ".join(f"a.{col}" for col in activity[2:])}, $2
    FROM merged m LEFT JOIN activity a ON a.customer_id = m.id
    WHERE {_differs(columns)}
    ORDER BY m.id COLLATE "C"
    ON CONFLICT ON CONSTRAINT customer_workspace_id_key DO UPDATE SET
        {", ".join(f"{col} = EXCLUDED.{col}" for col in [*columns, "updated_at"])}
    RETURNING pk, id, parent_id, xmax = 0 AS created
), noted AS (
    INSERT INTO {PK_STAGE} (id, pk)
    SELECT m.id, coalesce(w.pk, m.old_pk) FROM merged m LEFT JOIN written w ON w.id = m.id
)
SELECT w.pk, w.created, w.parent_id, m.previous_parent
FROM written w JOIN merged m ON m.id = w.id
"""


def _records_merge(scope: str) -> str:
    """One statement: a scope's staged records merged into its table, written where they
    differ; returns the customers whose records were written. Stored records are probed
    by their unique key, one a staged record, as `_customer_merge` probes customers.
    $1 is the workspace."""
    table = SCOPE_TABLES[scope]
    columns = [snake(name) for name in SCOPE_FIELDS[scope]]
    return f"""
WITH merged AS (
    SELECT k.pk AS customer_pk, s.id, o.pk AS old_pk, {", ".join(_picked(SCOPE_FIELDS[scope]))}
    FROM {_stage_name(scope)} s JOIN {PK_STAGE} k ON k.id = s.customer_id
    LEFT JOIN LATERAL (
        SELECT * FROM {table.name} r
        WHERE r.workspace_pk = $1 AND r.customer_pk = k.pk AND r.id = s.id LIMIT 1
    ) o ON true
), written AS (
    INSERT INTO {table.name} (workspace_pk, customer_pk, id, {", ".join(columns)})
    SELECT $1, m.customer_pk, m.id, {", ".join(f"m.new_{col}" for col in columns)}
    FROM merged m WHERE {_differs(columns)}
    ON CONFLICT ON CONSTRAINT {table.name}_customer_id_key DO UPDATE SET
        {", ".join(f"{col} = EXCLUDED.{col}" for col in columns)}
    RETURNING customer_pk
)
SELECT DISTINCT customer_pk FROM written
"""


_TOUCH = "UPDATE customer SET updated_at = $2 WHERE workspace_pk = $3 AND pk = ANY($1::bigint[])"

_ACTIVITY = f"""
UPDATE customer c SET orders_count = a.n, total_spent = a.spent,
    first_order_at = a.first, last_order_at = a.last
FROM (
    SELECT t.pk,
        count(o.pk) FILTER (WHERE counted) AS n,
        coalesce(sum(coalesce(o.amount, 0)) FILTER (WHERE counted), 0) AS spent,
        min(o.placed_at) FILTER (WHERE counted) AS first,
        max(o.placed_at) FILTER (WHERE counted) AS last
    FROM unnest($1::bigint[]) AS t(pk)
    LEFT JOIN LATERAL (
        SELECT o.pk, o.amount, o.placed_at,
            coalesce(o.status, 'PLACED') NOT IN ({_EXCLUDED}) AS counted
        FROM customer_order o WHERE o.workspace_pk = $2 AND o.customer_pk = t.pk
    ) o ON true
    GROUP BY t.pk
) a
WHERE c.workspace_pk = $2 AND c.pk = a.pk
"""
"""ordersCount, totalSpent, first/lastOrderAt recomputed from the orders, as
`CustomerRepository.refresh_activity` does, for the customers whose orders changed."""

_LOCK = """
SELECT count(*) FROM (
    SELECT pk FROM customer WHERE workspace_pk = $1 AND id = ANY($2::text[])
    ORDER BY id FOR NO KEY UPDATE
) locked
"""
"""The chunk's existing customers locked in id order, as an upsert locks them (NO KEY
UPDATE: membership inserts, whose foreign key takes KEY SHARE, go ahead)."""

STAGES = [PK_STAGE, CUSTOMER_STAGE, *(_stage_name(scope) for scope in SCOPE_FIELDS)]
_PREPARE = ";\n".join([*_stage_ddl(), f"TRUNCATE {', '.join(STAGES)}"])
CUSTOMER_MERGE = _customer_merge()
RECORDS_MERGE = {scope: _records_merge(scope) for scope in SCOPE_FIELDS}


class StagedChunk:
    """A chunk of validated changes as the rows COPY sends: one a customer, one a record.

    Held as tuples, not as the changes themselves, so that a chunk waiting for
    its turn costs little memory. Each customer id appears once in a chunk.
    """

    def __init__(self) -> None:
        self.ids: set[str] = set()
        self.customers: list[tuple[Any, ...]] = []
        self.records: dict[str, list[tuple[Any, ...]]] = {scope: [] for scope in SCOPE_FIELDS}

    def __len__(self) -> int:
        return len(self.customers)

    def __contains__(self, customer_id: object) -> bool:
        return customer_id in self.ids

    def add(self, change: CustomerChange) -> None:
        values = change.values
        self.ids.add(change.id)
        self.customers.append(
            (
                change.id,
                _sent_bits(CUSTOMER_FIELDS, values),
                *(values.get(name) for name in CUSTOMER_FIELDS),
                values.get("createdAt"),
                json.dumps(change.properties_set),
                list(change.properties_removed),
                change.properties_cleared,
            )
        )
        for scope, records in change.related.items():
            fields = SCOPE_FIELDS[scope]
            self.records[scope].extend(
                (
                    change.id,
                    record.id,
                    _sent_bits(fields, record.values),
                    *(record.values.get(name) for name in fields),
                )
                for record in records
            )

    async def merge(self, conn: AsyncConnection, workspace_pk: int, now: datetime) -> UpsertOutcome:
        """COPY the chunk in and merge it, inside the caller's transaction (gate entered).

        Says which customers were written (their own row or a record) and whose
        hasChild may have moved, as `CustomerRepository.upsert` does.
        """
        raw = (await conn.get_raw_connection()).driver_connection
        assert raw is not None
        await raw.execute(_PREPARE)
        await raw.copy_records_to_table(CUSTOMER_STAGE, records=self.customers)
        for scope, rows in self.records.items():
            if rows:
                await raw.copy_records_to_table(_stage_name(scope), records=rows)
        await raw.fetchval(_LOCK, workspace_pk, sorted(self.ids))
        written: set[int] = set()
        created: set[int] = set()
        parents: set[str] = set()
        for row in await raw.fetch(CUSTOMER_MERGE, workspace_pk, now):
            written.add(int(row["pk"]))
            if row["created"]:
                created.add(int(row["pk"]))
            parents.update(p for p in (row["parent_id"], row["previous_parent"]) if p is not None)
        related: set[int] = set()
        for scope, rows in self.records.items():
            if not rows:
                continue
            changed = {int(r[0]) for r in await raw.fetch(RECORDS_MERGE[scope], workspace_pk)}
            related |= changed
            if scope == "orders" and changed - created:  # the created have theirs already
                await raw.execute(_ACTIVITY, sorted(changed - created), workspace_pk)
        if related - written:  # only their records changed: they changed too
            await raw.execute(_TOUCH, sorted(related - written), now, workspace_pk)
        ids = [row[0] for row in self.customers]
        pks = sorted(written | related)
        # What each merged customer changed is not told apart here: every written one is
        # re-evaluated against every ACTIVE segment (unchanged customers were skipped).
        return UpsertOutcome(ids, pks, parents, dict.fromkeys(pks, EVERYTHING))


def _sent_bits(fields: Sequence[str], values: dict[str, Any]) -> int:
    bits = 0
    for bit, name in enumerate(fields):
        if name in values:
            bits |= 1 << bit
    return bits
