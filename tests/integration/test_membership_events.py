"""The event log around deletions and retention: LEFT on delete, pruning, ids that never go back."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from gql.transport.exceptions import TransportQueryError
from sqlalchemy import text

from api.background import prune_events
from api.runtime import Runtime
from api.services import membership
from domain.access import Role
from persistence.membership import MembershipLog
from tests.api.event_documents import (
    DELETE_CUSTOMERS,
    EVENTS,
    active_segment,
    in_germany,
    logged_events,
    move,
    ordered_since,
    subscribed,
    summary,
)
from tests.api.segment_documents import create_ok, stats, upsert_ok
from tests.conftest import Workspace
from tests.integration.membership_support import (
    FakeClock,
    order_at,
    service_context,
    stored_member_ids,
)

EVENT_CUSTOMER = """
query Events($segmentId: ID) {
  segmentEvents(segmentId: $segmentId) { edges { node { id kind customerId customer { id } } } }
}
"""


async def test_deleting_a_customer_emits_left_for_each_active_segment_it_was_in(
    workspace: Workspace, runtime: Runtime, clock: FakeClock
) -> None:
    # given: d1 in two ACTIVE segments but not a third; d2 in one of them
    recent_order = order_at("o-d1", clock.now - timedelta(days=2))
    await upsert_ok(
        workspace,
        {"id": "d1", "country": "DE", "orders": [recent_order]},
        {"id": "d2", "country": "DE"},
    )
    germans = await active_segment(workspace, "Germans", in_germany())
    recent = await active_segment(workspace, "Recent", ordered_since("now-30d"))
    french = await active_segment(
        workspace, "French", {"condition": {"field": "country", "operator": "EQ", "value": "FR"}}
    )

    # when: d1 is deleted
    result = await workspace.gql(DELETE_CUSTOMERS, {"ids": ["d1"]})

    # then: one LEFT per segment it was in, stored rows and counts follow
    assert result.data["customersDelete"]["userErrors"] == []
    events = await logged_events(workspace)
    assert sorted((e["segmentId"], e["kind"], e["customerId"]) for e in events) == sorted(
        [(germans, "LEFT", "d1"), (recent, "LEFT", "d1")]
    )
    assert await stored_member_ids(runtime, germans) == {"d2"}
    assert await stored_member_ids(runtime, recent) == set()
    assert [(await stats(workspace, s))["customerCount"] for s in (germans, recent, french)] == [
        1,
        0,
        0,
    ]
    nodes = (await workspace.gql(EVENT_CUSTOMER, {"segmentId": germans})).data["segmentEvents"]
    assert [edge["node"]["customer"] for edge in nodes["edges"]] == [None]


async def test_retention_prunes_old_events_and_ids_keep_increasing(
    workspace: Workspace, runtime: Runtime, clock: FakeClock
) -> None:
    # given: two events now, and one 20 days later
    segment_id = await active_segment(workspace, "Germans", in_germany())
    await move(workspace, "c1", "DE")
    await move(workspace, "c1", "FR")
    clock.advance(days=20)
    await move(workspace, "c2", "DE")
    before = await logged_events(workspace)
    assert summary(before) == [("ENTERED", "c1"), ("LEFT", "c1"), ("ENTERED", "c2")]

    # when: 15 more days pass (the first two are now past the 30-day retention) and pruning runs
    clock.advance(days=15)
    assert runtime.settings.event_retention_days == 30
    assert await prune_events(runtime) >= 2

    # then: only the recent event is left
    assert await logged_events(workspace) == before[2:]
    page = (await workspace.gql(EVENTS, {"segmentId": segment_id})).data["segmentEvents"]
    assert page["totalCount"] == 1

    # and: resuming from before the pruned events is refused, from just after them works
    key = workspace.keys[Role.READ]
    async with subscribed(workspace.base_url, key, after=before[0]["id"]) as too_late:
        with pytest.raises(TransportQueryError) as caught:
            await too_late.next()
    assert caught.value.errors is not None
    assert caught.value.errors[0]["extensions"]["code"] == "EVENTS_PRUNED"
    assert caught.value.errors[0]["extensions"]["oldestEventId"] == before[2]["id"]
    async with subscribed(workspace.base_url, key, after=before[1]["id"]) as in_time:
        assert await in_time.next() == before[2]

    # when: everything ages out, then a new change happens
    clock.advance(days=365)
    await prune_events(runtime)
    assert await logged_events(workspace) == []
    await move(workspace, "c2", "FR")

    # then: its id continues after the pruned ones, never reusing them
    [latest] = await logged_events(workspace)
    assert summary([latest]) == [("LEFT", "c2")]
    assert int(latest["id"]) == int(before[-1]["id"]) + 1


async def test_a_write_leaves_its_transaction_planning_as_before(
    workspace: Workspace, runtime: Runtime
) -> None:
    # given a customer and an ACTIVE segment it may enter
    await upsert_ok(workspace, {"id": "p1", "country": "FR"})
    await active_segment(workspace, "Germans", in_germany())
    ctx = await service_context(runtime, workspace)

    # when the customer is re-evaluated inside a transaction (the comparison runs with
    # generic plans), both when it moves and when nothing changes
    async with ctx.uow() as uow:
        before = await uow.conn.scalar(text("SELECT current_setting('plan_cache_mode')"))
        await membership.begin_write(uow)
        pk = await uow.conn.scalar(
            text("UPDATE customer SET country = 'DE' WHERE id = 'p1' RETURNING pk")
        )
        moved = await membership.after_customer_write(uow, [pk], runtime.clock)
        after_move = await uow.conn.scalar(text("SELECT current_setting('plan_cache_mode')"))
        unchanged = await membership.after_customer_write(uow, [pk], runtime.clock)
        after_none = await uow.conn.scalar(text("SELECT current_setting('plan_cache_mode')"))

    # then the transaction plans the rest of its statements as it did before
    assert [t.kind for t in moved] == ["ENTERED"] and unchanged == []
    assert after_move == after_none == before


async def test_writes_of_one_shape_reuse_one_compiled_comparison_and_record_the_same(
    workspace: Workspace, runtime: Runtime
) -> None:
    # given two ACTIVE segments with no relative time in them, and two customers
    await upsert_ok(workspace, {"id": "w1", "country": "FR"}, {"id": "w2", "country": "FR"})
    germans = await active_segment(workspace, "Germans", in_germany())
    french = await active_segment(
        workspace, "French", {"condition": {"field": "country", "operator": "EQ", "value": "FR"}}
    )

    # when they move back and forth, one at a time and together (two shapes of write)
    for country in ("DE", "FR", "DE"):
        await upsert_ok(workspace, {"id": "w1", "country": country})
    await upsert_ok(workspace, {"id": "w1", "country": "FR"}, {"id": "w2", "country": "DE"})
    await upsert_ok(workspace, {"id": "w1", "country": "DE"}, {"id": "w2", "country": "FR"})

    # then every transition is recorded, in order, as the live evaluation says
    assert summary(await logged_events(workspace, germans)) == [
        ("ENTERED", "w1"),
        ("LEFT", "w1"),
        ("ENTERED", "w1"),
        ("ENTERED", "w2"),  # one write: ENTERED before LEFT
        ("LEFT", "w1"),
        ("ENTERED", "w1"),
        ("LEFT", "w2"),
    ]
    assert await stored_member_ids(runtime, germans) == {"w1"}
    assert await stored_member_ids(runtime, french) == {"w2"}
    # and the comparisons were compiled once a shape, for this definitions version
    ctx = await service_context(runtime, workspace)
    async with ctx.uow() as uow:
        tracked = await membership.tracked_segments(uow)
    assert tracked is not None and 0 < len(tracked.plans.entries) <= 2


async def test_a_writer_waiting_at_the_gate_sees_the_activation_it_waited_for(
    workspace: Workspace, runtime: Runtime
) -> None:
    # given a segment being made ACTIVE by a transaction that holds the gate exclusively
    segment = await create_ok(workspace, name="Germans", predicate=in_germany())
    ctx = await service_context(runtime, workspace)
    async with ctx.uow() as activation, ctx.uow() as writer:
        await MembershipLog(activation.conn, activation.workspace_pk).enter_exclusively()
        await activation.conn.execute(
            text("UPDATE segment SET kind = 'ACTIVE' WHERE id = :id"), {"id": segment["id"]}
        )
        # when a writer enters the gate meanwhile, and the activation then commits
        entering = asyncio.create_task(membership.begin_write(writer))
        await asyncio.sleep(0.3)
        waited = not entering.done()
        await activation.commit()
        await asyncio.wait_for(entering, timeout=10)

    # then the writer waited, and what it read with the gate sees the committed activation
    # (a statement's snapshot taken before the lock was granted would see none ACTIVE)
    assert waited
    assert writer.active_version_at_gate is not None
