"""Heavy documents next to light ones: the first page stays fast, nothing fails.

8 clients read the first page of customers, alone and then while 4 clients loop
on documents near the maximum cost. Reported: the first page's p95 both ways and
their ratio, the heavy documents' latency, and every top-level error code seen.
Also APQ: the first page sent in full and by hash alone.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections import Counter
from typing import Any

from bench.harness import Bench, BenchError, Latency, scenario
from bench.scenarios.read import PAGE

LIGHT_CLIENTS = 8
HEAVY_CLIENTS = 4
# 1 + 1000 * (1 + (10 + 5) + 5 + (1 + 50)) = 72,001 points: under the default maximum.
HEAVY = """
{ customers(first: 1000) { edges { node {
    id segments { id name } invoices { id total }
    orders(first: 50) { edges { node { id amount } } }
} } } }
"""


async def _post(bench: Bench, body: dict[str, Any]) -> tuple[dict[str, Any], float]:
    started = time.perf_counter()
    response = await bench.http.post(f"{bench.base_url}/graphql", json=body)
    elapsed = (time.perf_counter() - started) * 1000
    if response.status_code != 200:
        raise BenchError(f"HTTP {response.status_code}: {response.text[:300]}")
    result: dict[str, Any] = response.json()
    return result, elapsed


def _codes(result: dict[str, Any]) -> list[str]:
    return [e.get("extensions", {}).get("code", "?") for e in result.get("errors") or []]


async def _light(bench: Bench, calls: int, errors: Counter[str]) -> list[float]:
    samples = []
    for _ in range(calls):
        result, elapsed = await _post(bench, {"query": PAGE, "variables": {"after": None}})
        errors.update(_codes(result))
        samples.append(elapsed)
    return samples


async def _first_page_under_load(bench: Bench, errors: Counter[str]) -> Latency:
    calls = max(bench.runs // LIGHT_CLIENTS, 5)
    per_client = await asyncio.gather(*(_light(bench, calls, errors) for _ in range(LIGHT_CLIENTS)))
    return Latency([s for samples in per_client for s in samples])


@scenario("contention", order=35, description="first pages next to maximum-cost documents")
async def run(bench: Bench) -> None:
    errors: Counter[str] = Counter()
    await _light(bench, bench.warmup, errors)
    idle = await _first_page_under_load(bench, errors)

    stop = asyncio.Event()
    heavy_ms: list[float] = []

    async def heavy() -> None:
        while not stop.is_set():
            result, elapsed = await _post(bench, {"query": HEAVY})
            errors.update(_codes(result))
            heavy_ms.append(elapsed)

    pool: list[tuple[float, float]] = []
    heavy_tasks = [asyncio.create_task(heavy()) for _ in range(HEAVY_CLIENTS)]
    heavy_tasks.append(asyncio.create_task(_sample_pool(bench, stop, pool)))
    try:
        await asyncio.sleep(0.5)  # let the heavy documents take their connections
        loaded = await _first_page_under_load(bench, errors)
    finally:
        stop.set()
        await asyncio.gather(*heavy_tasks)

    bench.report("contention.first_page_idle.p95", idle.p95, "ms")
    bench.report("contention.first_page_under_heavy.p95", loaded.p95, "ms")
    bench.report("contention.first_page_p95_ratio", loaded.p95 / idle.p95, "x")
    bench.report("contention.heavy.p50", Latency(heavy_ms).p50, "ms")
    bench.report("contention.heavy_documents", len(heavy_ms), "documents")
    for code in ("INTERNAL_SERVER_ERROR", "TIMEOUT", "THROTTLED", "QUERY_TOO_COSTLY"):
        bench.report(f"contention.errors.{code}", errors[code], "errors")
    if pool:
        bench.report("contention.pool_in_use.max", max(p[0] for p in pool), "connections")
        bench.report("contention.pool_waiting.max", max(p[1] for p in pool), "callers")
        bench.report("contention.pool_samples", len(pool), "samples")
    await _persisted(bench)


POOL_GAUGES = ("segmentql_pool_connections_in_use", "segmentql_pool_waiting")


async def _sample_pool(
    bench: Bench, stop: asyncio.Event, samples: list[tuple[float, float]]
) -> None:
    """The server's pool gauges (from /metrics) every 200 ms while the heavy clients run:
    the pool is exhausted when every connection is out and callers wait."""
    while not stop.is_set():
        response = await bench.http.get(f"{bench.base_url}/metrics")
        if response.status_code != 200:
            return  # metrics turned off: nothing to report
        found = dict.fromkeys(POOL_GAUGES, 0.0)
        for line in response.text.splitlines():
            name, _, value = line.partition(" ")
            if name in found:
                found[name] = float(value)
        samples.append((found[POOL_GAUGES[0]], found[POOL_GAUGES[1]]))
        await asyncio.sleep(0.2)


async def _persisted(bench: Bench) -> None:
    """The first page in full, and by its hash once the service knows it."""
    digest = hashlib.sha256(PAGE.encode()).hexdigest()
    extensions = {"persistedQuery": {"version": 1, "sha256Hash": digest}}
    full = {"query": PAGE, "variables": {"after": None}, "extensions": extensions}
    by_hash = {"variables": {"after": None}, "extensions": extensions}
    await _post(bench, full)

    async def send(body: dict[str, Any]) -> float:
        result, elapsed = await _post(bench, body)
        if result.get("errors"):
            raise BenchError(json.dumps(result)[:300])
        return elapsed

    sent_full = await bench.latencies("contention.apq_full_document", lambda i: send(full))
    sent_hash = await bench.latencies("contention.apq_hash_only", lambda i: send(by_hash))
    bench.report("contention.apq_p50_saving", sent_full.p50 - sent_hash.p50, "ms")
    bench.report(
        "contention.apq_body_bytes_saved", len(json.dumps(full)) - len(json.dumps(by_hash)), "B"
    )
