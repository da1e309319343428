"""segmentql beside PostGraphile (the anchor) and raw SQL, on the same rows, in one run.

The `bench` workspace's customers and invoices are copied into schema `anchor`
(text ids, the same kind of indexes; rebuilt only when the workspace's size
changed), PostGraphile v4 + connection-filter is started on them with the shared
anchor's postgraphile.sh, and the shared measure.py runs with a segmentql query
set (bench/anchor_measure.py) against both servers and SQL: every answer is
checked against SQL first. Its figures are reported under `anchor.`, with
segmentql/PostGraphile ratios and each server's CPU per request.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

from bench.anchor_measure import anchor_dir
from bench.harness import Bench, BenchError, _free_port, scenario
from persistence.database import libpq_dsn

NODE_DIR = Path(os.environ.get("PGANCHOR_NODE_DIR", "/tmp/pganchor/node"))
NPM_PACKAGES = ("postgraphile@4.14.1", "postgraphile-plugin-connection-filter@2.3.0")
FIGURE = re.compile(r"^([\w.]+): (\S+) ?(.*)$")
COMPARED = ("a_page1", "b_count", "c_open_page1", "d_page2_cursor", "f_deep_cursor")

COPY = [
    "DROP SCHEMA IF EXISTS anchor CASCADE",
    "CREATE SCHEMA anchor",
    "CREATE TABLE anchor.customers AS SELECT id::text AS id, email::text AS email, "
    "country::text AS country, payment_method_type::text AS payment_method_type "
    "FROM customer WHERE workspace_pk = {pk}",
    "CREATE TABLE anchor.invoices AS SELECT i.id::text AS id, c.id::text AS customer_id, "
    "i.status::text AS status FROM invoice i JOIN customer c ON c.pk = i.customer_pk "
    "WHERE c.workspace_pk = {pk}",
    "ALTER TABLE anchor.customers ADD PRIMARY KEY (id)",
    "ALTER TABLE anchor.invoices ADD FOREIGN KEY (customer_id) REFERENCES anchor.customers (id)",
    # segmentql's: (workspace_pk, country), (workspace_pk, payment_method_type, country),
    # (workspace_pk, email); invoices (customer_pk, status, issued_at).
    "CREATE INDEX ON anchor.customers (country)",
    "CREATE INDEX ON anchor.customers (payment_method_type, country)",
    "CREATE INDEX ON anchor.customers (email)",
    "CREATE INDEX ON anchor.invoices (customer_id, status)",
]


async def copy_rows(bench: Bench) -> None:
    """Schema `anchor` holds the bench workspace's rows (copied again if its size differs)."""
    conn = bench.conn
    have = None
    if await conn.fetchval("SELECT to_regclass('anchor.customers') IS NOT NULL"):
        have = await conn.fetchval("SELECT count(*) FROM anchor.customers")
    if have == bench.customers:
        return
    started = time.perf_counter()
    for statement in COPY:
        await conn.execute(statement.format(pk=bench.workspace_pk))
    await conn.execute("VACUUM ANALYZE anchor.customers")
    await conn.execute("VACUUM ANALYZE anchor.invoices")
    bench.report("anchor.copy.seconds", time.perf_counter() - started, "s")


def ensure_postgraphile() -> None:
    """PostGraphile's node_modules outside the repository, installed as the anchor's README says."""
    if (NODE_DIR / "node_modules" / "postgraphile").is_dir():
        return
    print(f"# installing {' '.join(NPM_PACKAGES)} under {NODE_DIR}", file=sys.stderr)
    NODE_DIR.mkdir(parents=True, exist_ok=True)
    if not (NODE_DIR / "package.json").exists():
        subprocess.run(["npm", "init", "-y"], cwd=NODE_DIR, check=True, capture_output=True)
    subprocess.run(
        ["npm", "install", "--no-audit", "--no-fund", *NPM_PACKAGES],
        cwd=NODE_DIR,
        check=True,
        capture_output=True,
        timeout=600,
    )


@contextlib.asynccontextmanager
async def postgraphile(dsn: str) -> AsyncIterator[tuple[str, int]]:
    """PostGraphile on a free loopback port: its URL and its node process's pid."""
    port = _free_port()
    env = {**os.environ, "PG_SCHEMA": "anchor", "PGANCHOR_NODE_DIR": str(NODE_DIR)}
    proc = await asyncio.create_subprocess_exec(
        str(anchor_dir() / "postgraphile.sh"),
        dsn,
        str(port),
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    assert proc.stdout is not None
    try:
        async with asyncio.timeout(90):
            while True:
                line = (await proc.stdout.readline()).decode()
                if not line:
                    raise BenchError("postgraphile.sh exited before it was ready")
                found = re.match(r"READY (\S+) pid=(\d+)", line)
                if found:
                    break
        yield found.group(1), int(found.group(2))
    finally:
        if proc.returncode is None:
            proc.terminate()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(proc.wait(), 30)


async def measure(bench: Bench, pg_url: str, pg_pid: int) -> dict[str, tuple[float, str]]:
    """Run bench/anchor_measure.py; its figures by name."""
    assert bench.server is not None
    dsn = libpq_dsn(bench.runtime.database)
    token = str(bench.http.headers["authorization"]).split(" ", 1)[1]
    args = [
        "--url", pg_url,
        "--target", f"segmentql={bench.server.base_url}/graphql",
        "--db", dsn,
        "--table", "anchor.customers",
        "--invoices-table", "anchor.invoices",
        "--server-pid", f"postgraphile={pg_pid}",
        "--server-pid", f"segmentql={bench.server.pid}",
        "--auth", f"segmentql={token}",
        "--n-fast", str(max(bench.runs, 20)),
        "--warmup", str(max(bench.warmup, 10)),
        "--only", ",".join(COMPARED),
        "--deep-offset", str(max(bench.customers // 50, 1)),  # 20000 at 1M
        "--no-httpx-throughput",
        "--duration", os.environ.get("BENCH_ANCHOR_DURATION", "10"),
    ]  # fmt: skip
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench.anchor_measure", *args,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    stdout, stderr = await proc.communicate()
    if proc.returncode != 0:
        raise BenchError(f"measure.py failed: {stderr.decode()[-2000:]}{stdout.decode()[-500:]}")
    figures = {}
    for line in stdout.decode().splitlines():
        found = FIGURE.match(line)
        if found:
            figures[found.group(1)] = (found.group(2), found.group(3))
    return figures  # type: ignore[return-value]


def number(figures: dict[str, tuple[str, str]], name: str) -> float | None:
    value = figures.get(name)
    try:
        return float(value[0]) if value else None
    except ValueError:
        return None


def report_figures(bench: Bench, figures: dict[str, tuple[str, str]]) -> None:
    for name, (value, unit) in figures.items():
        if name.startswith("env.") or name.endswith(".check"):
            continue
        with contextlib.suppress(ValueError):
            bench.report(f"anchor.{name}", float(value), unit)
    for scn in COMPARED:
        for q in ("p50", "p95"):
            ours = number(figures, f"{scn}.segmentql.{q}")
            theirs = number(figures, f"{scn}.postgraphile.{q}")
            if ours and theirs:
                bench.report(f"anchor.{scn}.segmentql_vs_postgraphile.{q}", ours / theirs, "x")
    for q in ("p50", "p95"):
        ours = number(figures, f"floor_typename.segmentql.{q}")
        theirs = number(figures, f"floor_typename.postgraphile.{q}")
        if ours and theirs:
            bench.report(f"anchor.floor_typename.segmentql_vs_postgraphile.{q}", ours / theirs, "x")
    rps = {}
    for side in ("segmentql", "postgraphile"):
        prefix = f"throughput.a_page1.{side}_rawclient"
        rps[side] = number(figures, f"{prefix}.rps")
        cpu = number(figures, f"{prefix}.server_cpu")
        if rps[side] and cpu is not None:
            bench.report(f"anchor.{prefix}.cpu_per_request", cpu / rps[side] * 1000, "ms")  # type: ignore[operator]
    if rps["segmentql"] and rps["postgraphile"]:
        bench.report(
            "anchor.throughput.a_page1.segmentql_vs_postgraphile.rps",
            rps["segmentql"] / rps["postgraphile"],
            "x",
        )


@scenario(
    "anchor",
    order=90,
    description="segmentql vs PostGraphile v4 vs SQL on the same rows (shared measure.py)",
)
async def run(bench: Bench) -> None:
    if bench.server is None:
        raise BenchError("the anchor needs the server subprocess")
    # Both sides' tables vacuumed alike (the copies are, below): with autovacuum off,
    # the service's would lack the visibility map an index-only count needs.
    await bench.tidy("customer", "invoice")
    await copy_rows(bench)
    await asyncio.to_thread(ensure_postgraphile)
    async with postgraphile(libpq_dsn(bench.runtime.database)) as (pg_url, pg_pid):
        figures = await measure(bench, pg_url, pg_pid)
    for name, (value, rest) in figures.items():
        if name.endswith(".check"):
            print(f"# anchor {name}: {value} {rest}", file=sys.stderr)
    report_figures(bench, figures)
