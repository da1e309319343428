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

import contextlib
import json
from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncConnection

from domain.customer import CUSTOMER_ATTRS, EXCLUDED_ORDER_STATUSES, RELATED_ATTRS, CustomerChange
from domain.fields import CUSTOM_PROPERTY_PREFIX
from domain.footprint import EVERYTHING, Footprint, changed_fields
from persistence import customer_fingerprints
from persistence.bulk_load import REPLICATION_ROLE
from persistence.changes import add, scope_changed
from persistence.customers import UpsertOutcome
from persistence.field_map import SCOPE_TABLES, customer_table, snake

CUSTOMER_FIELDS = tuple(name for name in CUSTOMER_ATTRS if name != "createdAt")
"""The PATCH fields of a customer, in bit order (createdAt is never cleared: see `_merge`)."""
SCOPE_FIELDS = {scope: tuple(attrs) for scope, attrs in RELATED_ATTRS.items()}
CUSTOMER_STAGE = "import_stage_customer"
_EXCLUDED = ", ".join(f"'{status}'" for status in EXCLUDED_ORDER_STATUSES)
PK_STAGE = "import_stage_pk"
"""The pk of each staged customer id, once the customers are merged (records join it)."""


def _bits_of(fields: Sequence[str]) -> dict[str, int]:
    """Each field's bit in a staged row's `sent` mask (their order is the bits')."""
    return {name: 1 << bit for bit, name in enumerate(fields)}


CUSTOMER_BITS = _bits_of(CUSTOMER_FIELDS)
SCOPE_BITS = {scope: _bits_of(fields) for scope, fields in SCOPE_FIELDS.items()}


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
        f"CREATE TEMP TABLE IF NOT EXISTS {PK_STAGE} (id text PRIMARY KEY, pk bigint, "
        "created boolean NOT NULL DEFAULT false) ON COMMIT DELETE ROWS",
        f"CREATE TEMP TABLE IF NOT EXISTS {CUSTOMER_STAGE} (id text, sent integer, "
        f"{customer_columns}, created_at timestamptz, props_set jsonb, props_removed text[], "
        "props_cleared boolean, line_hash bytea) ON COMMIT DELETE ROWS",
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


def _changed_fields(columns: Sequence[tuple[str, str]]) -> str:
    """The API names of the merged columns whose values moved, custom properties by key."""
    moved = ", ".join(
        f"CASE WHEN m.new_{col} IS DISTINCT FROM m.old_{col} THEN '{name}' END"
        for name, col in columns
    )
    return f"""array_remove(ARRAY[{moved}], NULL) || ARRAY(
        SELECT '{CUSTOM_PROPERTY_PREFIX}' || k FROM (
            SELECT jsonb_object_keys(coalesce(m.old_properties, '{{}}'::jsonb))
            UNION SELECT jsonb_object_keys(m.new_properties)
        ) AS keys(k)
        WHERE m.old_properties -> k IS DISTINCT FROM m.new_properties -> k
    )"""


def _customer_merge(unresolved_only: bool = False) -> str:
    """One statement: the chunk's customers merged, inserted or updated where they differ,
    and every staged id's pk noted in the pk stage; returns each written pk, whether it was
    created, the old and new parents of the written (their hasChild may have moved) and the
    fields whose values moved (the footprint of the write), and, with a null pk, the staged
    ids that a concurrent write created between the probe and the insert.

    Each stored customer is found by its unique key, one probe a staged row (a
    LATERAL with LIMIT, which the planner keeps as such): the work follows the
    chunk's size, never the workspace's, whatever the statistics say. A new
    customer gets its activity from its staged orders (it has no others); one
    that existed is recomputed after its orders are merged (`_ACTIVITY`).

    A stored customer is found again by the insert's conflict and updated; it
    carries its own pk, which the update checks. A new one draws a fresh pk: if
    another transaction created the customer meanwhile, the pks differ and the
    row is left alone (its columns this line did not send would be lost), and
    reported, to be merged again (`unresolved_only`) on top of what it holds.
    (An insert-or-update keeps each probe a unique-index lookup; an UPDATE ...
    FROM the staged rows let the planner scan the whole customer table.)
    """
    columns = [snake(name) for name in CUSTOMER_FIELDS] + ["created_at", "properties"]
    named = [(name, snake(name)) for name in CUSTOMER_FIELDS] + [("createdAt", "created_at")]
    activity = ["orders_count", "total_spent", "first_order_at", "last_order_at"]
    only = f"JOIN {PK_STAGE} k ON k.id = s.id AND k.pk IS NULL" if unresolved_only else ""
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
    FROM {CUSTOMER_STAGE} s {only} LEFT JOIN LATERAL (
        SELECT * FROM customer c WHERE c.workspace_pk = $1 AND c.id = s.id LIMIT 1
    ) o ON true
), written AS (
    INSERT INTO customer (pk, workspace_pk, id, {", ".join(columns)}, {", ".join(activity)},
                          updated_at)
    SELECT coalesce(m.old_pk, nextval(pg_get_serial_sequence('customer', 'pk'))), $1, m.id,
        {", ".join(f"m.new_{col}" for col in columns)},
        {", ".join(f"coalesce(a.{col}, 0)" for col in activity[:2])},
        {", ".join(f"a.{col}" for col in activity[2:])}, $2
    FROM merged m LEFT JOIN activity a ON a.customer_id = m.id
    WHERE {_differs(columns)}
    ORDER BY m.id COLLATE "C"
    ON CONFLICT ON CONSTRAINT customer_workspace_id_key DO UPDATE SET
        {", ".join(f"{col} = EXCLUDED.{col}" for col in [*columns, "updated_at"])}
    WHERE customer.pk = EXCLUDED.pk
    RETURNING pk, id, parent_id, xmax = 0 AS created
), noted AS (
    INSERT INTO {PK_STAGE} (id, pk, created)
    SELECT m.id, coalesce(w.pk, m.old_pk), coalesce(w.created, false)
    FROM merged m LEFT JOIN written w ON w.id = m.id
    ON CONFLICT (id) DO UPDATE SET pk = EXCLUDED.pk, created = EXCLUDED.created
)
SELECT w.pk, w.created, w.parent_id, m.previous_parent, {_changed_fields(named)} AS changed,
    m.id
FROM merged m LEFT JOIN written w ON w.id = m.id
WHERE w.pk IS NOT NULL OR m.old_pk IS NULL
"""


def _records_insert(scope: str) -> str:
    """One statement: the staged records of the customers this chunk created, inserted as
    they are. Such a customer has no stored records to merge with (its pk is new), and its
    records' ids are distinct (validation refuses a repeated one), so there is nothing to
    probe and no conflict to check: a plain insert, the cheapest an index allows. A field
    the line did not send is staged as null, which is what the merge would store.
    $1 is the workspace."""
    table = SCOPE_TABLES[scope]
    columns = [snake(name) for name in SCOPE_FIELDS[scope]]
    return f"""
INSERT INTO {table.name} (workspace_pk, customer_pk, id, {", ".join(columns)})
SELECT $1, k.pk, s.id, {", ".join(f"s.{col}" for col in columns)}
FROM {_stage_name(scope)} s JOIN {PK_STAGE} k ON k.id = s.customer_id AND k.created
ORDER BY k.pk
"""


def _records_merge(scope: str) -> str:
    """One statement: a scope's staged records of customers that existed before the chunk
    merged into its table, written where they differ; returns the customers whose records
    were written. Stored records are probed by their unique key, one a staged record, as
    `_customer_merge` probes customers (the created customers' go in by `_records_insert`).
    $1 is the workspace."""
    table = SCOPE_TABLES[scope]
    columns = [snake(name) for name in SCOPE_FIELDS[scope]]
    return f"""
WITH merged AS (
    SELECT k.pk AS customer_pk, s.id, o.pk AS old_pk, {", ".join(_picked(SCOPE_FIELDS[scope]))}
    FROM {_stage_name(scope)} s JOIN {PK_STAGE} k ON k.id = s.customer_id AND NOT k.created
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
    SELECT t.pk, p.orders_count AS old_n, p.total_spent AS old_spent,
        p.first_order_at AS old_first, p.last_order_at AS old_last,
        count(o.pk) FILTER (WHERE counted) AS n,
        coalesce(sum(coalesce(o.amount, 0)) FILTER (WHERE counted), 0) AS spent,
        min(o.placed_at) FILTER (WHERE counted) AS first,
        max(o.placed_at) FILTER (WHERE counted) AS last
    FROM unnest($1::bigint[]) AS t(pk)
    JOIN customer p ON p.workspace_pk = $2 AND p.pk = t.pk
    LEFT JOIN LATERAL (
        SELECT o.pk, o.amount, o.placed_at,
            coalesce(o.status, 'PLACED') NOT IN ({_EXCLUDED}) AS counted
        FROM customer_order o WHERE o.workspace_pk = $2 AND o.customer_pk = t.pk
    ) o ON true
    GROUP BY t.pk, p.workspace_pk, p.pk
) a
WHERE c.workspace_pk = $2 AND c.pk = a.pk
RETURNING c.pk, array_remove(ARRAY[
    CASE WHEN a.old_n IS DISTINCT FROM a.n THEN 'ordersCount' END,
    CASE WHEN a.old_spent IS DISTINCT FROM a.spent THEN 'totalSpent' END,
    CASE WHEN a.old_first IS DISTINCT FROM a.first THEN 'firstOrderAt' END,
    CASE WHEN a.old_last IS DISTINCT FROM a.last THEN 'lastOrderAt' END
], NULL) AS changed
"""
"""ordersCount, totalSpent, first/lastOrderAt recomputed from the orders, as
`CustomerRepository.refresh_activity` does, for the customers whose orders changed;
returns which of the four moved for each."""

_LOCK = """
SELECT count(*) FROM (
    SELECT pk FROM customer WHERE workspace_pk = $1 AND id = ANY($2::text[])
    ORDER BY id FOR NO KEY UPDATE
) locked
"""
"""The chunk's existing customers locked in id order, as an upsert locks them (NO KEY
UPDATE: membership inserts, whose foreign key takes KEY SHARE, go ahead)."""

_TRUSTED_ROWS = REPLICATION_ROLE.format(role="$1")


@contextlib.asynccontextmanager
async def _trusted_rows(raw: Any) -> AsyncIterator[None]:
    """The rows inserted meanwhile reference only customers this transaction holds (created
    by it, or locked by `_LOCK`): their foreign keys hold by construction, and a superuser
    skips the check a row (as the seed and snapshots do), about half of the record inserts'
    time (11 us a row of the 20 us, by EXPLAIN ANALYZE). Other roles keep the checks."""
    await raw.execute(_TRUSTED_ROWS, "replica")
    yield
    await raw.execute(_TRUSTED_ROWS, "origin")


STAGES = [PK_STAGE, CUSTOMER_STAGE, *(_stage_name(scope) for scope in SCOPE_FIELDS)]
_PREPARE = ";\n".join([*_stage_ddl(), f"TRUNCATE {', '.join(STAGES)}"])
CUSTOMER_MERGE = _customer_merge()
_NOTE_FINGERPRINTS = customer_fingerprints.NOTE.format(stage=CUSTOMER_STAGE, pk_stage=PK_STAGE)
CUSTOMER_REMERGE = _customer_merge(unresolved_only=True)
RECORDS_MERGE = {scope: _records_merge(scope) for scope in SCOPE_FIELDS}
RECORDS_INSERT = {scope: _records_insert(scope) for scope in SCOPE_FIELDS}


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

    def add(self, change: CustomerChange, line_hash: bytes | None = None) -> None:
        """Stage the change; `line_hash` (its line's fingerprint) is noted once it is merged."""
        values = change.values
        self.ids.add(change.id)
        self.customers.append(
            (
                change.id,
                _sent_bits(CUSTOMER_BITS, values),
                *(values.get(name) for name in CUSTOMER_FIELDS),
                values.get("createdAt"),
                json.dumps(change.properties_set),
                list(change.properties_removed),
                change.properties_cleared,
                line_hash,
            )
        )
        for scope, records in change.related.items():
            fields, bits = SCOPE_FIELDS[scope], SCOPE_BITS[scope]
            self.records[scope].extend(
                (
                    change.id,
                    record.id,
                    _sent_bits(bits, record.values),
                    *(record.values.get(name) for name in fields),
                )
                for record in records
            )

    async def merge(self, conn: AsyncConnection, workspace_pk: int, now: datetime) -> UpsertOutcome:
        """COPY the chunk in and merge it, inside the caller's transaction (gate entered).

        Says which customers were written (their own row or a record), whose
        hasChild may have moved, and what each written customer changed (a new
        one: everything), as `CustomerRepository.upsert` does, so only the ACTIVE
        segments reading what moved are re-evaluated.
        """
        raw = (await conn.get_raw_connection()).driver_connection
        assert raw is not None
        await raw.execute(_PREPARE)
        await raw.copy_records_to_table(CUSTOMER_STAGE, records=self.customers)
        for scope, rows in self.records.items():
            if rows:
                await raw.copy_records_to_table(_stage_name(scope), records=rows)
        await raw.fetchval(_LOCK, workspace_pk, sorted(self.ids))
        merged = _Merged()
        raced = merged.add(await raw.fetch(CUSTOMER_MERGE, workspace_pk, now))
        if raced:  # created by a concurrent write since the probe: merged on top of it
            await raw.fetchval(_LOCK, workspace_pk, sorted(raced))
            merged.add(await raw.fetch(CUSTOMER_REMERGE, workspace_pk, now), raced=True)
        related: set[int] = set()
        staged = [scope for scope, rows in self.records.items() if rows]
        if merged.created:  # their records are new: inserted, nothing to merge with
            async with _trusted_rows(raw):
                for scope in staged:
                    await raw.execute(RECORDS_INSERT[scope], workspace_pk)
        existing = len(merged.created) < len(self.customers)  # some customers were there
        for scope in staged if existing else ():
            changed = {int(r[0]) for r in await raw.fetch(RECORDS_MERGE[scope], workspace_pk)}
            related |= changed
            for pk in changed:
                merged.note(pk, scope_changed(scope))
            if scope == "orders" and changed - merged.created:  # the created have theirs
                moved = sorted(changed - merged.created)
                for row in await raw.fetch(_ACTIVITY, moved, workspace_pk):
                    merged.note(int(row["pk"]), changed_fields(*row["changed"]))
        touched = related - merged.written
        if touched:  # only their records changed: they changed too
            await raw.execute(_TOUCH, sorted(touched), now, workspace_pk)
            for pk in touched:
                merged.note(pk, changed_fields("updatedAt"))
        async with _trusted_rows(raw):
            await raw.execute(_NOTE_FINGERPRINTS)
        ids = [row[0] for row in self.customers]
        pks = sorted(merged.written | related)
        return UpsertOutcome(ids, pks, merged.parents, merged.changes)


class _Merged:
    """What the customer merge statement reported, gathered for the outcome."""

    def __init__(self) -> None:
        self.written: set[int] = set()
        self.created: set[int] = set()
        self.parents: set[str] = set()
        self.changes: dict[int, Footprint] = {}

    def add(self, rows: Sequence[Any], raced: bool = False) -> list[str]:
        """Note the merge's rows; returns the ids a concurrent write created meanwhile."""
        unresolved = []
        for row in rows:
            if row["pk"] is None:
                unresolved.append(row["id"])
                continue
            pk = int(row["pk"])
            self.written.add(pk)
            if row["created"]:
                self.created.add(pk)
            self.parents.update(
                p for p in (row["parent_id"], row["previous_parent"]) if p is not None
            )
            # a customer created here, or under this import by another write: anything moved
            moved = raced or row["created"]
            self.changes[pk] = EVERYTHING if moved else changed_fields("updatedAt", *row["changed"])
        return unresolved

    def note(self, pk: int, change: Footprint) -> None:
        add(self.changes, pk, change)


async def allow_import_time(conn: AsyncConnection, timeout_ms: int) -> None:
    """The rest of the caller's transaction runs under the import's own statement timeout:
    a chunk's merge and re-evaluation are set-based statements over 20,000 customers, which
    the service's timeout (sized for one request's reads) would cut off on a busy server."""
    await conn.exec_driver_sql(f"SET LOCAL statement_timeout = {int(timeout_ms)}")


def _sent_bits(bits: Mapping[str, int], values: dict[str, Any]) -> int:
    """The bits (`_bits_of`) of the fields `values` holds."""
    sent = 0
    for name in values:  # the few fields a line sends, not every field of the table
        sent |= bits.get(name, 0)
    return sent
