"""An import re-evaluates only the ACTIVE segments reading what it changed, records the
events customersUpsert would, and merges a customer created under it by another write."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from api.runtime import Runtime
from api.services.customer_import import file_lines, import_customers
from domain.import_job import ImportOptions
from persistence.database import libpq_dsn
from persistence.reevaluations import REEVALUATIONS
from tests.api.event_documents import active_segment, in_germany, logged_events
from tests.api.segment_documents import upsert_ok
from tests.conftest import Workspace
from tests.integration.test_customer_import import customer, jsonl, pk_of

BUYERS = {"condition": {"field": "ordersCount", "operator": "GTE", "value": 2}}
ADA = {
    "id": "ada",
    "country": "DE",
    "city": "Bonn",
    "orders": [
        {"id": "o1", "amount": 10, "placedAt": "2026-11-01T10:00:00Z"},
        {"id": "o2", "amount": 30, "placedAt": "2026-11-20T10:00:00Z"},
    ],
}
BOB = {"id": "bob", "country": "FR", "city": "Lyon", "orders": [{"id": "o9", "amount": 5}]}
STEPS: list[list[dict[str, Any]]] = [
    [ADA, BOB],  # created: every segment judges them
    [{"id": "ada", "city": "Köln"}, {"id": "bob", "city": "Nice"}],  # read by no segment
    [{"id": "ada", "orders": [{"id": "o2", "amount": 31}]}],  # totalSpent: read by none
    [{"id": "ada", "orders": [{"id": "o1", "status": "REFUNDED"}]}],  # ordersCount 2 -> 1
    [{"id": "bob", "country": "DE", "properties": {}}],  # country: germans only
]
"""Each step's lines, and then: (segments, customer-segment pairs) it evaluates."""
EVALUATED = [(2, 4), (0, 0), (0, 0), (1, 1), (1, 1)]


async def imported(runtime: Runtime, ws: Workspace, path: Path, *lines: object) -> int:
    path.write_bytes(jsonl(*lines))
    report = await import_customers(
        runtime, await pk_of(runtime, ws), file_lines(path), ImportOptions()
    )
    assert report.rejected == 0, report.rejections
    return report.written


def transitions(events: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
    return sorted((e["segmentId"], e["kind"], e["customerId"]) for e in events)


async def test_an_import_evaluates_only_the_segments_reading_what_it_changed(
    runtime: Runtime, workspace: Workspace, other_workspace: Workspace, tmp_path: Path
) -> None:
    # given the same two ACTIVE segments, one reading country, one ordersCount, in two
    # workspaces
    segments: dict[str, list[str]] = {}
    for ws in (workspace, other_workspace):
        segments[ws.name] = [
            await active_segment(ws, "germans", in_germany()),
            await active_segment(ws, "buyers", BUYERS),
        ]
    pk = await pk_of(runtime, workspace)

    for lines, expected in zip(STEPS, EVALUATED, strict=True):
        # when a step is imported into one and upserted through the API into the other
        before = REEVALUATIONS.of(pk)
        segments_before, pairs_before = before.segments_evaluated, before.customer_evaluations
        written = await imported(runtime, workspace, tmp_path / "c.jsonl", *lines)
        after = REEVALUATIONS.of(pk)
        await upsert_ok(other_workspace, *lines)

        # then the import wrote every line's customer, evaluated only the segments reading
        # what moved, and both logs hold the same transitions
        assert written == len(lines)
        evaluated = (
            after.segments_evaluated - segments_before,
            after.customer_evaluations - pairs_before,
        )
        assert evaluated == expected, lines
        ours = await logged_events(workspace)
        theirs = await logged_events(other_workspace)
        names = dict(zip(segments[other_workspace.name], segments[workspace.name], strict=True))
        assert transitions(ours) == sorted(
            (names[s], kind, c) for s, kind, c in transitions(theirs)
        )
    kinds = [(kind, c) for _, kind, c in transitions(await logged_events(workspace))]
    assert sorted(kinds) == [
        ("ENTERED", "ada"),
        ("ENTERED", "ada"),
        ("ENTERED", "bob"),
        ("LEFT", "ada"),
    ]


INSERT = """
INSERT INTO customer (workspace_pk, id, email, city) VALUES ($1, 'zoe', 'zoe@example.com', 'Rome')
"""
WAITING = """
SELECT count(*) FROM pg_stat_activity
WHERE datname = current_database() AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()
"""


async def test_a_customer_created_by_another_write_during_the_merge_keeps_its_columns(
    runtime: Runtime, workspace: Workspace, tmp_path: Path
) -> None:
    # given another transaction that has created 'zoe' and not committed yet
    pk = await pk_of(runtime, workspace)
    segment_id = await active_segment(workspace, "germans", in_germany())
    other = await asyncpg.connect(libpq_dsn(runtime.database))
    try:
        async with other.transaction():
            await other.execute(INSERT, pk)
            # when an import of a line naming zoe's country alone runs into it
            path = tmp_path / "c.jsonl"
            path.write_bytes(jsonl({"id": "zoe", "country": "DE"}))
            job = asyncio.ensure_future(
                import_customers(runtime, pk, file_lines(path), ImportOptions())
            )
            for _ in range(200):  # until the import waits for the uncommitted row
                if await other.fetchval(WAITING) or job.done():
                    break
                await asyncio.sleep(0.05)
            assert not job.done()
        report = await job  # the other transaction committed: the import goes on
    finally:
        await other.close()

    # then zoe keeps the columns the line did not send, takes the country it did send,
    # and enters the segment once
    assert report.written == 1 and report.rejected == 0
    zoe = await customer(workspace, "zoe")
    assert zoe is not None
    assert (zoe["email"], zoe["city"], zoe["country"]) == ("zoe@example.com", "Rome", "DE")
    events = await logged_events(workspace, segment_id)
    assert [(e["kind"], e["customerId"]) for e in events] == [("ENTERED", "zoe")]


async def test_an_import_runs_under_its_own_statement_timeout(
    runtime: Runtime, workspace: Workspace, tmp_path: Path
) -> None:
    # given an import timeout far below what a chunk's merge takes (the service's is 5 s)
    assert runtime.settings.import_statement_timeout_ms > runtime.settings.statement_timeout_ms
    hurried = replace(runtime, settings=replace(runtime.settings, import_statement_timeout_ms=1))
    path = tmp_path / "c.jsonl"
    path.write_bytes(jsonl(*({**ADA, "id": f"t{i}"} for i in range(3000))))

    # when the import runs, then its chunk is cut off by that timeout, not the service's
    # (at its merge, or at the write gate before it: raised by asyncpg itself, or as
    # SQLAlchemy wraps it)
    with pytest.raises(Exception) as raised:
        await import_customers(
            hurried, await pk_of(runtime, workspace), file_lines(path), ImportOptions()
        )
    cancelled = _statement_timeout_behind(raised.value)
    assert cancelled is not None and "statement timeout" in str(cancelled), raised.value
    assert await customer(workspace, "t1") is None


def _statement_timeout_behind(error: BaseException | None) -> BaseException | None:
    """asyncpg's cancellation among `error` and its causes, if any."""
    while error is not None:
        if isinstance(error, asyncpg.QueryCanceledError):
            return error
        error = error.__cause__
    return None
