"""Tracked events: bulk import rate, then a behavioural predicate over a big event table.

Sizes (environment variables, as the harness has no per-scenario options):

- BENCH_EVENTS_IMPORT, default 1,000,000: lines in the generated JSONL file
  imported with `api.services.event_import.import_events` (what `segmentql
  import events` runs) into a throwaway workspace of 10,000 seeded customers
  and no segments (each chunk re-evaluates the workspace's ACTIVE segments
  for its customers: in the bench workspace, the live scenario's, that would
  measure them instead). Its size is in the figure names (`import_1m`).
- BENCH_EVENTS_TARGET, default 20 events a customer (20,000,000 at 1M): the
  bench workspace is filled up to it with set-based SQL, once, then analyzed.

Then "started checkout at least twice in the last 7 days" over HTTP (totalCount,
target < 2 s; first page of 50, target < 100 ms), each beside its own SQL; and
the first page of the same COUNT on a name never tracked (a page that finds no
one must not probe each of the workspace's customers).
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg

from api.services.event_import import import_events
from bench.harness import Bench, BenchError, scenario
from bench.scenarios.predicates import FIRST_PAGE, TOTAL_COUNT, compare
from bench.scenarios.segments import cond, related
from bench.statements import condition_of, count_statement, page_statement
from domain.instant import format_instant
from persistence import bulk_load
from persistence.database import libpq_dsn
from persistence.seed import seed_customers

IMPORT_CUSTOMERS = 10_000
EVENTS_PER_CUSTOMER = 20
SPREAD = timedelta(days=90)  # the filled events' span, ending now
FILL_BATCH = 2_000_000
REBUILD_FROM = 1_000_000  # a fill this big, and no smaller than the table, drops the indexes
CHECKOUT_TWICE_IN_7D = related(
    "EVENTS",
    "COUNT",
    {"and": [cond("name", "EQ", "checkout_started"), cond("occurredAt", "GTE", "now-7d")]},
    count={"operator": "GTE", "value": 2},
)
# A name never tracked: its first page must find no one fast, not probe every customer.
NEVER_TRACKED_TWICE = related(
    "EVENTS", "COUNT", cond("name", "EQ", "refund_requested"), count={"operator": "GTE", "value": 2}
)
# Event names by share of the traffic (percent).
NAMES = (
    ("checkout_started", 15),
    ("page_viewed", 40),
    ("product_viewed", 20),
    ("cart_updated", 10),
    ("email_opened", 10),
    ("signed_in", 5),
)


def _size(n: int) -> str:
    """1000000 -> "1m", 250000 -> "250k": for figure names."""
    for unit, scale in (("m", 1_000_000), ("k", 1000)):
        if n >= scale and n % scale == 0:
            return f"{n // scale}{unit}"
    return str(n)


@scenario(
    "events",
    order=70,
    description="event import rate; COUNT of checkout_started in 7 days over a big event table",
)
async def run(bench: Bench) -> None:
    lines = int(os.environ.get("BENCH_EVENTS_IMPORT", 1_000_000))
    target = int(os.environ.get("BENCH_EVENTS_TARGET", EVENTS_PER_CUSTOMER * bench.customers))
    if lines > 0:
        await import_rate(bench, lines)
    await fill(bench, target)
    await bench.tidy("event")

    now = bench.runtime.clock()
    ws = bench.workspace_pk
    condition = await condition_of(bench, CHECKOUT_TWICE_IN_7D, now)
    counts = max(bench.runs // 10, 5)
    await compare(
        bench,
        "events.checkout_2_in_7d.total_count",
        TOTAL_COUNT,
        CHECKOUT_TWICE_IN_7D,
        count_statement(ws, condition),
        counts,
    )
    await compare(
        bench,
        "events.checkout_2_in_7d.first_page_50",
        FIRST_PAGE,
        CHECKOUT_TWICE_IN_7D,
        page_statement(ws, condition, 50),
        max(bench.runs // 4, 5),
    )
    never = await condition_of(bench, NEVER_TRACKED_TWICE, now)
    await compare(
        bench,
        "events.never_tracked_2.first_page_50",
        FIRST_PAGE,
        NEVER_TRACKED_TWICE,
        page_statement(ws, never, 50),
        max(bench.runs // 4, 5),
    )


async def import_rate(bench: Bench, lines: int) -> None:
    """Import a generated JSONL file of `lines` events into a throwaway workspace."""
    async with bench.scratch_workspace("bench-events") as (name, _key):
        await seed_customers(bench.runtime, name, IMPORT_CUSTOMERS)
        with tempfile.TemporaryDirectory(prefix="segmentql-bench-") as folder:
            path = Path(folder) / "events.jsonl"
            write_jsonl(path, lines, bench.runtime.clock())
            started = time.perf_counter()
            report = await import_events(bench.runtime, name, path)
            seconds = time.perf_counter() - started
        print(f"# deleting the import workspace {name}", file=sys.stderr, flush=True)
    if report.loaded != lines:
        raise BenchError(f"imported {report.loaded} of {lines} events; bad: {report.bad[:3]}")
    size = _size(lines)
    bench.report(f"events.import_{size}.seconds", seconds, "s")
    bench.report(f"events.import_{size}.events_per_second", lines / seconds, "events/s")


def write_jsonl(path: Path, lines: int, now: datetime) -> None:
    """Events of the last 30 days, oldest first, each with an idempotency id and properties."""
    names = [n for n, share in NAMES for _ in range(share)]
    end = now.timestamp()
    span = 30 * 86_400
    with path.open("w") as out:
        for i in range(lines):
            at = format_instant(datetime.fromtimestamp(end - span + span * i / lines, UTC))
            customer = 1 + (i * 7919) % IMPORT_CUSTOMERS
            name = names[(i * 31) % len(names)]
            out.write(
                f'{{"id": "imp-{i:09d}", "customerId": "cus_{customer:07d}", "name": "{name}", '
                f'"occurredAt": "{at}", "properties": {{"path": "/p/{i % 97}", "n": {i % 13}}}}}\n'
            )


async def fill(bench: Bench, target: int) -> None:
    """Add events to the bench workspace, set-based, until it holds `target`; then ANALYZE.

    Customers are drawn skewed (a few very active, most quiet), names by NAMES,
    times rising from `now - SPREAD` to now as a live stream arrives. A fill of
    at least REBUILD_FROM rows, no smaller than the table, drops the event
    table's non-unique indexes and rebuilds them after, as the seed does.
    """
    conn = await asyncpg.connect(libpq_dsn(bench.runtime.database))
    try:
        have = await conn.fetchval(
            "SELECT count(*) FROM event WHERE workspace_pk = $1", bench.workspace_pk
        )
        missing = target - have
        if missing <= 0:
            bench.report("events.count", have, "events")
            return
        print(f"# filling {missing:,} events into the bench workspace", file=sys.stderr, flush=True)
        started = time.perf_counter()
        await conn.execute("SET statement_timeout = 0; SET work_mem = '256MB'")
        if await bulk_load.is_superuser(conn):
            await conn.execute("SET session_replication_role = replica")  # no FK triggers
        table_rows = await conn.fetchval("SELECT count(*) FROM event")
        rebuild: list[str] = []
        if missing >= max(REBUILD_FROM, table_rows):
            rebuild = await bulk_load.drop_secondary_indexes(
                conn, ["event"], bench.runtime.engine.dialect
            )
        try:
            await insert_events(conn, bench, have, target)
        finally:
            if rebuild:
                await bulk_load.run_parallel(
                    libpq_dsn(bench.runtime.database), rebuild, os.cpu_count() or 2
                )
        await conn.execute("ANALYZE event")
        bench.report("events.fill.seconds", time.perf_counter() - started, "s")
        bench.report("events.count", target, "events")
    finally:
        await conn.close()


async def insert_events(conn: asyncpg.Connection, bench: Bench, first: int, target: int) -> None:
    """Events number `first` .. `target - 1` of the workspace, FILL_BATCH per statement."""
    await conn.execute(
        "CREATE TEMP TABLE bench_customer AS SELECT (row_number() OVER (ORDER BY pk) - 1)::int "
        "AS rn, pk FROM customer WHERE workspace_pk = $1",
        bench.workspace_pk,
    )
    await conn.execute("ALTER TABLE bench_customer ADD PRIMARY KEY (rn); ANALYZE bench_customer")
    customers = await conn.fetchval("SELECT count(*) FROM bench_customer")
    cases = []
    bound = 0
    for name, share in NAMES:
        bound += share
        cases.append(f"WHEN h2 < {bound} THEN '{name}'")
    name_sql = f"CASE {' '.join(cases)} END"
    now = bench.runtime.clock()
    # u1 picks the customer (u1 squared: skewed to the first ones), h2 the name; hashes of
    # the event number, so the same fill gives the same events.
    statement = f"""
        INSERT INTO event (workspace_pk, customer_pk, name, occurred_at, properties)
        SELECT $1, c.pk, g.name, $5::timestamptz - $6::interval * (1 - g.i::float8 / $4),
               CASE WHEN g.name = 'checkout_started'
                    THEN jsonb_build_object('cart_value', g.h2 * 7 % 500) ELSE '{{}}' END
        FROM (
            SELECT i, h2, {name_sql} AS name,
                   floor($7 * power(((hashint8extended(i, 1) & 281474976710655)::float8
                                    / 281474976710656), 2))::int AS rn
            FROM (SELECT i, (hashint8extended(i, 2) & 1048575) % 100 AS h2
                  FROM generate_series($2::bigint, $3::bigint) AS i) AS s
        ) AS g
        JOIN bench_customer AS c ON c.rn = g.rn
    """
    for start in range(first, target, FILL_BATCH):
        end = min(start + FILL_BATCH, target) - 1
        await conn.execute(
            statement, bench.workspace_pk, start, end, target, now, SPREAD, customers
        )
        print(f"# {end + 1:,}/{target:,} events", file=sys.stderr, flush=True)
    names = [n for n, _ in NAMES]
    await conn.execute(
        "INSERT INTO event_name (workspace_pk, name, first_seen_at) "
        "SELECT $1, unnest($2::text[]), $3 ON CONFLICT DO NOTHING",
        bench.workspace_pk,
        names,
        now,
    )
    await conn.execute("DROP TABLE bench_customer")
