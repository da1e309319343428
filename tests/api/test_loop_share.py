"""Heavy operations share the event loop: they give it back every slice of CPU, light
operations go first at those turns (for a bounded time), and the answers are the same."""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import time
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import pytest

from api.loop_share import RELEASED_PER_TURN, LightTraffic, LoopShare
from api.runtime import Runtime
from domain.access import Role
from persistence.database import libpq_dsn
from tests.api.segment_documents import country_is, create_ok, upsert_ok
from tests.api.test_request_budget import budgeted
from tests.conftest import Workspace, new_workspace, serving

HEAVY_COST = 20
# 1 + 30 * (1 + (10 + 5)) = 481 points: heavy on these servers; nested lists in lists.
HEAVY = "{ customers(first: 30) { edges { node { id country segments { id name } } } } }"
HEAVY_SEGMENTS = "{ segments(first: 30) { edges { node { id name } } } }"  # 31 points
LIGHT_CUSTOMERS = "{ customers(first: 5) { edges { node { id } } } }"  # 6 points
# More customers than the executor makes tasks of at once (api.executor.TASKS_PER_TURN).
WIDE = "{ customers(first: 500) { edges { node { id country segments { id name } } } } }"
WIDE_CUSTOMERS = 450


async def test_a_heavy_operation_waits_at_its_turns_while_a_light_one_runs() -> None:
    traffic = LightTraffic()
    share = LoopShare(0, traffic, max_pause_ms=10_000)
    order: list[str] = []

    async def heavy() -> None:
        for _ in range(3):
            if share.due():
                await share.turn()
        order.append("heavy")

    async def light(release: asyncio.Event) -> None:
        with traffic.counted():
            await release.wait()
            order.append("light")

    release = asyncio.Event()
    light_task = asyncio.create_task(light(release))
    await asyncio.sleep(0)  # the light one is running
    heavy_task = asyncio.create_task(heavy())
    for _ in range(20):
        await asyncio.sleep(0)
    assert order == []  # the heavy one waits at its turn...
    release.set()
    await asyncio.gather(light_task, heavy_task)
    assert order == ["light", "heavy"]  # ...until the light one is done
    assert traffic.running == 0 and traffic.quiet.is_set()


async def test_the_wait_for_light_operations_is_bounded() -> None:
    traffic = LightTraffic()
    share = LoopShare(0, traffic, max_pause_ms=1)
    with traffic.counted():  # a light operation that never ends while the heavy one runs
        for _ in range(3):
            assert share.due()
            await share.turn()  # returns after at most 1 ms each time
    assert traffic.running == 0


async def test_parked_tasks_are_let_go_a_few_at_a_time_oldest_first() -> None:
    share = LoopShare(0)  # every slice is over at once
    passed: list[int] = []

    async def task(i: int) -> None:
        await share.turn()
        passed.append(i)

    tasks = [asyncio.create_task(task(i)) for i in range(100)]
    counts = [0]
    for _ in range(1000):
        if len(passed) == len(tasks):
            break
        await asyncio.sleep(0)
        counts.append(len(passed))
    assert passed == list(range(100))
    assert max(b - a for a, b in itertools.pairwise(counts)) <= RELEASED_PER_TURN


async def test_results_handed_out_by_the_share_keep_their_outcome() -> None:
    share = LoopShare(0)
    loop = asyncio.get_running_loop()
    value, failure, dropped = (loop.create_future() for _ in range(3))
    handed = [share.deliver(f) for f in (value, failure, dropped)]
    value.set_result(7)
    failure.set_exception(ValueError("no rows"))
    dropped.cancel()
    assert await handed[0] == 7
    with pytest.raises(ValueError, match="no rows"):
        await handed[1]
    with pytest.raises(asyncio.CancelledError):
        await handed[2]


@pytest.fixture
async def sliced(runtime: Runtime) -> AsyncIterator[Runtime]:
    """A heavy operation's slice is next to nothing: it gives the loop back at every list
    item; at each turn it waits up to 10 s for light operations."""
    heavy = budgeted(
        runtime,
        heavy_query_cost=HEAVY_COST,
        heavy_slice_ms=0.000_001,
        heavy_pause_ms=10_000,
        request_timeout_ms=20_000,
    )
    yield heavy


async def test_sliced_heavy_operations_give_the_same_answers(
    runtime: Runtime, sliced: Runtime, http: httpx.AsyncClient
) -> None:
    plain = budgeted(runtime, heavy_query_cost=HEAVY_COST, heavy_slice_ms=0)
    async with serving(sliced) as sliced_url, serving(plain) as plain_url:
        ws = await new_workspace(runtime, sliced_url, http)
        people = range(WIDE_CUSTOMERS)
        await upsert_ok(
            ws, *({"id": f"c{i:03}", "country": "FR" if i % 3 else "DE"} for i in people)
        )
        await create_ok(ws, name="fr", predicate=country_is("FR"))
        await create_ok(ws, name="de", predicate=country_is("DE"))
        on_plain = dataclasses.replace(ws, base_url=plain_url)

        results = [
            (await ws.gql(document, role=Role.READ), await on_plain.gql(document, role=Role.READ))
            for document in (HEAVY, WIDE)
        ]

    for (sliced_result, plain_result), size in zip(results, (30, WIDE_CUSTOMERS), strict=True):
        assert sliced_result.body.get("errors") is None
        assert sliced_result.data == plain_result.data
        edges = sliced_result.data["customers"]["edges"]
        assert len(edges) == size
        assert all(len(e["node"]["segments"]) == 1 for e in edges)
        assert sliced_result.body["extensions"]["cost"] == plain_result.body["extensions"]["cost"]


async def _when_done(ws: Workspace, document: str, done: dict[str, float], name: str) -> Any:
    result = await ws.gql(document, role=Role.READ)
    done[name] = time.monotonic()
    return result


async def test_a_light_query_finishes_before_a_heavy_one_that_runs_beside_it(
    runtime: Runtime, sliced: Runtime, http: httpx.AsyncClient
) -> None:
    async with serving(sliced) as url:
        ws = await new_workspace(runtime, url, http)
        await upsert_ok(ws, *({"id": f"c{i}"} for i in range(5)))
        for n in range(3):
            await create_ok(ws, name=f"s{n}", predicate=country_is("FR"))
        locker = await asyncpg.connect(libpq_dsn(runtime.database))
        done: dict[str, float] = {}
        try:
            # given a light query running (held up by a lock on the customers it reads)
            transaction = locker.transaction()
            await transaction.start()
            await locker.execute("LOCK TABLE customer IN ACCESS EXCLUSIVE MODE")
            light = asyncio.create_task(_when_done(ws, LIGHT_CUSTOMERS, done, "light"))
            while not sliced.extras.get("light") or not sliced.extras["light"].running:
                await asyncio.sleep(0.01)

            # when a heavy query arrives, it starts, then waits at its first turn
            heavy = asyncio.create_task(_when_done(ws, HEAVY_SEGMENTS, done, "heavy"))
            while not sliced.extras.get("heavy") or not sliced.extras["heavy"].locked():
                await asyncio.sleep(0.01)
            await asyncio.sleep(0.2)
            assert done == {}
            await transaction.rollback()  # the light one can read now
            light_result, heavy_result = await asyncio.gather(light, heavy)
        finally:
            await locker.close()

    # then the light one finished first, and both answered in full
    assert done["light"] < done["heavy"]
    assert len(light_result.data["customers"]["edges"]) == 5
    names = [e["node"]["name"] for e in heavy_result.data["segments"]["edges"]]
    assert sorted(names) == ["s0", "s1", "s2"]
