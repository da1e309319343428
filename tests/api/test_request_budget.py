"""A request's budgets: a few pool connections at once, and a time past which it stops."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import replace
from typing import Any

import asyncpg
import httpx
import pytest
from sqlalchemy import event

from api.request_budget import TIMEOUT
from api.runtime import Runtime
from domain.access import Role
from persistence.database import libpq_dsn
from tests.api.event_documents import active_segment, in_germany, last_event_id, move, subscribed
from tests.api.segment_documents import country_is, create_ok, upsert_ok
from tests.conftest import Workspace, new_workspace, serving

BUDGET = 2
DEADLINE_MS = 300
GATED_DEADLINE_MS = 10_000  # the gate test releases its lock itself: no budget runs out

# Six segments' members resolve side by side: one unit of work each.
FAN_OUT = """
{ segments(first: 10) { edges { node { id members(first: 2) { edges { node { id } } } } } } }
"""
CUSTOMERS = "{ customers(first: 5) { edges { node { id } } } }"


def budgeted(runtime: Runtime, **settings: Any) -> Runtime:
    return Runtime(replace(runtime.settings, **settings), runtime.database, runtime.engine)


@contextlib.contextmanager
def peak_connections(runtime: Runtime) -> Iterator[list[int]]:
    """[most pool connections checked out at once] while inside."""
    peak, now = [0], [0]

    def checkout(*_: Any) -> None:
        now[0] += 1
        peak[0] = max(peak[0], now[0])

    def checkin(*_: Any) -> None:
        now[0] -= 1

    pool = runtime.engine.sync_engine.pool
    event.listen(pool, "checkout", checkout)
    event.listen(pool, "checkin", checkin)
    try:
        yield peak
    finally:
        event.remove(pool, "checkout", checkout)
        event.remove(pool, "checkin", checkin)


@pytest.fixture
async def budgeted_server(runtime: Runtime) -> AsyncIterator[str]:
    limited = budgeted(runtime, request_connections=BUDGET, request_timeout_ms=DEADLINE_MS)
    async with serving(limited) as url:
        yield url


@pytest.fixture
async def ws(runtime: Runtime, budgeted_server: str, http: httpx.AsyncClient) -> Workspace:
    return await new_workspace(runtime, budgeted_server, http)


async def test_one_request_holds_at_most_its_budget_of_connections(
    runtime: Runtime, ws: Workspace
) -> None:
    await upsert_ok(ws, *({"id": f"c{i}", "country": "FR"} for i in range(4)))
    for n in range(6):
        await create_ok(ws, name=f"s{n}", predicate=country_is("FR"))

    with peak_connections(runtime) as peak:
        result = await ws.gql(FAN_OUT, role=Role.READ)

    edges = result.data["segments"]["edges"]
    assert len(edges) == 6
    assert all(len(e["node"]["members"]["edges"]) == 2 for e in edges)
    assert 1 <= peak[0] <= BUDGET


async def test_a_request_over_its_time_budget_gets_timeout(runtime: Runtime, ws: Workspace) -> None:
    await upsert_ok(ws, {"id": "c1"})
    locker = await asyncpg.connect(libpq_dsn(runtime.database))
    try:
        # given every read of customers waiting behind a lock for longer than the budget
        transaction = locker.transaction()
        await transaction.start()
        await locker.execute("LOCK TABLE customer IN ACCESS EXCLUSIVE MODE")

        result = await ws.gql(CUSTOMERS, role=Role.READ)

        await transaction.rollback()
    finally:
        await locker.close()

    assert result.status == 200
    assert result.body.get("data") is None
    assert [e["extensions"]["code"] for e in result.errors] == [TIMEOUT]
    assert f"{DEADLINE_MS} ms" in result.errors[0]["message"]
    # and the service goes on answering
    assert (await ws.gql(CUSTOMERS, role=Role.READ)).data["customers"]["edges"] == [
        {"node": {"id": "c1"}}
    ]


@contextlib.asynccontextmanager
async def customers_locked(runtime: Runtime) -> AsyncIterator[Callable[[], Awaitable[None]]]:
    """The customer table locked by another connection until the yielded unlock()."""
    locker = await asyncpg.connect(libpq_dsn(runtime.database))
    try:
        transaction = locker.transaction()
        await transaction.start()
        await locker.execute("LOCK TABLE customer IN ACCESS EXCLUSIVE MODE")
        yield transaction.rollback
    finally:
        await locker.close()


@pytest.fixture
async def gated(runtime: Runtime) -> AsyncIterator[tuple[Runtime, str]]:
    lane_runtime = budgeted(
        runtime, heavy_query_cost=20, heavy_queries_at_once=1, request_timeout_ms=GATED_DEADLINE_MS
    )
    async with serving(lane_runtime) as url:
        yield lane_runtime, url


def gauge(metrics_text: str, name: str) -> float:
    return next(
        float(line.split()[-1]) for line in metrics_text.splitlines() if line.startswith(name)
    )


async def test_heavy_operations_queue_behind_each_other_not_in_front_of_light_ones(
    runtime: Runtime, gated: tuple[Runtime, str], http: httpx.AsyncClient
) -> None:
    ws = await new_workspace(runtime, gated[1], http)
    heavy_customers = "{ customers(first: 30) { edges { node { id } } } }"  # 31 points
    heavy_segments = "{ segments(first: 30) { edges { node { id } } } }"  # 31 points
    light_segments = "{ segments(first: 5) { edges { node { id } } } }"  # 6 points
    async with customers_locked(runtime) as unlock:
        # given a heavy operation holding the process's one heavy slot (stuck on a lock)
        done: dict[str, float] = {}

        async def call(name: str, document: str) -> Any:
            result = await ws.gql(document, role=Role.READ)
            done[name] = time.monotonic()
            return result

        stuck = asyncio.create_task(call("stuck", heavy_customers))
        await asyncio.sleep(0.05)

        # when another heavy one and a light one arrive
        waiting_call = asyncio.create_task(call("waiting", heavy_segments))
        light = await call("light", light_segments)
        await unlock()  # the stuck one can finish now, freeing the slot
        waiting, _ = await asyncio.gather(waiting_call, stuck)

    # then the light one ran at once, and the heavy one only once the slot was free
    assert light.data == {"segments": {"edges": []}}
    assert waiting.data == {"segments": {"edges": []}}
    assert done["light"] < done["stuck"] <= done["waiting"]


async def test_with_one_heavy_slot_two_heavy_documents_never_run_at_once(
    runtime: Runtime, gated: tuple[Runtime, str], http: httpx.AsyncClient
) -> None:
    lane_runtime, url = gated
    ws = await new_workspace(runtime, url, http)
    heavy = "{ customers(first: 30) { edges { node { id } } } }"  # 31 points
    async with customers_locked(runtime) as unlock:
        # given the first of three heavy documents stuck on a lock in the one heavy slot
        calls = [asyncio.create_task(ws.gql(heavy, role=Role.READ)) for _ in range(3)]
        while "heavy" not in lane_runtime.extras or lane_runtime.extras["heavy"].waiting < 2:
            await asyncio.sleep(0.01)

        # when /metrics is read meanwhile, and the lock then goes
        metrics_text = (await http.get(f"{url}/metrics")).text
        await unlock()
        results = await asyncio.gather(*calls)

    # then the gauges showed one running and two waiting, and all three ran, one at a time
    assert gauge(metrics_text, "segmentql_heavy_operations_running") == 1
    assert gauge(metrics_text, "segmentql_heavy_operations_waiting") == 2
    assert [r.data for r in results] == [{"customers": {"edges": []}}] * 3
    lane = lane_runtime.extras["heavy"]
    assert (lane.most_running, lane.running, lane.waiting) == (1, 0, 0)


async def test_a_subscription_outlives_the_request_time_budget(
    budgeted_server: str, ws: Workspace
) -> None:
    # given: a subscriber on a server whose requests may run DEADLINE_MS
    segment_id = await active_segment(ws, "Germans", in_germany())
    start = await last_event_id(ws)
    async with subscribed(budgeted_server, ws.keys[Role.READ], after=start) as reader:
        # when: the subscription lives well past that budget, then a customer enters
        await asyncio.sleep(3 * DEADLINE_MS / 1000)
        await move(ws, "c1", "DE")

        # then: its event arrives; the subscription was not cut off with TIMEOUT
        event = await reader.next()
        assert (event["kind"], event["customerId"], event["segmentId"]) == (
            "ENTERED",
            "c1",
            segment_id,
        )
