"""Time boundaries: the instant each customer's membership can next change, stored and swept.

Each case puts customers in, activates a segment, and reads segment_boundary
after the first sweep (which computes a segment's rows) or after a write (which
keeps them): the instant is the one worked out by hand in the comment.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from api.background import _loop, default_jobs
from api.runtime import Runtime
from api.services.customer_import import file_lines, import_customers
from api.services.membership import sweep
from domain.import_job import FileFormat, ImportOptions
from persistence.reevaluations import SWEEPS
from tests.api.event_documents import active_segment, logged_events, ordered_since, summary
from tests.api.segment_documents import create_ok, segment_ref, upsert_ok
from tests.conftest import Workspace
from tests.integration.dataset import workspace_pk
from tests.integration.membership_support import FakeClock, order_at, stored_member_ids

TICK = timedelta(microseconds=1)
NAMES = itertools.count()
DAY = timedelta(days=1)


def orders(customer_id: str, *placed: datetime, **fields: Any) -> dict[str, Any]:
    made = [order_at(f"{customer_id}-o{i}", when) for i, when in enumerate(placed)]
    return {"id": customer_id, "orders": made, **fields}


def cond(field: str, operator: str, value: Any) -> dict[str, Any]:
    key = "values" if isinstance(value, list) else "value"
    return {"condition": {"field": field, "operator": operator, key: value}}


def related_orders(where: dict[str, Any], quantifier: str = "ANY", **more: Any) -> dict[str, Any]:
    return {"related": {"scope": "ORDERS", "quantifier": quantifier, "where": where, **more}}


async def next_instants(runtime: Runtime, segment_id: str) -> dict[str, datetime]:
    async with runtime.engine.connect() as conn:
        rows = await conn.execute(
            text(
                "SELECT c.id, b.next_at FROM segment_boundary b"
                " JOIN segment s ON s.pk = b.segment_pk"
                " JOIN customer c ON c.pk = b.customer_pk WHERE s.id = :s"
            ),
            {"s": segment_id},
        )
        return {r.id: r.next_at for r in rows}


async def primed(workspace: Workspace, runtime: Runtime, predicate: dict[str, Any]) -> str:
    """An ACTIVE segment of `predicate`, swept once so that its rows are computed."""
    segment_id = await active_segment(workspace, f"Timed {next(NAMES)}", predicate)
    await sweep(runtime)
    return segment_id


async def test_gte_lte_and_between_on_relative_times(
    workspace: Workspace, runtime: Runtime, clock: FakeClock
) -> None:
    now = clock.now
    # given: a (ordered 10 days ago), b (40 days ago), c (3 days ago), d (never)
    await upsert_ok(
        workspace,
        orders("a", now - 10 * DAY),
        orders("b", now - 40 * DAY),
        orders("c", now - 3 * DAY),
        {"id": "d"},
    )
    # when: `lastOrderAt GTE now-30d`: true until lastOrderAt + 30d, false a tick later
    gte = await primed(workspace, runtime, ordered_since("now-30d"))
    # then: a leaves at +20d+1µs, c at +27d+1µs; b already out for good, d never in
    assert await next_instants(runtime, gte) == {
        "a": now + 20 * DAY + TICK,
        "c": now + 27 * DAY + TICK,
    }

    # when: `lastOrderAt LTE now-7d`: becomes true at lastOrderAt + 7d
    lte = await primed(workspace, runtime, cond("lastOrderAt", "LTE", "now-7d"))
    # then: only c is still to cross (a and b already did)
    assert await next_instants(runtime, lte) == {"c": now + 4 * DAY}

    # when: BETWEEN [now-30d, now-7d]: enters at +7d, leaves a tick after +30d
    between = await primed(
        workspace, runtime, cond("lastOrderAt", "BETWEEN", ["now-30d", "now-7d"])
    )
    assert await next_instants(runtime, between) == {
        "a": now + 20 * DAY + TICK,
        "c": now + 4 * DAY,
    }


async def test_count_and_any_over_windows_and_future_dated_records(
    workspace: Workspace, runtime: Runtime, clock: FakeClock
) -> None:
    now = clock.now
    # given: e has orders 5 and 20 days old; f one order 2 days ahead (dated in the future)
    await upsert_ok(
        workspace, orders("e", now - 5 * DAY, now - 20 * DAY), orders("f", now + 2 * DAY)
    )
    window = cond("placedAt", "BETWEEN", ["now-30d", "now"])

    # when: COUNT of orders in the last 30 days GTE 2
    counted = await primed(
        workspace,
        runtime,
        related_orders(window, "COUNT", count={"operator": "GTE", "value": 2}),
    )
    # then: e's oldest counted order leaves at +10d+1µs; f's order enters the window at +2d
    assert await next_instants(runtime, counted) == {"e": now + 10 * DAY + TICK, "f": now + 2 * DAY}

    # when: ANY order in the last 7 days (e's 5-day-old order leaves at +2d+1µs)
    recent = await primed(workspace, runtime, related_orders(cond("placedAt", "GTE", "now-7d")))
    # then: f's order stays in `GTE now-7d` for 9 days; e's leaves it in 2
    assert await next_instants(runtime, recent) == {
        "e": now + 2 * DAY + TICK,
        "f": now + 9 * DAY + TICK,
    }


async def test_last_n_with_a_window_reads_only_the_last_n_records(
    workspace: Workspace, runtime: Runtime, clock: FakeClock
) -> None:
    now = clock.now
    # given: g's orders 25, 10 and 5 days old; its last 2 are the 10- and 5-day-old ones
    await upsert_ok(workspace, orders("g", now - 25 * DAY, now - 10 * DAY, now - 5 * DAY))
    # when: "the last 2 orders were all in the last 30 days"
    segment_id = await primed(
        workspace,
        runtime,
        related_orders(cond("placedAt", "GTE", "now-30d"), "ALL", last=2),
    )
    # then: the 10-day-old order decides (+20d+1µs), not the 25-day-old one outside the last 2
    assert await next_instants(runtime, segment_id) == {"g": now + 20 * DAY + TICK}


async def test_negations_and_guards(
    workspace: Workspace, runtime: Runtime, clock: FakeClock
) -> None:
    now = clock.now
    await upsert_ok(
        workspace,
        orders("fr", now - 10 * DAY, country="FR"),
        orders("de", now - 10 * DAY, country="DE"),
    )
    # when: not(lastOrderAt GTE now-30d): flips when its operand does
    negated = await primed(workspace, runtime, {"not": ordered_since("now-30d")})
    assert await next_instants(runtime, negated) == {
        "fr": now + 20 * DAY + TICK,
        "de": now + 20 * DAY + TICK,
    }
    # when: country EQ FR AND lastOrderAt GTE now-30d: a German customer never changes by time
    french = await primed(
        workspace, runtime, {"and": [cond("country", "EQ", "FR"), ordered_since("now-30d")]}
    )
    assert await next_instants(runtime, french) == {"fr": now + 20 * DAY + TICK}
    # when: an OR whose clock-free operand holds cannot change by time either
    either = await primed(
        workspace, runtime, {"or": [cond("country", "EQ", "FR"), ordered_since("now-30d")]}
    )
    assert await next_instants(runtime, either) == {"de": now + 20 * DAY + TICK}


async def test_a_write_keeps_the_instant_and_the_sweep_moves_it_on(
    workspace: Workspace, runtime: Runtime, clock: FakeClock
) -> None:
    now = clock.now
    await upsert_ok(workspace, orders("a", now - 10 * DAY))
    segment_id = await primed(workspace, runtime, ordered_since("now-30d"))
    # when: a new customer is written, and a's last order moves
    await upsert_ok(workspace, orders("n", now - 1 * DAY), orders("a", now - 29 * DAY))
    # then: the write stored both instants
    assert await next_instants(runtime, segment_id) == {
        "a": now + 1 * DAY + TICK,
        "n": now + 29 * DAY + TICK,
    }
    # when: 2 days pass: a is due, n is not
    clock.advance(days=2)
    await sweep(runtime)
    # then: only a was re-evaluated; it left, and has no instant any more
    pk = await workspace_pk(runtime, workspace)
    assert SWEEPS.last[pk] == (1, 0, 0)  # (customers due, segments primed, rescanned)
    assert summary(await logged_events(workspace, segment_id)) == [("ENTERED", "n"), ("LEFT", "a")]
    assert await next_instants(runtime, segment_id) == {"n": now + 29 * DAY + TICK}
    # when: sweeping again at the same instant, nothing is due
    await sweep(runtime)
    assert SWEEPS.last[pk] == (0, 0, 0)


async def test_references_are_read_through(
    workspace: Workspace, runtime: Runtime, clock: FakeClock
) -> None:
    now = clock.now
    await upsert_ok(workspace, orders("a", now - 10 * DAY))
    buyers = await create_ok(workspace, name="Recent", predicate=ordered_since("now-30d"))
    segment_id = await primed(workspace, runtime, segment_ref(buyers["id"]))
    assert await next_instants(runtime, segment_id) == {"a": now + 20 * DAY + TICK}


async def test_a_fallback_shape_is_rescanned_and_converges(
    workspace: Workspace, runtime: Runtime, clock: FakeClock
) -> None:
    # given: a DATETIME custom property compared with a relative time (no instant computed)
    result = await workspace.gql(
        "mutation D($input: CustomPropertyInput!) {"
        " customPropertyDefine(input: $input) { userErrors { code } } }",
        {"input": {"key": "renewal", "type": "DATETIME"}},
    )
    assert result.data["customPropertyDefine"]["userErrors"] == []
    renewal = (clock.now + 3 * DAY).isoformat()
    await upsert_ok(workspace, {"id": "p", "properties": {"renewal": renewal}})
    segment_id = await active_segment(
        workspace, "Renewing", cond("properties.renewal", "LTE", "now+2d")
    )
    assert await stored_member_ids(runtime, segment_id) == set()
    # when: 2 days pass and the sweeper runs
    clock.advance(days=2)
    await sweep(runtime)
    # then: the segment was rescanned (no rows kept), and p entered
    assert SWEEPS.last[await workspace_pk(runtime, workspace)] == (0, 0, 1)
    assert await next_instants(runtime, segment_id) == {}
    assert await stored_member_ids(runtime, segment_id) == {"p"}
    assert summary(await logged_events(workspace, segment_id)) == [("ENTERED", "p")]


class WallClock:
    """The injected clock, moving with the wall clock from `start`."""

    def __init__(self, start: datetime) -> None:
        self.start, self.origin = start, time.monotonic()

    def __call__(self) -> datetime:
        return self.start + timedelta(seconds=time.monotonic() - self.origin)


async def test_a_crossing_customer_gets_its_event_within_10_s_of_the_instant(
    workspace: Workspace, runtime: Runtime, clock: FakeClock
) -> None:
    # given: a member whose order turns 30 days old a second from now, and the server's
    # sweeper job as it is scheduled by default
    await upsert_ok(workspace, orders("a", clock.now - 30 * DAY + timedelta(seconds=1)))
    segment_id = await active_segment(workspace, "Fresh", ordered_since("now-30d"))
    crossing = clock.now + timedelta(seconds=1) + TICK
    (job,) = [j for j in default_jobs(runtime) if j.name == "time sweeper"]
    assert job.interval_s == 5

    # when: time runs on, with the sweeper scheduled
    runtime.clock = WallClock(clock.now)
    running = asyncio.create_task(_loop(runtime, job))
    try:
        events: list[dict[str, Any]] = []
        deadline = time.monotonic() + 15
        while not events and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
            events = await logged_events(workspace, segment_id)
    finally:
        running.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await running

    # then: a left, recorded less than 10 s after the instant it crossed
    assert summary(events) == [("LEFT", "a")]
    recorded = datetime.fromisoformat(events[0]["occurredAt"])
    assert timedelta(0) <= recorded - crossing < timedelta(seconds=10)


async def test_an_import_merge_stores_the_instants_of_what_it_wrote(
    workspace: Workspace, runtime: Runtime, clock: FakeClock, tmp_path: Path
) -> None:
    now = clock.now
    await upsert_ok(workspace, orders("a", now - 10 * DAY))
    segment_id = await primed(workspace, runtime, ordered_since("now-30d"))
    # when: a file moves a's last order and brings a new customer
    lines = [orders("a", now - 20 * DAY), orders("m", now - 2 * DAY)]
    path = tmp_path / "c.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    report = await import_customers(
        runtime,
        await workspace_pk(runtime, workspace),
        file_lines(path),
        ImportOptions(format=FileFormat.of(path.name)),
    )
    assert report.rejected == 0
    # then: the merge stored both instants in its transaction
    assert await next_instants(runtime, segment_id) == {
        "a": now + 10 * DAY + TICK,
        "m": now + 28 * DAY + TICK,
    }


async def test_an_entry_left_to_a_transaction_holding_the_customer_stays_due(
    workspace: Workspace, runtime: Runtime, clock: FakeClock
) -> None:
    # given: `lastOrderAt LTE now-7d`, which a enters 4 days from now and then never leaves
    now = clock.now
    await upsert_ok(workspace, orders("a", now - 3 * DAY))
    segment_id = await primed(workspace, runtime, cond("lastOrderAt", "LTE", "now-7d"))
    assert await next_instants(runtime, segment_id) == {"a": now + 4 * DAY}

    # when: the instant passes while another transaction holds a's row (a delete would)
    clock.advance(days=5)
    async with runtime.engine.connect() as holder:
        await holder.execute(
            text("SELECT 1 FROM customer WHERE workspace_pk = :w AND id = 'a' FOR UPDATE"),
            {"w": await workspace_pk(runtime, workspace)},
        )
        await sweep(runtime)
        # then: the entry is left to that transaction, and a stays due
        assert await stored_member_ids(runtime, segment_id) == set()
        assert await next_instants(runtime, segment_id) == {"a": clock.now}
        await holder.rollback()

    # when: it ends without writing a, the next sweep records the entry
    await sweep(runtime)
    assert summary(await logged_events(workspace, segment_id)) == [("ENTERED", "a")]
    assert await next_instants(runtime, segment_id) == {}


async def test_a_sweep_computing_rows_never_deadlocks_with_a_writer_holding_the_workspace_row(
    workspace: Workspace, runtime: Runtime, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    # given: a newly ACTIVE `lastOrderAt LTE now-7d` (no rows computed yet), which a
    # enters once five days pass
    now = clock.now
    await upsert_ok(workspace, orders("a", now - 3 * DAY))
    segment_id = await active_segment(workspace, "Lapsing", cond("lastOrderAt", "LTE", "now-7d"))
    clock.advance(days=5)
    ws_pk = await workspace_pk(runtime, workspace)

    # when: a writer holds the workspace row while the sweep computes the rows and records
    # a's entry, and then writes a's row itself, as a recorder does under the workspace row
    async with runtime.engine.connect() as writer:
        await writer.execute(text("SET LOCAL lock_timeout = '5s'"))
        await writer.execute(
            text("SELECT 1 FROM workspace WHERE pk = :w FOR NO KEY UPDATE"), {"w": ws_pk}
        )
        sweeping = asyncio.create_task(sweep(runtime))
        await until_a_backend_waits_for_a_lock(writer)
        await writer.execute(
            text(
                "INSERT INTO segment_boundary (workspace_pk, segment_pk, customer_pk, next_at)"
                " SELECT :w, s.pk, c.pk, now() FROM segment s, customer c"
                " WHERE s.id = :s AND c.workspace_pk = :w AND c.id = 'a'"
                " ON CONFLICT (workspace_pk, segment_pk, customer_pk)"
                " DO UPDATE SET next_at = excluded.next_at"
            ),
            {"w": ws_pk, "s": segment_id},
        )
        await writer.commit()
    await asyncio.wait_for(sweeping, 10)

    # then: the sweep neither failed nor waited in a cycle: a entered, recorded once
    failures = [r for r in caplog.records if r.name == "segmentql.membership"]
    assert failures == []
    assert summary(await logged_events(workspace, segment_id)) == [("ENTERED", "a")]


async def until_a_backend_waits_for_a_lock(conn: Any) -> None:
    """Poll (from `conn`, whose own transaction it leaves alone) until some backend waits."""
    waiting = text(
        "SELECT count(*) FROM pg_stat_activity"
        " WHERE datname = current_database() AND wait_event_type = 'Lock'"
    )
    for _ in range(500):
        if await conn.scalar(waiting):
            return
        await asyncio.sleep(0.01)
    raise AssertionError("nobody waited for a lock in 5 s")
