"""Seeding speed: the full bench seed if this run did it, else a throwaway workspace."""

from __future__ import annotations

from bench.harness import Bench, scenario
from persistence.seed import SeedReport, seed_customers

SAMPLE = 100_000


def report_seed(bench: Bench, prefix: str, report: SeedReport) -> None:
    bench.report(f"{prefix}.customers", report.customers, "customers")
    bench.report(f"{prefix}.seconds", report.seconds, "s")
    bench.report(f"{prefix}.customers_per_second", report.customers / report.seconds, "customers/s")
    bench.report(f"{prefix}.rows_per_second", report.total_rows / report.seconds, "rows/s")
    bench.report(f"{prefix}.rows_per_customer", report.total_rows / report.customers, "rows")


@scenario(
    "seed",
    order=10,
    description=f"seed speed (the full seed if it just ran, else {SAMPLE:,} customers)",
)
async def run(bench: Bench) -> None:
    if bench.seed_report is not None and bench.seed_report.customers:
        report_seed(bench, "seed.full", bench.seed_report)
        if bench.seed_report.indexes_rebuilt:
            bench.report("seed.full.index_rebuild_seconds", bench.seed_report.index_seconds, "s")
        return
    async with bench.scratch_workspace("bench-seed") as (name, _key):
        report = await seed_customers(bench.runtime, name, SAMPLE)
    report_seed(bench, "seed.sample", report)
