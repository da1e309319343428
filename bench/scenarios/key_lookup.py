"""What caching the per-request API key lookup could save (issue 12).

Every HTTP request runs one query (persistence.workspaces `_AUTHENTICATION`): the
key by its hash, its workspace, and the workspace's definitions version. The
version is what lets every process serve a definitions change made through
another on its very next request (tests/api/test_definitions_cache.py), so a
per-process key cache would still read it on every request; only a cache that
also trusted its copy of the version until a NOTIFY arrived would save the round
trip, and then a change (or a revocation) would wait for the notification.

Figures, each the median of 10 rounds of `runs` x 10 calls, on one connection
(the service's own is `runtime.reader`, a pooled one):

- `key_lookup.today_us`: the lookup as each request runs it now;
- `key_lookup.version_only_us`: the definitions version alone, the least a cache
  keeping the guarantee must still read: today minus this is its saving;
- `key_lookup.through_pool_us`: the lookup as api.auth runs it (pool checkout, then
  the query): what a cache answering without the database would save;
- `key_lookup.request_ms`: one small GraphQL request (`viewer`) end to end, for scale.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Awaitable, Callable

from api.auth import authenticate
from api.services.bootstrap import create_key
from bench.harness import WORKSPACE, Bench, Latency, scenario
from domain.access import Role
from persistence.workspaces import _AUTHENTICATION, hash_key

VERSION_ONLY = (
    "SELECT coalesce((SELECT version FROM workspace_definitions WHERE workspace_pk = $1), 0)"
)
VIEWER = "query { viewer { role } }"


async def _median_us(call: Callable[[], Awaitable[object]], calls: int) -> float:
    rounds = []
    for _ in range(10):
        started = time.perf_counter()
        for _ in range(calls):
            await call()
        rounds.append((time.perf_counter() - started) * 1e6 / calls)
    return statistics.median(rounds)


@scenario("key_lookup", order=85, description="the per-request API key lookup, and a cache")
async def run(bench: Bench) -> None:
    key = await create_key(bench.runtime, WORKSPACE, Role.READ, "bench key lookup")
    args = _AUTHENTICATION.arguments({"key_hash": hash_key(key)})
    conn = bench.conn
    calls = max(bench.runs, 100) * 10

    async def today() -> object:
        return await conn.fetchrow(_AUTHENTICATION.sql, *args)

    async def version_only() -> object:
        return await conn.fetchval(VERSION_ONLY, bench.workspace_pk)

    async def through_pool() -> object:
        return await authenticate(bench.runtime, f"Bearer {key}")

    for call in (today, version_only, through_pool):  # warm the plans and the pool
        await _median_us(call, 10)
    now_us = await _median_us(today, calls)
    version_us = await _median_us(version_only, calls)
    bench.report("key_lookup.today_us", now_us, "us")
    bench.report("key_lookup.version_only_us", version_us, "us")
    bench.report("key_lookup.cache_keeping_guarantee_saves_us", now_us - version_us, "us")
    bench.report("key_lookup.through_pool_us", await _median_us(through_pool, calls), "us")
    samples = [(await bench.gql(VIEWER, key=key))[1] for _ in range(bench.runs)]
    bench.report("key_lookup.request_ms", Latency(samples).p50, "ms")
