"""Prometheus metrics: what the service records, and the `/metrics` route.

Recording happens in a few fixed places, each one line: a GraphQL operation's
duration and top-level error codes (api.app `SegmentGraphQL.execute_single`),
userErrors by code (api.errors `user_errors`), background job durations
(api.background). Gauges of a process's state (pool, subscribers) are sampled
when scraped, and every second when several processes share the metrics.

With `serve --workers N` the processes share their samples through files in
`PROMETHEUS_MULTIPROC_DIR` (prometheus-client's multiprocess mode, set up by
`serve`): counters and histograms are summed over processes, per-process
gauges carry a `pid` label. Facts of the database (the event log's head,
replica lag) are read by whichever process answers the scrape.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import os
import re
import time
from collections.abc import AsyncIterator, Iterable, Iterator
from pathlib import Path
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from api.runtime import Runtime
from api.side_task import side_task
from persistence.database import pool_usage
from persistence.event_log import log_head_total
from persistence.reevaluations import REEVALUATIONS, SWEEPS

OPERATION_NAMES_KEPT = 200
"""Distinct operation names given their own histogram per process; later ones are `other`
(clients choose the names: without a bound they could grow the metrics without end)."""

LATENCY_BUCKETS = (0.002, 0.005, 0.01, 0.015, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)

OPERATION_SECONDS = Histogram(
    "segmentql_graphql_operation_duration_seconds",
    "GraphQL queries and mutations over HTTP, by operationName (parse, validate, execute).",
    ["operation"],
    buckets=LATENCY_BUCKETS,
)
GRAPHQL_ERRORS = Counter(
    "segmentql_graphql_errors_total",
    "Top-level GraphQL errors returned, by extensions.code.",
    ["code"],
)
USER_ERRORS = Counter(
    "segmentql_user_errors_total", "userErrors returned in mutation payloads, by code.", ["code"]
)
JOB_SECONDS = Histogram(
    "segmentql_background_job_duration_seconds",
    "One run of a background job (stats refresher, time sweeper, ...), by job.",
    ["job"],
    buckets=(0.001, 0.01, 0.05, 0.1, 0.5, 1, 5, 15, 60, 300, 1800),
)
JOB_FAILURES = Counter(
    "segmentql_background_job_failures_total", "Background job runs that raised, by job.", ["job"]
)
POOL_IN_USE = Gauge(
    "segmentql_pool_connections_in_use",
    "Database connections checked out of this process's pool.",
    multiprocess_mode="liveall",
)
POOL_WAITING = Gauge(
    "segmentql_pool_waiting",
    "Callers in this process waiting for a pool connection.",
    multiprocess_mode="liveall",
)
HEAVY_RUNNING = Gauge(
    "segmentql_heavy_operations_running",
    "Operations at or over SEGMENTQL_HEAVY_QUERY_COST running in this process's heavy lane.",
    multiprocess_mode="liveall",
)
HEAVY_WAITING = Gauge(
    "segmentql_heavy_operations_waiting",
    "Heavy operations in this process waiting for their turn in the heavy lane.",
    multiprocess_mode="liveall",
)
SUBSCRIBERS = Gauge(
    "segmentql_subscribers",
    "GraphQL subscriptions open on this process.",
    multiprocess_mode="liveall",
)

LEADER = Gauge(
    "segmentql_background_leader",
    "1 while this process leads the background jobs that run once (stats, sweeper, ...).",
    multiprocess_mode="liveall",
)

REPLICA_UP = Gauge(
    "segmentql_replica_up",
    "1 when the read replica answered its last check (each process checks every second).",
    ["replica"],
    multiprocess_mode="livemostrecent",
)
REPLICA_LAG = Gauge(
    "segmentql_replica_lag_seconds",
    "How far the read replica was behind the primary at its last check (NaN when down).",
    ["replica"],
    multiprocess_mode="livemostrecent",
)
REPLICA_READS = Counter(
    "segmentql_replica_reads_total", "Reads sent to the read replica.", ["replica"]
)
REPLICA_SKIPPED = Counter(
    "segmentql_replica_skipped_total",
    "Reads that could have gone to a replica but went to the primary: every replica down, "
    "or every one up lagging more than SEGMENTQL_REPLICA_MAX_LAG_S.",
    ["reason"],
)

LIVE_WORK = {
    name: Counter(f"segmentql_live_{name}_total", text)
    for name, text in {
        "writes": "Customer writes (and tracked events) checked against ACTIVE segments.",
        "segments_evaluated": "ACTIVE segments those writes evaluated, summed over writes.",
        "segments_skipped": "ACTIVE segments those writes did not need to evaluate "
        "(they read nothing the write changed), summed over writes.",
        "customer_evaluations": "(customer, segment) pairs those writes evaluated.",
    }.items()
}
"""persistence.reevaluations's process counters, carried over when the process is sampled."""
_live_seen: dict[str, int] = {}
SWEEP_WORK = {
    name: Counter(f"segmentql_sweep_{name}_total", text)
    for name, text in {
        "sweeps": "Workspace sweeps of the time sweeper (one a workspace with time-relative "
        "ACTIVE segments, each run).",
        "customers_due": "Customers the sweeper re-evaluated because a time boundary passed.",
        "segments_primed": "Time-bounded segments compared whole to compute their boundaries "
        "(first sweep after activation or a definition change).",
        "segments_rescanned": "Segments without computable boundaries, compared whole.",
    }.items()
}
_sweep_seen: dict[str, int] = {}

_operations: set[str] = set()
_NAMED = re.compile(r"\s*(?:query|mutation|subscription)\s+([_A-Za-z][_0-9A-Za-z]*)")


def operation_label(name: str | None, document: str | None) -> str:
    """`operationName`, else the name a document starting with its operation gives it."""
    if not name and document:
        found = _NAMED.match(document)
        name = found.group(1) if found else None
    if not name:
        return "anonymous"
    if name in _operations:
        return name
    if len(_operations) >= OPERATION_NAMES_KEPT:
        return "other"
    _operations.add(name)
    return name


def record_operation(request: Any, started: float, errors: Iterable[Any] | None) -> None:
    """One GraphQL operation done (strawberry's request data): its duration since `started`
    (perf_counter), its errors."""
    label = operation_label(request.operation_name, request.query)
    OPERATION_SECONDS.labels(label).observe(time.perf_counter() - started)
    for error in errors or ():
        code = (getattr(error, "extensions", None) or {}).get("code", "UNKNOWN")
        GRAPHQL_ERRORS.labels(str(code)).inc()


def sample_process(runtime: Runtime) -> None:
    """Set this process's gauges from its pool, its heavy lane and its event hub."""
    in_use, waiting = pool_usage(runtime.engine)
    POOL_IN_USE.set(in_use)
    POOL_WAITING.set(waiting)
    lane = runtime.extras.get("heavy")
    HEAVY_RUNNING.set(lane.running if lane else 0)
    HEAVY_WAITING.set(lane.waiting if lane else 0)
    hub = runtime.extras.get("hub")
    SUBSCRIBERS.set(sum(feed.subscriber_count() for feed in hub.feeds.values()) if hub else 0)
    for name, total in REEVALUATIONS.snapshot().items():
        LIVE_WORK[name].inc(total - _live_seen.get(name, 0))
        _live_seen[name] = total
    for name, total in SWEEPS.snapshot().items():
        SWEEP_WORK[name].inc(total - _sweep_seen.get(name, 0))
        _sweep_seen[name] = total


SAMPLE_INTERVAL_S = 1.0


@contextlib.asynccontextmanager
async def sampling(runtime: Runtime) -> AsyncIterator[None]:
    """With shared metrics, keep this process's gauges fresh (a scrape reaches one process)."""
    directory = multiprocess_dir()
    if directory is None:
        yield
        return
    forget_dead_processes(directory)

    async def sample() -> None:
        while True:
            sample_process(runtime)
            await asyncio.sleep(SAMPLE_INTERVAL_S)

    try:
        async with side_task(sample(), "segmentql-metrics-sampler"):
            yield
    finally:
        multiprocess.mark_process_dead(os.getpid(), directory)


def multiprocess_dir() -> str | None:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


def forget_dead_processes(directory: str) -> None:
    """Drop the live gauges of processes that are gone (a worker killed and replaced)."""
    pids = {f.stem.rsplit("_", 1)[-1] for f in Path(directory).glob("gauge_live*_*.db")}
    for pid in pids:
        if pid.isdigit() and not _alive(int(pid)):
            multiprocess.mark_process_dead(int(pid), directory)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class _Facts:
    """Gauges read from the database for one scrape."""

    def __init__(self, families: list[Metric]) -> None:
        self.families = families

    def collect(self) -> Iterator[Metric]:
        yield from self.families


async def database_facts(runtime: Runtime) -> list[Metric]:
    async with runtime.reader.connect() as conn:
        head = await log_head_total(conn)
    return [
        GaugeMetricFamily(
            "segmentql_event_log_head",
            "Membership events ever recorded, summed over workspaces (the log's head).",
            value=head,
        )
    ]


async def metrics(request: Request) -> Response:
    runtime: Runtime = request.app.state.runtime
    settings = runtime.settings
    if not settings.metrics:
        return PlainTextResponse("Not Found", 404)
    if settings.metrics_token is not None:
        given = request.headers.get("authorization", "")
        if not hmac.compare_digest(given.encode(), f"Bearer {settings.metrics_token}".encode()):
            return PlainTextResponse("Send 'Authorization: Bearer <SEGMENTQL_METRICS_TOKEN>'.", 401)
    sample_process(runtime)
    directory = multiprocess_dir()
    if directory:
        forget_dead_processes(directory)
        recorded = CollectorRegistry()
        multiprocess.MultiProcessCollector(recorded, directory)
    else:
        recorded = REGISTRY
    facts = CollectorRegistry(auto_describe=False)
    facts.register(_Facts(await database_facts(runtime)))
    body = generate_latest(recorded) + generate_latest(facts)
    return Response(body, media_type=CONTENT_TYPE_LATEST)
