"""Time-relative ACTIVE segments: members age out at the next sweep, once, in process or cron."""

from __future__ import annotations

import asyncio
import os
import sys
from datetime import UTC, datetime, timedelta

from api.runtime import Runtime
from api.services.membership import sweep
from tests.api.event_documents import active_segment, logged_events, ordered_since, summary
from tests.api.segment_documents import create_ok, member_ids, segment_ref, stats, update, upsert_ok
from tests.conftest import ROOT, Workspace
from tests.integration.membership_support import FakeClock, order_at, stored_member_ids


def buyer(customer_id: str, placed_at: datetime) -> dict[str, object]:
    return {"id": customer_id, "orders": [order_at(f"o-{customer_id}", placed_at)]}


async def test_a_member_whose_last_order_ages_out_leaves_at_the_next_sweep_exactly_once(
    workspace: Workspace, runtime: Runtime, clock: FakeClock
) -> None:
    # given: ACTIVE `lastOrderAt >= now-30d`; c1 ordered 29 days ago, c2 yesterday, c3 never
    await upsert_ok(
        workspace,
        buyer("c1", clock.now - timedelta(days=29)),
        buyer("c2", clock.now - timedelta(days=1)),
        {"id": "c3"},
    )
    segment_id = await active_segment(workspace, "Recent buyers", ordered_since("now-30d"))
    assert await stored_member_ids(runtime, segment_id) == {"c1", "c2"}
    assert await logged_events(workspace, segment_id) == []

    # when: two days pass and the sweeper runs
    clock.advance(days=2)
    assert await sweep(runtime) >= 1

    # then: c1 left, and nothing else happened
    assert summary(await logged_events(workspace, segment_id)) == [("LEFT", "c1")]
    assert await stored_member_ids(runtime, segment_id) == {"c2"}
    assert await member_ids(workspace, segment_id) == ["c2"]
    assert (await stats(workspace, segment_id))["customerCount"] == 1

    # when: sweeping again at the same instant
    await sweep(runtime)

    # then: no new event
    assert summary(await logged_events(workspace, segment_id)) == [("LEFT", "c1")]


async def test_the_sweep_command_records_what_time_changed(
    workspace: Workspace, runtime: Runtime, clock: FakeClock, database_url: str
) -> None:
    # given: a member whose order was 25 days old when the segment was activated, 10 days ago
    clock.now = datetime.now(UTC) - timedelta(days=10)
    await upsert_ok(workspace, buyer("c1", clock.now - timedelta(days=25)))
    segment_id = await active_segment(workspace, "Recent buyers", ordered_since("now-30d"))
    assert await stored_member_ids(runtime, segment_id) == {"c1"}

    # when: `segmentql sweep` runs (as cron would), on the wall clock
    env = {**os.environ, "DATABASE_URL": database_url, "SEGMENTQL_BACKGROUND_JOBS": "0"}
    env.pop("TEST_DATABASE_URL", None)
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "api.cli", "sweep",
        cwd=ROOT, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(process.communicate(), 120)

    # then: it reports the transitions it recorded, and c1 has left
    assert process.returncode == 0, err.decode()
    assert out.decode().strip().endswith("transitions recorded")
    assert int(out.decode().split()[0]) >= 1
    assert summary(await logged_events(workspace, segment_id)) == [("LEFT", "c1")]
    assert await stored_member_ids(runtime, segment_id) == set()


async def test_an_active_segment_reaching_time_through_an_edited_reference_is_swept(
    workspace: Workspace, runtime: Runtime, clock: FakeClock
) -> None:
    # given: ACTIVE "Loyal" built on PASSIVE "Buyers", which then becomes `lastOrderAt >= now-30d`
    await upsert_ok(workspace, buyer("c1", clock.now - timedelta(days=29)))
    buyers = await create_ok(
        workspace, name="Buyers", predicate={"condition": {"field": "id", "operator": "EXISTS"}}
    )
    loyal = await active_segment(workspace, "Loyal", segment_ref(buyers["id"]))
    payload = await update(workspace, buyers["id"], predicate=ordered_since("now-30d"))
    assert payload["userErrors"] == []
    assert await stored_member_ids(runtime, loyal) == {"c1"}

    # when: two days pass and the sweeper runs
    clock.advance(days=2)
    await sweep(runtime)

    # then: c1 left "Loyal" too
    assert summary(await logged_events(workspace, loyal)) == [("LEFT", "c1")]
    assert await stored_member_ids(runtime, loyal) == set()
