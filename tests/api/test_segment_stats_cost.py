"""Segment.stats (cached for PASSIVE, never older than stats_max_age_s) and evaluationCost."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import text

from api.runtime import Runtime
from api.services.stats_refresher import refresh_stale_stats
from persistence.segments import WRITES_SETTLE
from tests.api.documents import DEFINE_PROPERTY, DELETE
from tests.api.segment_documents import (
    COST,
    FakeClock,
    attach,
    country_is,
    create_ok,
    member_count,
    refresh_everything_due,
    segment_ref,
    stats,
    update,
    upsert_ok,
)
from tests.api.tracked_event_documents import TRACK, event
from tests.conftest import Workspace

PEOPLE = [
    {"id": "c1", "country": "FR"},
    {"id": "c2", "country": "FR"},
    {"id": "c3", "country": "DE"},
    {"id": "c4", "country": "ES"},
]


@pytest.fixture
def clock(runtime: Runtime) -> Iterator[FakeClock]:
    original = runtime.clock
    fake = FakeClock()
    runtime.clock = fake
    yield fake
    runtime.clock = original


def instant(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


async def recount_once_writes_settled(runtime: Runtime, clock: FakeClock) -> None:
    """Let WRITES_SETTLE pass, so that no count can miss a write, and recount what is due."""
    clock.advance(WRITES_SETTLE.total_seconds() + 1)
    await refresh_everything_due(runtime)


async def cost(ws: Workspace, segment_id: str) -> dict[str, Any]:
    result: dict[str, Any] = (await ws.gql(COST, {"id": segment_id})).data["segment"][
        "evaluationCost"
    ]
    return result


async def define(ws: Workspace, key: str, type_: str, indexed: bool) -> None:
    result = await ws.gql(
        DEFINE_PROPERTY, {"input": {"key": key, "type": type_, "indexed": indexed}}
    )
    assert result.data["customPropertyDefine"]["userErrors"] == []


# ---- counts -------------------------------------------------------------------


async def test_stats_count_the_members_and_their_share(
    workspace: Workspace, clock: FakeClock
) -> None:
    await upsert_ok(workspace, *PEOPLE)
    segment = await create_ok(workspace, name="French", predicate=country_is("FR"))

    counted = await stats(workspace, segment["id"])

    assert counted["customerCount"] == 2 and counted["totalCustomers"] == 4
    assert counted["percentage"] == 50.0
    assert instant(counted["computedAt"]) == clock.now


async def test_stats_of_an_empty_workspace(workspace: Workspace, clock: FakeClock) -> None:
    segment = await create_ok(workspace, name="French", predicate=country_is("FR"))

    counted = await stats(workspace, segment["id"])

    assert (counted["customerCount"], counted["totalCustomers"], counted["percentage"]) == (
        0,
        0,
        0.0,
    )


async def test_a_stale_count_is_served_with_its_age_until_the_refresher_recounts_it(
    runtime: Runtime, workspace: Workspace, clock: FakeClock
) -> None:
    # given a counted segment
    await upsert_ok(workspace, *PEOPLE)
    segment = await create_ok(workspace, name="French", predicate=country_is("FR"))
    counted_at = clock.now
    assert (await stats(workspace, segment["id"]))["customerCount"] == 2
    max_age = runtime.settings.stats_max_age_s

    # when a new member arrives, the cached figure is served, within the bound...
    clock.advance(5)
    await upsert_ok(workspace, {"id": "c5", "country": "FR"})
    clock.advance(max_age - 10)
    cached = await stats(workspace, segment["id"])
    assert (cached["customerCount"], instant(cached["computedAt"])) == (2, counted_at)

    # ...and past it, a listing does not wait for a recount: it says how old the count is
    clock.advance(6)
    stale = await stats(workspace, segment["id"])
    assert (stale["customerCount"], instant(stale["computedAt"])) == (2, counted_at)

    # the refresher's next pass makes it fresh
    await refresh_everything_due(runtime)
    fresh = await stats(workspace, segment["id"])
    assert fresh["customerCount"] == 3 and fresh["totalCustomers"] == 5
    assert instant(fresh["computedAt"]) == clock.now


async def test_a_count_nothing_could_change_is_exact_now(
    runtime: Runtime, workspace: Workspace, clock: FakeClock
) -> None:
    # given a segment counted once its customers' writes have surely committed
    await upsert_ok(workspace, *PEOPLE)
    segment = await create_ok(workspace, name="French", predicate=country_is("FR"))
    await stats(workspace, segment["id"])
    await recount_once_writes_settled(runtime, clock)
    recounted_at = clock.now
    assert instant((await stats(workspace, segment["id"]))["computedAt"]) == recounted_at

    # when the bound passes with no customer written or deleted
    clock.advance(runtime.settings.stats_max_age_s + 1)
    later = await stats(workspace, segment["id"])

    # then the count is known exact at this instant, with no recount
    assert later["customerCount"] == 2 and instant(later["computedAt"]) == clock.now
    async with runtime.engine.connect() as conn:
        stored_at = (
            await conn.execute(
                text("SELECT stats_computed_at FROM segment WHERE id = :id"), {"id": segment["id"]}
            )
        ).scalar_one()
    assert stored_at == recounted_at

    # and a time-relative one is not, however quiet the data
    recent = {"condition": {"field": "createdAt", "operator": "GTE", "value": "now-1h"}}
    relative = await create_ok(workspace, name="Recent", predicate=recent)
    relative_at = instant((await stats(workspace, relative["id"]))["computedAt"])
    clock.advance(runtime.settings.stats_max_age_s + 1)
    assert instant((await stats(workspace, relative["id"]))["computedAt"]) == relative_at


async def test_the_refresher_recounts_segments_whose_customers_changed(
    runtime: Runtime, workspace: Workspace, clock: FakeClock
) -> None:
    await upsert_ok(workspace, *PEOPLE)
    changed = await create_ok(workspace, name="French", predicate=country_is("FR"))
    await stats(workspace, changed["id"])
    # (a count within WRITES_SETTLE of a write is made again once the write surely committed)
    await recount_once_writes_settled(runtime, clock)
    counted_at = clock.now

    # when nothing changed, a pass past half the bound leaves the count alone
    clock.advance(runtime.settings.stats_max_age_s / 2 + 1)
    await refresh_everything_due(runtime)
    assert instant((await stats(workspace, changed["id"]))["computedAt"]) == counted_at

    # when a customer changes, the next pass recounts, ahead of any read
    await upsert_ok(workspace, {"id": "c3", "country": "FR"})
    clock.advance(1)
    await refresh_everything_due(runtime)
    refreshed_at = clock.now
    clock.advance(runtime.settings.stats_max_age_s / 2)
    refreshed = await stats(workspace, changed["id"])
    assert refreshed["customerCount"] == 3
    assert instant(refreshed["computedAt"]) == refreshed_at


async def test_the_refresher_notices_deletions_and_uncounted_segments(
    runtime: Runtime, workspace: Workspace, clock: FakeClock
) -> None:
    await upsert_ok(workspace, *PEOPLE)
    counted = await create_ok(workspace, name="French", predicate=country_is("FR"))
    await stats(workspace, counted["id"])
    never_read = await create_ok(workspace, name="German", predicate=country_is("DE"))

    clock.advance(runtime.settings.stats_max_age_s / 2 + 1)
    await workspace.gql(DELETE, {"ids": ["c1"]})
    clock.advance(1)
    await refresh_everything_due(runtime)
    refreshed_at = clock.now
    clock.advance(1)

    after_delete = await stats(workspace, counted["id"])
    assert (after_delete["customerCount"], after_delete["totalCustomers"]) == (1, 3)
    assert instant(after_delete["computedAt"]) == refreshed_at
    assert instant((await stats(workspace, never_read["id"]))["computedAt"]) == refreshed_at


async def test_the_refresher_recounts_segments_on_events_directly_or_through_a_reference(
    runtime: Runtime, workspace: Workspace, clock: FakeClock
) -> None:
    # given a segment on tracked events, and one that only references it, both counted
    # once their customers' writes have surely committed
    await upsert_ok(workspace, {"id": "c1", "country": "FR"})
    buyers = await create_ok(
        workspace,
        name="Buyers",
        predicate={
            "related": {
                "scope": "EVENTS",
                "quantifier": "ANY",
                "where": {
                    "condition": {"field": "name", "operator": "EQ", "value": "checkout_started"}
                },
            }
        },
    )
    french_buyers = await create_ok(
        workspace,
        name="French buyers",
        predicate={"and": [segment_ref(buyers["id"]), country_is("FR")]},
    )
    await recount_once_writes_settled(runtime, clock)
    assert (await stats(workspace, french_buyers["id"]))["customerCount"] == 0

    # when an event is tracked (no customer row changes) and half the bound passes
    tracked = await workspace.gql(TRACK, {"events": [event("c1")]})
    assert tracked.data["eventsTrack"]["userErrors"] == []
    clock.advance(runtime.settings.stats_max_age_s / 2 + 1)
    await refresh_everything_due(runtime)

    # then both are recounted, the referencing one included
    for segment in (buyers, french_buyers):
        counted = await stats(workspace, segment["id"])
        assert counted["customerCount"] == 1 and instant(counted["computedAt"]) == clock.now


async def test_the_refresher_keeps_time_relative_segments_fresh(
    runtime: Runtime, workspace: Workspace, clock: FakeClock
) -> None:
    recent = {"condition": {"field": "createdAt", "operator": "GTE", "value": "now-1h"}}
    await upsert_ok(workspace, {"id": "c1", "createdAt": clock.now.isoformat()})
    segment = await create_ok(workspace, name="New", predicate=recent)
    assert (await stats(workspace, segment["id"]))["customerCount"] == 1

    clock.advance(2 * 3600)
    await refresh_everything_due(runtime)
    refreshed_at = clock.now

    clock.advance(1)
    aged = await stats(workspace, segment["id"])
    assert segment["timeRelative"] is True
    assert aged["customerCount"] == 0 and instant(aged["computedAt"]) == refreshed_at


async def test_one_failing_segment_does_not_stall_the_refresher(
    runtime: Runtime, workspace: Workspace, clock: FakeClock
) -> None:
    # given a counted segment whose customers changed, and a never-counted one (so due
    # first) whose stored predicate no longer evaluates (simulated by breaking it in SQL)
    await upsert_ok(workspace, *PEOPLE)
    healthy = await create_ok(workspace, name="French", predicate=country_is("FR"))
    await stats(workspace, healthy["id"])
    broken = await create_ok(workspace, name="Broken", predicate=country_is("DE"))
    async with runtime.engine.begin() as conn:
        await conn.execute(
            text(
                "UPDATE segment SET predicate = "
                """'{"condition": {"field": "properties.gone", "operator": "EQ", "value": 1}}'"""
                " WHERE id = :id"
            ),
            {"id": broken["id"]},
        )
    clock.advance(runtime.settings.stats_max_age_s / 2 + 1)
    await upsert_ok(workspace, {"id": "c3", "country": "FR"})
    clock.advance(1)

    # when the refresher runs, then every pass completes and the healthy one is recounted
    try:
        for _ in range(100):
            await refresh_stale_stats(runtime)
            async with runtime.engine.connect() as conn:
                counted_at = (
                    await conn.execute(
                        text("SELECT stats_computed_at FROM segment WHERE id = :id"),
                        {"id": healthy["id"]},
                    )
                ).scalar_one()
            if counted_at == clock.now:
                break
    finally:
        async with runtime.engine.begin() as conn:
            await conn.execute(text("DELETE FROM segment WHERE id = :id"), {"id": broken["id"]})
    assert counted_at == clock.now
    assert (await stats(workspace, healthy["id"]))["customerCount"] == 3


async def test_a_new_predicate_is_never_served_the_old_count(
    workspace: Workspace, clock: FakeClock
) -> None:
    await upsert_ok(workspace, *PEOPLE)
    segment = await create_ok(workspace, name="French", predicate=country_is("FR"))
    assert (await stats(workspace, segment["id"]))["customerCount"] == 2

    clock.advance(1)
    await update(workspace, segment["id"], predicate=country_is("FR", "DE", "ES"))

    assert (await stats(workspace, segment["id"]))["customerCount"] == 4


async def test_a_referencing_segment_is_never_served_a_count_of_the_old_reference(
    workspace: Workspace, clock: FakeClock
) -> None:
    await upsert_ok(workspace, *PEOPLE)
    inner = await create_ok(workspace, name="Inner", predicate=country_is("FR"))
    outer = await create_ok(workspace, name="Outer", predicate={"segment": inner["id"]})
    assert (await stats(workspace, outer["id"]))["customerCount"] == 2

    clock.advance(1)
    await update(workspace, inner["id"], predicate=country_is("DE"))

    assert (await stats(workspace, outer["id"]))["customerCount"] == 1


async def test_static_and_active_counts_are_exact_at_once(
    workspace: Workspace, clock: FakeClock
) -> None:
    await upsert_ok(workspace, *PEOPLE)
    static = await create_ok(workspace, name="Picked", customerIds=["c1", "c3"])
    active = await create_ok(workspace, name="French", predicate=country_is("FR"))
    await attach(workspace, active["id"], "DISTRIBUTION", "d-1")
    assert (await stats(workspace, static["id"]))["customerCount"] == 2
    assert (await stats(workspace, active["id"]))["customerCount"] == 2

    clock.advance(1)
    await workspace.gql(DELETE, {"ids": ["c1"]})
    await upsert_ok(workspace, {"id": "c4", "country": "FR"}, {"id": "c5", "country": "FR"})

    static_now = await stats(workspace, static["id"])
    active_now = await stats(workspace, active["id"])
    assert (static_now["customerCount"], static_now["totalCustomers"]) == (1, 4)
    assert instant(static_now["computedAt"]) == clock.now
    assert active_now["customerCount"] == 3 == await member_count(workspace, active["id"])
    assert active_now["percentage"] == 75.0


# ---- evaluation cost -----------------------------------------------------------


async def test_evaluation_cost_reports_the_plan_and_the_last_run(
    runtime: Runtime, workspace: Workspace
) -> None:
    await upsert_ok(workspace, *PEOPLE)
    segment = await create_ok(workspace, name="French", predicate=country_is("FR"))

    before = await cost(workspace, segment["id"])
    await stats(workspace, segment["id"])
    after = await cost(workspace, segment["id"])

    assert before["plannerCost"] > 0 and before["estimatedRows"] >= 0
    assert before["lastDurationMs"] is None and before["slow"] is False
    assert isinstance(before["usesIndex"], bool)
    assert after["lastDurationMs"] is not None and after["lastDurationMs"] >= 0
    assert after["slow"] is (after["lastDurationMs"] > runtime.settings.slow_evaluation_ms)


async def test_a_range_on_an_unindexed_property_gets_a_hint_naming_it(
    workspace: Workspace,
) -> None:
    await define(workspace, "score", "NUMBER", indexed=False)
    await define(workspace, "rank", "NUMBER", indexed=True)
    await upsert_ok(workspace, {"id": "c1", "properties": {"score": 5, "rank": 2}})
    unindexed = await create_ok(
        workspace,
        name="Scored",
        predicate={"condition": {"field": "properties.score", "operator": "GT", "value": 3}},
    )
    indexed = await create_ok(
        workspace,
        name="Ranked",
        predicate={"condition": {"field": "properties.rank", "operator": "GT", "value": 1}},
    )
    equal = await create_ok(
        workspace,
        name="Exact",
        predicate={"condition": {"field": "properties.score", "operator": "EQ", "value": 5}},
    )

    hints = (await cost(workspace, unindexed["id"]))["hints"]
    assert any("properties.score" in hint and "indexed" in hint for hint in hints)
    assert not any("properties.rank" in h for h in (await cost(workspace, indexed["id"]))["hints"])
    assert not any("properties.score" in h for h in (await cost(workspace, equal["id"]))["hints"])


async def test_hints_see_through_segment_references(workspace: Workspace) -> None:
    await define(workspace, "score", "NUMBER", indexed=False)
    scored = await create_ok(
        workspace,
        name="Scored",
        predicate={"condition": {"field": "properties.score", "operator": "GT", "value": 3}},
    )
    via = await create_ok(workspace, name="Via", predicate={"segment": scored["id"]})
    outer = await create_ok(
        workspace, name="Outer", predicate={"and": [{"segment": via["id"]}, country_is("FR")]}
    )

    hints = (await cost(workspace, outer["id"]))["hints"]

    assert any("properties.score" in hint for hint in hints)


async def test_a_static_segment_costs_a_lookup_and_needs_no_hint(workspace: Workspace) -> None:
    await upsert_ok(workspace, *PEOPLE)
    static = await create_ok(workspace, name="Picked", customerIds=["c1"])

    result = await cost(workspace, static["id"])

    assert result["hints"] == [] and result["plannerCost"] > 0


LISTED_COSTS = """
{ segments(first: 20) { edges { node {
    id evaluationCost { plannerCost estimatedRows usesIndex hints }
} } } }
"""


async def test_a_listing_of_costs_gives_each_segment_the_plan_it_gets_alone(
    workspace: Workspace,
) -> None:
    # given segments planned differently: an indexed column, an unindexed property, a list
    await define(workspace, "score", "NUMBER", indexed=False)
    await upsert_ok(workspace, *PEOPLE, {"id": "s1", "properties": {"score": 5}})
    made = [
        await create_ok(workspace, name="French", predicate=country_is("FR")),
        await create_ok(
            workspace,
            name="Scored",
            predicate={"condition": {"field": "properties.score", "operator": "GT", "value": 3}},
        ),
        await create_ok(workspace, name="West", predicate=country_is("FR", "ES")),
    ]

    # when their costs are read in one listing (one EXPLAIN for all)
    listed = (await workspace.gql(LISTED_COSTS)).data["segments"]["edges"]

    # then each is the segment's own, as read alone
    together = {e["node"]["id"]: e["node"]["evaluationCost"] for e in listed}
    for segment in made:
        alone = await cost(workspace, segment["id"])
        wanted = {k: alone[k] for k in ("plannerCost", "estimatedRows", "usesIndex", "hints")}
        assert together[segment["id"]] == wanted
    assert any("properties.score" in h for h in together[made[1]["id"]]["hints"])
