"""Concurrent writers, the sweeper and activation on one workspace: nothing drifts or is lost.

Writers go through HTTP and through the service layer (each its own unit of
work), moving the same few customers back and forth across predicate
boundaries while the clock ticks and the time sweeper runs in a loop.
Afterwards stored membership must equal live evaluation, cached counts must
be exact, and the log must tell each customer's story without a gap or a
repeat.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import random
from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

import pytest

from api.background import Periodic, _loop
from api.runtime import Runtime
from api.services.customers import delete_customers, upsert_customers
from api.services.membership import sweep
from persistence.reevaluations import SWEEPS
from tests.api.event_documents import (
    active_segment,
    in_germany,
    logged_events,
    ordered_since,
)
from tests.api.segment_documents import (
    UPSERT,
    attach,
    create_ok,
    member_ids,
    segment_ref,
    stats,
    upsert_ok,
)
from tests.conftest import Workspace
from tests.integration.membership_support import (
    FakeClock,
    alternation_errors,
    histories,
    order_at,
    replay,
    service_context,
    stored_member_ids,
)

TASKS = 8
ROUNDS = 24
PEOPLE = ["k0", "k1", "k2", "k3"]
THIRTY_DAYS = timedelta(days=30)


def lapsed() -> dict[str, Any]:
    return {"condition": {"field": "lastOrderAt", "operator": "LT", "value": "now-30d"}}


def person(customer_id: str, country: str, ordered: datetime, wire: bool = True) -> dict[str, Any]:
    order = order_at(f"o-{customer_id}", ordered, wire)
    return {"id": customer_id, "country": country, "orders": [order]}


async def assert_consistent(
    ws: Workspace, runtime: Runtime, baselines: dict[str, set[str]]
) -> list[dict[str, Any]]:
    """Stored == live == cached count for each segment; the log replays onto the stored rows."""
    events = await logged_events(ws)
    ids = [int(e["id"]) for e in events]
    assert ids and ids == list(range(ids[0], ids[0] + len(ids))), "ids must be consecutive"
    story = histories(events)
    for segment_id, baseline in baselines.items():
        live = set(await member_ids(ws, segment_id))
        stored = await stored_member_ids(runtime, segment_id)
        assert stored == live, (segment_id, stored ^ live)
        assert (await stats(ws, segment_id))["customerCount"] == len(live)
        mine = {cid: kinds for (sid, cid), kinds in story.items() if sid == segment_id}
        assert alternation_errors(mine, baseline) == {}, segment_id
        assert replay(baseline, mine) == stored, segment_id
    return events


@pytest.mark.parametrize("scheduled", [False, True], ids=["sweep-loop", "scheduled-100ms"])
async def test_concurrent_writes_and_sweeps_keep_membership_counts_and_log_exact(
    workspace: Workspace, runtime: Runtime, clock: FakeClock, scheduled: bool
) -> None:
    # given: customers on both sides of two boundaries (k4, never written, ages out on its
    # own), and four ACTIVE segments
    now = clock.now
    await upsert_ok(
        workspace,
        person("k0", "DE", now - timedelta(days=1)),
        person("k1", "DE", now - timedelta(days=60)),
        person("k2", "FR", now - timedelta(days=1)),
        person("k3", "FR", now - timedelta(days=60)),
        person("k4", "FR", now - THIRTY_DAYS + timedelta(hours=3)),
    )
    germans = await active_segment(workspace, "Germans", in_germany())
    recent = await active_segment(workspace, "Recent", ordered_since("now-30d"))
    gone = await active_segment(workspace, "Lapsed", lapsed())
    both = await active_segment(
        workspace, "Recent Germans", {"and": [segment_ref(germans), segment_ref(recent)]}
    )
    baselines = {
        germans: {"k0", "k1"},
        recent: {"k0", "k2", "k4"},
        gone: {"k1", "k3"},
        both: {"k0"},
    }
    for segment_id, baseline in baselines.items():
        assert await stored_member_ids(runtime, segment_id) == baseline
    ctx = await service_context(runtime, workspace)
    clock.tick = timedelta(minutes=5)  # every reading of the clock moves time on

    async def writer(task: int) -> None:
        rng = random.Random(task)
        for _ in range(ROUNDS):
            chosen = rng.sample(PEOPLE, 2 if rng.random() < 0.25 else 1)
            if rng.random() < 0.05:
                await delete_customers(ctx, chosen)
                continue
            placed = clock.now - THIRTY_DAYS + timedelta(hours=rng.uniform(-3, 3))
            wire = task % 2 == 0
            batch = [person(cid, rng.choice(["DE", "FR"]), placed, wire) for cid in chosen]
            if not wire:
                await upsert_customers(ctx, batch)
            else:
                result = await workspace.gql(UPSERT, {"customers": batch})
                assert result.data["customersUpsert"]["userErrors"] == []

    writing = True

    async def sweeper() -> int:
        swept = 0
        while writing:
            swept += await sweep(runtime)
            await asyncio.sleep(0.02)  # pacing only: let writers in between sweeps
        return swept

    async def scheduled_sweeper() -> int:
        """The server's job (api.background) every 100 ms; sweeps counted, not transitions."""
        before = SWEEPS.sweeps
        job = asyncio.create_task(_loop(runtime, Periodic("time sweeper", 0.1, sweep)))
        while writing:
            await asyncio.sleep(0.02)
        job.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await job
        return SWEEPS.sweeps - before

    # when: eight writers race each other and the sweeper
    sweeping = asyncio.create_task(scheduled_sweeper() if scheduled else sweeper())
    try:
        await asyncio.gather(*(writer(task) for task in range(TASKS)))
    finally:
        writing = False
        swept = await sweeping
    clock.tick = timedelta(0)
    await sweep(runtime)  # catch up with the clock the writers left behind

    # then: stored == live, counts exact, and each (segment, customer) story alternates
    events = await assert_consistent(workspace, runtime, baselines)
    assert {e["segmentId"] for e in events} == set(baselines)
    assert swept >= 2, "the sweeper never raced the writers"
    aged = {(e["segmentId"], e["kind"]) for e in events if e["customerId"] == "k4"}
    assert aged == {(recent, "LEFT"), (gone, "ENTERED")}


async def test_activation_racing_writes_loses_no_transition(
    workspace: Workspace, runtime: Runtime
) -> None:
    # given: 48 customers outside a PASSIVE `country IN [DE]` segment
    people = [f"m{i:02}" for i in range(48)]
    await upsert_ok(workspace, *({"id": cid, "country": "FR"} for cid in people))
    segment = await create_ok(workspace, name="Germans", predicate=in_germany())
    ctx = await service_context(runtime, workspace)
    halfway = asyncio.Event()
    moved: list[str] = []

    async def writer(task: int) -> None:
        for cid in people[task::TASKS]:
            if task % 2:
                await upsert_customers(ctx, [{"id": cid, "country": "DE"}])
            else:
                await upsert_ok(workspace, {"id": cid, "country": "DE"})
            moved.append(cid)
            if len(moved) >= len(people) // 4:
                halfway.set()

    async def activate() -> None:
        await halfway.wait()
        payload = await attach(workspace, segment["id"], "DISTRIBUTION", "newsletter")
        assert payload["userErrors"] == [] and payload["segment"]["kind"] == "ACTIVE"

    # when: every customer moves into Germany, one write each, while the segment activates
    await asyncio.gather(activate(), *(writer(task) for task in range(TASKS)))

    # then: everyone is stored, counted, and each one not in the baseline entered exactly once
    assert await stored_member_ids(runtime, segment["id"]) == set(people)
    assert (await stats(workspace, segment["id"]))["customerCount"] == len(people)
    story: dict[str, list[str]] = defaultdict(list)
    for event in await logged_events(workspace, segment["id"]):
        story[event["customerId"]].append(event["kind"])
    assert all(kinds == ["ENTERED"] for kinds in story.values()), story
    baseline = set(people) - set(story)
    assert replay(baseline, story) == set(people)
    assert 0 < len(story) < len(people), "the activation did not race the writes"


async def test_activation_racing_toggling_writes_ends_consistent(
    workspace: Workspace, runtime: Runtime
) -> None:
    # given: customers half in Germany, and a PASSIVE `country IN [DE]` segment
    people = [f"t{i:02}" for i in range(16)]
    countries = ["FR", "DE"] * (len(people) // 2)
    await upsert_ok(
        workspace, *({"id": cid, "country": c} for cid, c in zip(people, countries, strict=True))
    )
    segment = await create_ok(workspace, name="Germans", predicate=in_germany())
    ctx = await service_context(runtime, workspace)
    started = asyncio.Event()

    async def writer(task: int) -> None:
        rng = random.Random(task)
        for round_ in range(8):
            cid = rng.choice(people)
            country = rng.choice(["DE", "FR"])
            if task % 2:
                await upsert_customers(ctx, [{"id": cid, "country": country}])
            else:
                await upsert_ok(workspace, {"id": cid, "country": country})
            if round_ == 2:
                started.set()

    async def activate() -> None:
        await started.wait()
        payload = await attach(workspace, segment["id"], "DISTRIBUTION", "newsletter")
        assert payload["userErrors"] == [] and payload["segment"]["kind"] == "ACTIVE"

    # when: customers move back and forth while the segment activates
    await asyncio.gather(activate(), *(writer(task) for task in range(TASKS)))

    # then: stored == live == count, and each customer's events alternate
    live = set(await member_ids(workspace, segment["id"]))
    assert await stored_member_ids(runtime, segment["id"]) == live
    assert (await stats(workspace, segment["id"]))["customerCount"] == len(live)
    story: dict[str, list[str]] = defaultdict(list)
    for event in await logged_events(workspace, segment["id"]):
        story[event["customerId"]].append(event["kind"])
    for cid, kinds in story.items():
        assert all(a != b for a, b in itertools.pairwise(kinds)), (cid, kinds)
        assert (kinds[-1] == "ENTERED") == (cid in live), (cid, kinds)
