"""Bulk customer import: a generated JSON Lines file of customers with 8 related records each,
loaded into a throwaway workspace, then loaded again unchanged (0 writes, 0 events expected).

BENCH_IMPORT_CUSTOMERS sets the size (default 20,000; the issue's figures are at 1M and 10M).
The same file is then imported into a second workspace holding the live scenario's ACTIVE
segments (BENCH_IMPORT_ACTIVE=0 skips it), and the ENTERED events it records are checked
against the memberships it leaves (every customer is new, so each membership is one ENTERED).
"""

from __future__ import annotations

import json
import os
import random
import resource
import sys
import tempfile
import time
from pathlib import Path

from api import garbage_collection
from api.services.customer_import import file_lines, import_customers
from bench.harness import Bench, BenchError, scenario
from bench.scenarios.ingest import RECORDS, customer_input
from domain.import_job import ImportOptions
from persistence.reevaluations import REEVALUATIONS

DEFAULT_CUSTOMERS = 20_000


def write_file(path: Path, customers: int) -> None:
    rng = random.Random(11)
    with path.open("w") as out:
        for i in range(customers):
            out.write(json.dumps(customer_input(rng, f"imp_{i:08d}")) + "\n")


MEMBERS = """
SELECT count(*) FROM segment_member WHERE workspace_pk = $1
"""
ENTERED = "SELECT count(*) FROM segment_event WHERE workspace_pk = $1 AND kind = 'ENTERED'"


EVENTS = (
    "SELECT count(*) FILTER (WHERE kind = 'ENTERED'), count(*) FILTER (WHERE kind = 'LEFT') "
    "FROM segment_event WHERE workspace_pk = $1"
)


async def one_field_changed(
    bench: Bench, path: Path, workspace_pk: int, customers: int, label: str
) -> None:
    """Every customer's `source` changed by a second file: the segments evaluated are those
    reading `source` (REEVALUATIONS counts them), and the events recorded match the change
    in stored memberships."""
    changed = path.with_name("source_changed.jsonl")
    with changed.open("w") as out:
        for i in range(customers):
            out.write(json.dumps({"id": f"imp_{i:08d}", "source": "crm"}) + "\n")
    members_before = await bench.conn.fetchval(MEMBERS, workspace_pk)
    entered_before, left_before = await bench.conn.fetchrow(EVENTS, workspace_pk)
    counted = REEVALUATIONS.of(workspace_pk)
    evaluated_before = counted.customer_evaluations
    started = time.perf_counter()
    report = await import_customers(
        bench.runtime, workspace_pk, file_lines(changed), ImportOptions()
    )
    seconds = time.perf_counter() - started
    members = await bench.conn.fetchval(MEMBERS, workspace_pk)
    entered, left = await bench.conn.fetchrow(EVENTS, workspace_pk)
    moved = (entered - entered_before) - (left - left_before)
    if report.written != customers or moved != members - members_before:
        raise BenchError(
            f"{report.summary()}; {moved} net events for a {members - members_before} change"
        )
    bench.report(f"{label}.source_changed.seconds", seconds, "s")
    bench.report(
        f"{label}.source_changed.customer_segment_evaluations",
        REEVALUATIONS.of(workspace_pk).customer_evaluations - evaluated_before,
        "pairs",
    )
    bench.report(
        f"{label}.source_changed.events",
        (entered - entered_before) + (left - left_before),
        "events",
    )


async def with_active_segments(bench: Bench, path: Path, customers: int) -> None:
    from bench.scenarios.live import active_predicates, ensure_active

    async with bench.scratch_workspace("bench-import-live") as (name, key):
        workspace_pk = await bench.conn.fetchval("SELECT pk FROM workspace WHERE name = $1", name)
        segments = await ensure_active(
            bench, "imp-", active_predicates(bench), ".import", key, workspace_pk
        )
        started = time.perf_counter()
        report = await import_customers(
            bench.runtime, workspace_pk, file_lines(path), ImportOptions()
        )
        seconds = time.perf_counter() - started
        members = await bench.conn.fetchval(MEMBERS, workspace_pk)
        entered = await bench.conn.fetchval(ENTERED, workspace_pk)
        if report.written != customers or entered != members:
            raise BenchError(f"{report.summary()}; {entered} ENTERED for {members} memberships")
        label = f"import.active_{len(segments)}"
        bench.report(f"{label}.seconds", seconds, "s")
        bench.report(f"{label}.customers_per_second", customers / seconds, "customers/s")
        bench.report(f"{label}.entered_events", entered, "events")
        await one_field_changed(bench, path, workspace_pk, customers, label)
        print(f"# deleting the import workspace {name}", file=sys.stderr, flush=True)


@scenario("import", order=25, description="import customers from JSONL, then re-import unchanged")
async def run(bench: Bench) -> None:
    customers = int(os.environ.get("BENCH_IMPORT_CUSTOMERS", DEFAULT_CUSTOMERS))
    garbage_collection.tune(bench.runtime.settings.gc_young_threshold)  # as the command does
    async with bench.scratch_workspace("bench-import") as (name, _key):
        workspace_pk = await bench.conn.fetchval("SELECT pk FROM workspace WHERE name = $1", name)
        with tempfile.TemporaryDirectory(prefix="segmentql-bench-") as folder:
            path = Path(folder) / "customers.jsonl"
            write_file(path, customers)
            for label in ("first", "again"):
                events_before = await bench.conn.fetchval("SELECT count(*) FROM segment_event")
                started = time.perf_counter()
                report = await import_customers(
                    bench.runtime, workspace_pk, file_lines(path), ImportOptions()
                )
                seconds = time.perf_counter() - started
                events = await bench.conn.fetchval("SELECT count(*) FROM segment_event")
                if report.rejected or report.written + report.unchanged != customers:
                    raise BenchError(f"import {label}: {report.summary()}")
                if label == "again" and (report.written or events != events_before):
                    raise BenchError(f"the unchanged re-import wrote: {report.summary()}")
                bench.report(f"import.{label}.seconds", seconds, "s")
                bench.report(
                    f"import.{label}.customers_per_second", customers / seconds, "customers/s"
                )
                if label == "first":
                    bench.report(
                        "import.first.rows_per_second", RECORDS * customers / seconds, "rows/s"
                    )
            if os.environ.get("BENCH_IMPORT_ACTIVE", "1") != "0":
                await with_active_segments(bench, path, customers)
        print(f"# deleting the import workspace {name}", file=sys.stderr, flush=True)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    bench.report("import.bench_process_peak_rss", peak_mb, "MB")
