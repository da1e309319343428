"""The benchmark harness: a seeded database, the real server on a port, scenarios, figures.

`python -m bench` needs DATABASE_URL. It migrates, makes sure the workspace
`bench` holds the asked number of customers (seeding what is missing),
creates a WRITE key, starts `segmentql serve` as a subprocess on a free
loopback port, runs the registered scenarios and prints one figure a line,
`name: value unit`, also written to bench/results.json.

A scenario is a module in bench/scenarios/ with a function decorated by
`@scenario(...)`; it gets a `Bench` and calls `bench.gql(...)`,
`bench.sql_timed(...)`, `bench.latencies(...)` and `bench.report(...)`.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import json
import math
import os
import pkgutil
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from sqlalchemy import text

from api.open_files import raise_open_file_limit
from api.progress import CommandProgress
from api.runtime import Runtime
from api.services.bootstrap import create_key
from domain.access import Role
from persistence.database import libpq_dsn
from persistence.migrate import migrate
from persistence.seed import SeedReport, seed_customers
from persistence.segments import stale_passive_segments

WORKSPACE = "bench"
RESULTS = Path(__file__).parent / "results.json"


class BenchError(Exception):
    """The benchmark cannot go on; the message says why."""


# ---- the registry -------------------------------------------------------------


@dataclass(frozen=True)
class Scenario:
    name: str
    order: int
    description: str
    run: Callable[[Bench], Awaitable[None]]


REGISTRY: dict[str, Scenario] = {}


def scenario(
    name: str, *, order: int = 100, description: str = ""
) -> Callable[[Callable[[Bench], Awaitable[None]]], Callable[[Bench], Awaitable[None]]]:
    """Register a scenario family; `order` sets when it runs (seed 10, ingest 20, read 30)."""

    def register(run: Callable[[Bench], Awaitable[None]]) -> Callable[[Bench], Awaitable[None]]:
        if name in REGISTRY:
            raise BenchError(f"two scenarios are named {name!r}")
        REGISTRY[name] = Scenario(name, order, description, run)
        return run

    return register


def discover() -> list[Scenario]:
    """Import every module of bench.scenarios (registering them); returns them in order."""
    import bench.scenarios as package

    for module in pkgutil.iter_modules(package.__path__):
        importlib.import_module(f"{package.__name__}.{module.name}")
    return sorted(REGISTRY.values(), key=lambda s: (s.order, s.name))


# ---- figures ------------------------------------------------------------------


@dataclass(frozen=True)
class Figure:
    name: str
    value: float
    unit: str


@dataclass(frozen=True)
class Latency:
    """Milliseconds of repeated calls after a warm-up."""

    samples: list[float]

    @property
    def p50(self) -> float:
        return statistics.median(self.samples)

    @property
    def p95(self) -> float:
        ordered = sorted(self.samples)
        return ordered[max(math.ceil(0.95 * len(ordered)) - 1, 0)]


def _fmt(value: float) -> str:
    if value >= 100 or value == int(value):
        return f"{value:.0f}"
    return f"{value:.3g}" if value < 1 else f"{value:.2f}"


@dataclass
class Bench:
    """What a scenario works with: the API over HTTP, the database, and the report."""

    runtime: Runtime
    base_url: str
    http: httpx.AsyncClient
    conn: asyncpg.Connection
    workspace_pk: int
    customers: int
    runs: int = 100
    warmup: int = 10
    seed_report: SeedReport | None = None  # set when this run seeded the bench workspace
    server: Server | None = None  # the `segmentql serve` subprocess
    webhook_down_s: float = 60.0  # how long the webhooks scenario's receiver is down
    subscribers: int = 10_000  # the live_fanout scenario's concurrent subscribers
    figures: list[Figure] = field(default_factory=list)

    def report(self, name: str, value: float, unit: str) -> None:
        """Print and record one figure."""
        self.figures.append(Figure(name, float(value), unit))
        print(f"{name}: {_fmt(float(value))} {unit}", flush=True)

    async def gql(
        self, query: str, variables: dict[str, Any] | None = None, key: str | None = None
    ) -> tuple[dict[str, Any], float]:
        """POST a GraphQL document; returns its data and the round trip in ms."""
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        started = time.perf_counter()
        response = await self.http.post(
            f"{self.base_url}/graphql",
            json={"query": query, "variables": variables or {}},
            headers=headers,
        )
        body = response.json()
        elapsed = (time.perf_counter() - started) * 1000
        if response.status_code != 200 or body.get("errors"):
            raise BenchError(f"HTTP {response.status_code}: {json.dumps(body)[:500]}")
        data: dict[str, Any] = body["data"]
        return data, elapsed

    async def sql_timed(self, sql: str, *args: Any) -> tuple[list[asyncpg.Record], float]:
        """Run SQL on the harness's own asyncpg connection; returns the rows and ms."""
        started = time.perf_counter()
        rows = await self.conn.fetch(sql, *args)
        return rows, (time.perf_counter() - started) * 1000

    async def latencies(
        self,
        name: str,
        call: Callable[[int], Awaitable[float]],
        runs: int | None = None,
        warmup: int | None = None,
    ) -> Latency:
        """Call `call(i)` (returning ms) `warmup` times, then `runs` times; reports p50 and p95.

        `i` counts on across warm-up and runs, so a call can use it to pick fresh input.
        """
        warmup = self.warmup if warmup is None else warmup
        for i in range(warmup):
            await call(i)
        samples = [await call(warmup + i) for i in range(self.runs if runs is None else runs)]
        latency = Latency(samples)
        self.report(f"{name}.p50", latency.p50, "ms")
        self.report(f"{name}.p95", latency.p95, "ms")
        return latency

    async def tidy(self, *tables: str) -> None:
        """VACUUM (ANALYZE) `tables` when the server's autovacuum is off, as it would do them.

        Without it, tables the benchmark itself filled (memberships, events) have no
        statistics and the planner guesses: the figures would be of a server no one runs.
        """
        if await self.conn.fetchval("SELECT current_setting('autovacuum')") == "on":
            return
        for table in tables:
            started = time.perf_counter()
            await self.conn.execute(f"VACUUM (ANALYZE) {table}")
            elapsed = time.perf_counter() - started
            print(f"# autovacuum is off here: vacuumed {table} ({elapsed:.1f} s)", file=sys.stderr)

    @contextlib.asynccontextmanager
    async def scratch_workspace(self, prefix: str) -> AsyncIterator[tuple[str, str]]:
        """A throwaway workspace (seed properties declared) and a WRITE key; deleted after."""
        name = f"{prefix}-{uuid.uuid4().hex[:8]}"
        await seed_customers(self.runtime, name, 0)
        key = await create_key(self.runtime, name, Role.WRITE, "bench")
        try:
            yield name, key
        finally:
            await self.conn.execute("DELETE FROM workspace WHERE name = $1", name)


# ---- setup --------------------------------------------------------------------


async def stats_caught_up(bench: Bench, limit_s: float = 300.0) -> None:
    """Wait until every PASSIVE count is within the freshness bound (or nothing could
    have changed it), and report how long that took.

    A new server recounts every cached count that the data changed under since
    (the last run's `live` writes, say), which keeps a core busy for a while: the
    figures are of the steady state, after it, and this is how long that took.
    """
    max_age = timedelta(seconds=bench.runtime.settings.stats_max_age_s)
    started = time.perf_counter()
    due: list[tuple[int, str]] = []
    while time.perf_counter() - started < limit_s:
        async with bench.runtime.engine.connect() as conn:
            due = await stale_passive_segments(conn, datetime.now(UTC) - max_age, 1000)
        if not due:
            break
        await asyncio.sleep(1.0)
    bench.report("server.stats_caught_up.seconds", time.perf_counter() - started, "s")
    if due:
        print(f"# {len(due)} segment counts still stale after {limit_s:.0f} s", file=sys.stderr)


async def ensure_seeded(runtime: Runtime, customers: int) -> tuple[int, SeedReport | None]:
    """The bench workspace's pk; seeds the customers it lacks (the report, if it did)."""
    conn = await asyncpg.connect(libpq_dsn(runtime.database))
    try:
        have = await conn.fetchval(
            "SELECT count(*) FROM customer c JOIN workspace w ON w.pk = c.workspace_pk "
            "WHERE w.name = $1",
            WORKSPACE,
        )
    finally:
        await conn.close()
    report = None
    if have < customers:
        print(f"# seeding {customers - have:,} customers into {WORKSPACE!r}", file=sys.stderr)
        with CommandProgress("seed", customers - have, unit="customers") as bar:
            report = await seed_customers(runtime, WORKSPACE, customers - have, progress=bar)
        print(f"# {report.summary()}", file=sys.stderr)
    else:
        await seed_customers(runtime, WORKSPACE, 0)  # workspace, properties
    async with runtime.engine.connect() as sa_conn:
        query = text("SELECT pk FROM workspace WHERE name = :name")
        pk = await sa_conn.scalar(query, {"name": WORKSPACE})
    return int(pk), report


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class Server:
    """The server subprocess: where it listens, its pid (for /proc/<pid>/status), its log."""

    base_url: str
    pid: int
    log: Path

    def log_tail(self, lines: int = 30, width: int = 300) -> str:
        """The log's last lines, each cut to `width` (a failed statement's SQL can be huge)."""
        tail = self.log.read_text(errors="replace").splitlines()[-lines:]
        return "\n".join(line[:width] for line in tail)


@contextlib.asynccontextmanager
async def serve(database_url: str) -> AsyncIterator[Server]:
    """`segmentql serve` in a subprocess on a free loopback port."""
    port = _free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "SEGMENTQL_HOST": "127.0.0.1",
        "SEGMENTQL_PORT": str(port),
        # One key stands in for many clients here: its rate limit would be what is
        # measured. Set the variable to bench with the limit on.
        "SEGMENTQL_COST_BUCKET_SIZE": os.environ.get("SEGMENTQL_COST_BUCKET_SIZE", "0"),
        # The webhooks scenario's receiver listens on 127.0.0.1 over plain http.
        "SEGMENTQL_WEBHOOK_ALLOW_PRIVATE": "1",
        "SEGMENTQL_WEBHOOK_HTTP_HOSTS": "127.0.0.1",
    }
    with tempfile.NamedTemporaryFile("w+", prefix="segmentql-bench-", suffix=".log") as log:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "api.cli",
            "serve",
            "--log-level",
            "warning",
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        base_url = f"http://127.0.0.1:{port}"
        try:
            await _wait_ready(base_url, proc, log.name)
            yield Server(base_url, proc.pid, Path(log.name))
        finally:
            if proc.returncode is None:
                proc.terminate()
                try:
                    await asyncio.wait_for(proc.wait(), 30)
                except TimeoutError:
                    proc.kill()
                    await proc.wait()


async def _wait_ready(base_url: str, proc: asyncio.subprocess.Process, log: str) -> None:
    deadline = time.monotonic() + 120
    async with httpx.AsyncClient(timeout=5) as client:
        while time.monotonic() < deadline:
            if proc.returncode is not None:
                raise BenchError(f"the server exited: {Path(log).read_text()[-2000:]}")
            with contextlib.suppress(httpx.HTTPError):
                if (await client.get(f"{base_url}/readyz")).status_code == 200:
                    return
            await asyncio.sleep(0.2)
    raise BenchError(f"the server was not ready in 120 s: {Path(log).read_text()[-2000:]}")


def _client(key: str) -> httpx.AsyncClient:
    # TCP_NODELAY: without it each small request can wait for a delayed ACK (~40 ms).
    nodelay = [(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)]
    return httpx.AsyncClient(
        transport=httpx.AsyncHTTPTransport(socket_options=nodelay),
        timeout=300,
        headers={"Authorization": f"Bearer {key}"},
    )


def _write_results(bench: Bench, started: datetime, failed: list[str]) -> None:
    RESULTS.write_text(
        json.dumps(
            {
                "started_at": started.isoformat(),
                "customers": bench.customers,
                "machine": {
                    "cpus": os.cpu_count(),
                    "python": platform.python_version(),
                    "load_average": list(os.getloadavg()),
                },
                "failed": failed,
                "figures": [asdict(f) for f in bench.figures],
            },
            indent=2,
        )
        + "\n"
    )


async def run(
    customers: int,
    only: list[str] | None,
    runs: int,
    webhook_down_s: float = 60.0,
    subscribers: int = 10_000,
) -> int:
    """The whole benchmark; returns the process exit status."""
    database_url = os.environ.get("DATABASE_URL")
    if not database_url:
        raise SystemExit(
            "bench needs DATABASE_URL, e.g. DATABASE_URL=postgresql://postgres@127.0.0.1:5432/"
            "segmentql_bench uv run python -m bench\n(a database of its own: it seeds "
            f"{customers:,} customers, a few GB, into workspace {WORKSPACE!r})"
        )
    scenarios = discover()
    unknown = set(only or ()) - {s.name for s in scenarios}
    if unknown:
        known = ", ".join(s.name for s in scenarios)
        raise SystemExit(f"unknown scenario {', '.join(sorted(unknown))}; known: {known}")
    started = datetime.now(UTC)
    raise_open_file_limit()  # the live_fanout scenario's WebSockets; the server inherits it
    runtime = Runtime.start()
    failed: list[str] = []
    try:
        await migrate(runtime.engine)
        workspace_pk, seed_report = await ensure_seeded(runtime, customers)
        key = await create_key(runtime, WORKSPACE, Role.WRITE, "bench")
        # JIT off, as on the service's connections, so `_sql` figures compare like with like.
        conn = await asyncpg.connect(libpq_dsn(runtime.database), server_settings={"jit": "off"})
        try:
            async with serve(database_url) as server, _client(key) as http:
                bench = Bench(
                    runtime,
                    server.base_url,
                    http,
                    conn,
                    workspace_pk,
                    customers,
                    runs,
                    max(runs // 10, 3),
                    seed_report,
                    server,
                    webhook_down_s,
                    subscribers,
                )
                await stats_caught_up(bench)
                for spec in scenarios:
                    if only and spec.name not in only:
                        continue
                    print(f"# {spec.name}: {spec.description}", file=sys.stderr, flush=True)
                    try:
                        await spec.run(bench)
                    except Exception as exc:  # report it, run the others
                        failed.append(spec.name)
                        print(
                            f"# {spec.name} FAILED: {type(exc).__name__}: {exc}\n"
                            f"# the server log ends with:\n{server.log_tail()}",
                            file=sys.stderr,
                            flush=True,
                        )
                _write_results(bench, started, failed)
        finally:
            await conn.close()
    finally:
        await runtime.close()
    return 1 if failed else 0
