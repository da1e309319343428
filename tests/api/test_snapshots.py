"""Snapshots: schedules and the scheduler, on-demand snapshots, measures, immutability, diff."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import text

from api.runtime import Runtime
from api.services.snapshots import run_due
from domain.access import Role
from persistence.snapshots import SnapshotRepository
from tests.api.documents import DELETE
from tests.api.segment_documents import country_is, create_ok, delete, update, upsert_ok
from tests.api.snapshot_documents import (
    DIFF,
    INSTANCE_MEMBERS,
    INSTANCES,
    SNAPSHOT_TAKE,
    START,
    FakeClock,
    clock_fixture,  # noqa: F401  (the clock fixture)
    day_id,
    instances,
    instant,
    iso,
    run_scheduler,
    schedule,
    take,
)
from tests.conftest import Workspace

PEOPLE = [
    {"id": "c1", "country": "FR", "email": "c1@example.com"},
    {"id": "c2", "country": "FR", "email": "c2@example.com"},
    {"id": "c3", "country": "DE", "email": "c3@example.com"},
]


async def given_french_segment(ws: Workspace) -> str:
    await upsert_ok(ws, *PEOPLE)
    segment = await create_ok(ws, name="French", predicate=country_is("FR"))
    return str(segment["id"])


def ids(found: list[dict[str, object]]) -> list[object]:
    return [i["id"] for i in found]


# ---- schedules ------------------------------------------------------------------


async def test_a_schedule_is_due_at_once_then_a_period_after_each_run(
    runtime: Runtime, workspace: Workspace, clock: FakeClock
) -> None:
    segment_id = await given_french_segment(workspace)

    payload = await schedule(workspace, segment_id, "ONCE_A_DAY")
    await run_scheduler(runtime)
    first = await instances(workspace, segment_id)
    clock.advance(hours=23, minutes=59)
    await run_scheduler(runtime)
    not_yet = await instances(workspace, segment_id)
    clock.advance(minutes=1)
    await run_scheduler(runtime)
    second = await instances(workspace, segment_id)

    assert payload == {
        "segment": {"id": segment_id, "schedule": "ONCE_A_DAY", "segmentBy": "CUSTOMER_ID"},
        "userErrors": [],
    }
    assert ids(first) == [day_id(segment_id, START)]
    assert first[0]["schedule"] == "ONCE_A_DAY"
    assert instant(first[0]["createdAt"]) == START
    assert not_yet == first
    assert ids(second) == [day_id(segment_id, START + timedelta(days=1)), first[0]["id"]]


async def test_once_runs_once(runtime: Runtime, workspace: Workspace, clock: FakeClock) -> None:
    segment_id = await given_french_segment(workspace)

    await schedule(workspace, segment_id, "ONCE")
    await run_scheduler(runtime)
    clock.advance(days=30)
    await run_scheduler(runtime)

    found = await instances(workspace, segment_id)
    assert ids(found) == [day_id(segment_id, START)]
    assert found[0]["schedule"] == "ONCE"


async def test_missed_periods_after_downtime_are_taken_once_and_the_period_restarts(
    runtime: Runtime, workspace: Workspace, clock: FakeClock
) -> None:
    segment_id = await given_french_segment(workspace)
    await schedule(workspace, segment_id, "ONCE_A_DAY")
    await run_scheduler(runtime)

    back = clock.advance(days=5, hours=3)  # down for five days
    await run_scheduler(runtime)
    await run_scheduler(runtime)
    after_restart = await instances(workspace, segment_id)
    clock.advance(hours=23)
    await run_scheduler(runtime)
    a_bit_later = await instances(workspace, segment_id)
    clock.advance(hours=1)
    await run_scheduler(runtime)
    a_period_later = await instances(workspace, segment_id)

    assert ids(after_restart) == [day_id(segment_id, back), day_id(segment_id, START)]
    assert a_bit_later == after_restart
    assert len(a_period_later) == 3
    assert instant(a_period_later[0]["createdAt"]) == back + timedelta(days=1)


async def test_every_other_day_and_weekly_periods(
    runtime: Runtime, workspace: Workspace, clock: FakeClock
) -> None:
    await upsert_ok(workspace, *PEOPLE)
    two_days = (await create_ok(workspace, name="2d", predicate=country_is("FR")))["id"]
    weekly = (await create_ok(workspace, name="7d", predicate=country_is("FR")))["id"]
    await schedule(workspace, two_days, "ONCE_EVERY_OTHER_DAY")
    await schedule(workspace, weekly, "ONCE_A_WEEK")

    for _ in range(8):  # day 0 .. day 7
        await run_scheduler(runtime)
        clock.advance(days=1)

    every_other = [instant(i["createdAt"]) for i in await instances(workspace, two_days)]
    every_week = [instant(i["createdAt"]) for i in await instances(workspace, weekly)]
    assert every_other == [START + timedelta(days=d) for d in (6, 4, 2, 0)]
    assert every_week == [START + timedelta(days=7), START]


async def test_a_null_schedule_stops_the_snapshots(
    runtime: Runtime, workspace: Workspace, clock: FakeClock
) -> None:
    segment_id = await given_french_segment(workspace)
    await schedule(workspace, segment_id, "ONCE_A_DAY")
    await run_scheduler(runtime)

    stopped = await schedule(workspace, segment_id, None)
    clock.advance(days=3)
    await run_scheduler(runtime)

    assert stopped["segment"]["schedule"] is None
    assert len(await instances(workspace, segment_id)) == 1


async def test_one_run_takes_every_due_snapshot_whatever_the_batch_size(
    runtime: Runtime, workspace: Workspace, clock: FakeClock
) -> None:
    await upsert_ok(workspace, *PEOPLE)
    segment_ids = [
        (await create_ok(workspace, name=f"S{n}", predicate=country_is("FR")))["id"]
        for n in range(3)
    ]
    for segment_id in segment_ids:
        await schedule(workspace, segment_id, "ONCE_A_DAY")

    await run_due(runtime, batch=1)

    assert [len(await instances(workspace, s)) for s in segment_ids] == [1, 1, 1]


async def test_a_failing_snapshot_does_not_hold_up_the_others(
    runtime: Runtime, workspace: Workspace, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given two due segments, the first of which cannot be snapshotted for now
    await upsert_ok(workspace, *PEOPLE)
    broken = (await create_ok(workspace, name="Broken", predicate=country_is("FR")))["id"]
    fine = (await create_ok(workspace, name="Fine", predicate=country_is("FR")))["id"]
    await schedule(workspace, broken, "ONCE_A_DAY")
    clock.advance(seconds=1)
    await schedule(workspace, fine, "ONCE_A_DAY")
    real_take = SnapshotRepository.take

    async def take_or_fail(self: SnapshotRepository, segment: Any, *args: Any) -> Any:
        if segment.id == broken:
            raise RuntimeError("disk full")
        return await real_take(self, segment, *args)

    # when the scheduler runs, then runs again once the fault is gone
    monkeypatch.setattr(SnapshotRepository, "take", take_or_fail)
    await run_due(runtime)
    during = (await instances(workspace, broken), await instances(workspace, fine))
    monkeypatch.undo()
    await run_scheduler(runtime)

    # then the other was taken at once, and the failed one on the next run
    assert during[0] == []
    assert len(during[1]) == 1
    assert len(await instances(workspace, broken)) == 1
    assert len(await instances(workspace, fine)) == 1


async def test_scheduling_needs_write_and_an_existing_segment(
    workspace: Workspace, other_workspace: Workspace
) -> None:
    segment_id = await given_french_segment(workspace)

    unknown = await schedule(workspace, "seg_nope", "ONCE")
    theirs = await schedule(other_workspace, segment_id, "ONCE")
    read_only = await workspace.gql(SNAPSHOT_TAKE, {"segmentId": segment_id}, role=Role.READ)

    assert [e["code"] for e in unknown["userErrors"]] == ["NOT_FOUND"]
    assert [e["code"] for e in theirs["userErrors"]] == ["NOT_FOUND"]
    assert read_only.errors and read_only.body.get("data") is None
    assert await instances(workspace, segment_id) == []


# ---- on demand, ids -----------------------------------------------------------


async def test_snapshots_taken_on_demand_get_day_ids_numbered_within_a_day(
    workspace: Workspace, clock: FakeClock
) -> None:
    segment_id = await given_french_segment(workspace)

    first = await take(workspace, segment_id)
    clock.advance(hours=1)
    second = await take(workspace, segment_id)
    clock.advance(days=1)
    next_day = await take(workspace, segment_id)
    page = (await workspace.gql(INSTANCES, {"segmentId": segment_id, "first": 2})).data
    rest = (
        await workspace.gql(
            INSTANCES,
            {"segmentId": segment_id, "after": page["segmentInstances"]["pageInfo"]["endCursor"]},
        )
    ).data

    assert [first["id"], second["id"], next_day["id"]] == [
        day_id(segment_id, START),
        day_id(segment_id, START, 2),
        day_id(segment_id, START + timedelta(days=1)),
    ]
    assert first["schedule"] is None
    assert first["segmentName"] == "French"
    assert page["segmentInstances"]["totalCount"] == 3
    assert [e["node"]["id"] for e in page["segmentInstances"]["edges"]] == [
        next_day["id"],
        second["id"],
    ]
    assert page["segmentInstances"]["pageInfo"]["hasNextPage"] is True
    assert [e["node"]["id"] for e in rest["segmentInstances"]["edges"]] == [first["id"]]
    assert rest["segmentInstances"]["pageInfo"]["hasNextPage"] is False


# ---- measures -----------------------------------------------------------------


def order(
    order_id: str, hours: float, amount: float, status: str | None = None
) -> dict[str, object]:
    placed = {"id": order_id, "amount": amount, "placedAt": iso(START + timedelta(hours=hours))}
    return placed | ({"status": status} if status else {})


async def test_measures_count_members_orders_since_the_previous_instance(
    workspace: Workspace, clock: FakeClock
) -> None:
    # given a segment created at START, and orders around it
    segment_id = await given_french_segment(workspace)
    await upsert_ok(
        workspace,
        {
            "id": "c1",
            "orders": [
                order("o1", -1, 100),  # before the segment existed
                order("o2", 1, 10, "PLACED"),
                order("o3", 2, 20, "CANCELED"),
                order("o4", 3, 5.5),  # no status: counted like ordersCount does
                order("o5", 6, 1.25, "FULFILLED"),  # exactly when the first snapshot runs
            ],
        },
        {"id": "c2", "orders": [order("o6", 4, 7, "REFUNDED"), order("o7", 5, 3, "FULFILLED")]},
        {"id": "c3", "orders": [order("o8", 1, 1000)]},  # not a member
    )

    # when a first snapshot is taken six hours later, then orders come in, then a second one
    clock.advance(hours=6)
    first = await take(workspace, segment_id)
    await upsert_ok(
        workspace,
        {"id": "c1", "orders": [order("o9", 5.5, 50), order("o10", 7, 2)]},  # o9: late record
        {"id": "c2", "orders": [order("o11", 7.5, 4, "REFUNDED"), order("o12", 8, 0.5)]},
    )
    clock.advance(hours=2)
    second = await take(workspace, segment_id)
    clock.advance(hours=1)
    third = await take(workspace, segment_id)

    # then each counts its members' orders in (previous instance, this one]
    assert (first["numOfCustomers"], first["numOfOrders"], first["totalRevenue"]) == (
        2,
        4,
        10 + 5.5 + 1.25 + 3,
    )
    assert (second["numOfCustomers"], second["numOfOrders"], second["totalRevenue"]) == (2, 2, 2.5)
    assert (third["numOfOrders"], third["totalRevenue"]) == (0, 0)


async def test_measures_follow_the_members_at_each_run(
    workspace: Workspace, clock: FakeClock
) -> None:
    segment_id = await given_french_segment(workspace)
    await upsert_ok(workspace, {"id": "c1", "orders": [order("o1", 1, 10)]})
    clock.advance(hours=2)
    first = await take(workspace, segment_id)

    await upsert_ok(
        workspace,
        {"id": "c1", "country": "DE", "orders": [order("o2", 3, 20)]},  # c1 leaves
        {"id": "c3", "country": "FR", "orders": [order("o3", 3, 30)]},  # c3 enters
    )
    clock.advance(hours=2)
    second = await take(workspace, segment_id)

    assert (first["numOfCustomers"], first["numOfOrders"], first["totalRevenue"]) == (2, 1, 10)
    assert (second["numOfCustomers"], second["numOfOrders"], second["totalRevenue"]) == (2, 1, 30)


# ---- immutability -------------------------------------------------------------


async def test_an_instance_does_not_change_when_its_customers_or_segment_do(
    workspace: Workspace, clock: FakeClock
) -> None:
    segment_id = await given_french_segment(workspace)
    before = await take(workspace, segment_id)

    await upsert_ok(workspace, {"id": "c1", "country": "DE"}, {"id": "c4", "country": "FR"})
    deleted = await workspace.gql(DELETE, {"ids": ["c2"]})
    await update(workspace, segment_id, name="Renamed", predicate=country_is("FR", "DE"))
    after = (await instances(workspace, segment_id))[0]
    members = (await workspace.gql(INSTANCE_MEMBERS, {"segmentId": segment_id})).data

    assert deleted.data["customersDelete"]["deletedCustomerIds"] == ["c2"]
    assert after == before
    listed = members["segmentInstances"]["edges"][0]["node"]["members"]
    assert [e["node"] for e in listed["edges"]] == [
        {"id": "c1", "email": "c1@example.com", "country": "DE"}  # as it is now
    ]
    assert listed["totalCount"] == 1
    assert listed["pageInfo"]["hasNextPage"] is False


async def test_instance_members_page_past_deleted_customers(
    workspace: Workspace, clock: FakeClock
) -> None:
    await upsert_ok(workspace, *[{"id": f"m{n}", "country": "FR"} for n in range(6)])
    segment_id = (await create_ok(workspace, name="French", predicate=country_is("FR")))["id"]
    await take(workspace, segment_id)
    await workspace.gql(DELETE, {"ids": ["m0", "m1", "m2"]})

    seen: list[str] = []
    after = None
    for _ in range(5):
        variables = {"segmentId": segment_id, "first": 2, "after": after}
        node = (await workspace.gql(INSTANCE_MEMBERS, variables)).data["segmentInstances"]
        page = node["edges"][0]["node"]["members"]
        seen += [e["node"]["id"] for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]

    assert seen == ["m3", "m4", "m5"]


async def test_deleting_a_segment_deletes_its_instances(
    runtime: Runtime, workspace: Workspace, clock: FakeClock
) -> None:
    segment_id = await given_french_segment(workspace)
    await take(workspace, segment_id)
    await schedule(workspace, segment_id, "ONCE_A_DAY")

    deleted = await delete(workspace, segment_id)
    clock.advance(days=1)
    await run_scheduler(runtime)

    assert deleted == {"deletedSegmentId": segment_id, "userErrors": []}
    async with runtime.engine.connect() as conn:
        left = await conn.execute(
            text("SELECT count(*) FROM segment_instance WHERE segment_id = :id"), {"id": segment_id}
        )
        assert left.scalar_one() == 0


# ---- diff ---------------------------------------------------------------------


async def test_diff_lists_who_entered_and_who_left(workspace: Workspace, clock: FakeClock) -> None:
    segment_id = await given_french_segment(workspace)
    earlier = await take(workspace, segment_id)
    await upsert_ok(workspace, {"id": "c2", "country": "DE"}, {"id": "c4", "country": "FR"})
    await upsert_ok(workspace, {"id": "c5", "country": "FR"})
    await workspace.gql(DELETE, {"ids": ["c1"]})  # deleted customers still count as having left
    clock.advance(hours=1)
    later = await take(workspace, segment_id)

    diff = (await workspace.gql(DIFF, {"segmentId": segment_id, "other": earlier["id"]})).data

    node = diff["segmentInstances"]["edges"][0]["node"]
    assert node["id"] == later["id"]
    assert node["diff"] == {
        "entered": ["c4", "c5"],
        "left": ["c1", "c2"],
        "enteredCount": 2,
        "leftCount": 2,
    }


async def test_diff_against_another_segments_instance_is_refused(
    workspace: Workspace, clock: FakeClock
) -> None:
    segment_id = await given_french_segment(workspace)
    other_id = (await create_ok(workspace, name="Other", predicate=country_is("DE")))["id"]
    await take(workspace, segment_id)
    foreign = await take(workspace, other_id)

    result = await workspace.gql(DIFF, {"segmentId": segment_id, "other": foreign["id"]})

    assert result.errors
    assert "no instance" in result.errors[0]["message"]
