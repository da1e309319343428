"""Reading segments: who is in them, how many, how costly, and point checks.

Membership is always decided live (the predicate, or a STATIC segment's stored
list): cached counts are for listings only, and say how old they are.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from api.context import Context
from api.runtime import Runtime
from api.services.batching import request_loader, shared
from api.services.definitions import cached_segments, current_segments, known_segment
from api.services.predicates import Loader, memo, workspace_segments
from domain.errors import segment_not_found
from domain.evaluation_hints import PlanFacts, hints_for
from domain.predicate import Node, field_paths
from domain.records import CustomerView, Page
from domain.segment import Segment, SegmentKind
from persistence.cursors import Slice
from persistence.evaluation import WorkspaceSegments, evaluation_guard
from persistence.segments import WRITES_SETTLE
from persistence.unit_of_work import UnitOfWork

log = logging.getLogger("segmentql.stats")


async def get_segment(ctx: Context, segment_id: str) -> Segment | None:
    async with ctx.reading() as uow:
        return await uow.segments.get(segment_id)


async def segment_page(
    ctx: Context, window: Slice[str], search: str | None, kind: SegmentKind | None
) -> tuple[Page[Segment], Loader]:
    async with ctx.reading() as uow:
        page = await uow.segments.page(window, search, kind)

    async def count() -> int:
        async with ctx.reading() as uow:
            return await uow.segments.count(search, kind)

    return page, memo(count)


async def require_segment(uow: UnitOfWork, segment_id: str, path: str = "segmentId") -> Segment:
    segment = await uow.segments.get(segment_id)
    if segment is None:
        raise segment_not_found(segment_id, path)
    return segment


@dataclass
class Members:
    page: Page[CustomerView]
    count: Loader
    columns: list[str]


MembersKey = tuple[Segment, Slice[str], str | None]  # segment, which page, search


async def members(
    ctx: Context, segment: Segment, window: Slice[str], search: str | None
) -> Members:
    """A page of the segment's members; the pages of one level (every segment of a
    listing) are read in one statement, and so are their counts."""
    timeout = ctx.runtime.settings.statement_timeout_ms

    async def load_pages(keys: Sequence[MembersKey]) -> list[Page[CustomerView]]:
        groups: dict[tuple[Slice[str], str | None], list[int]] = {}
        for index, (_, window_, term) in enumerate(keys):
            groups.setdefault((window_, term), []).append(index)
        pages: dict[int, Page[CustomerView]] = {}
        now = ctx.runtime.clock()  # at load: a WebSocket's loaders outlive one operation
        async with ctx.reading() as uow:
            segments = await current_segments(ctx, uow)
            for (window_, term), indexes in groups.items():
                wheres = [segments.condition(keys[i][0], now) for i in indexes]
                async with evaluation_guard(timeout):
                    found = await uow.customers.pages_each(window_, term, wheres)
                pages.update(zip(indexes, found, strict=True))
        return [pages[i] for i in range(len(keys))]

    async def load_counts(keys: Sequence[tuple[Segment, str | None]]) -> list[int]:
        groups: dict[str | None, list[int]] = {}
        for index, (_, term) in enumerate(keys):
            groups.setdefault(term, []).append(index)
        counts: dict[int, int] = {}
        now = ctx.runtime.clock()
        async with ctx.reading() as uow:
            segments = await current_segments(ctx, uow)
            for term, indexes in groups.items():
                wheres = [segments.condition(keys[i][0], now) for i in indexes]
                async with evaluation_guard(timeout):
                    found, _ = await uow.customers.count_each(wheres, term)
                counts.update(zip(indexes, found, strict=True))
        return [counts[i] for i in range(len(keys))]

    key: MembersKey = (segment, window, search)
    page: Page[CustomerView] = await request_loader(ctx, "members", load_pages).load(key)

    async def count() -> int:
        found: int = await request_loader(ctx, "member_counts", load_counts).load((segment, search))
        return found

    node = (cached_segments(ctx) or await _definitions(ctx)).predicate(segment.id)
    return Members(page, memo(count), field_paths(node) if node is not None else [])


async def _definitions(ctx: Context) -> WorkspaceSegments:
    async with ctx.reading() as uow:
        return await current_segments(ctx, uow)


async def customers_in_segment(
    ctx: Context, segment_id: str, window: Slice[str], search: str | None
) -> Members:
    async with ctx.reading() as uow:
        segment = await require_segment(uow, segment_id)
    return await members(ctx, segment, window, search)


async def is_member(ctx: Context, segment_id: str, customer_id: str) -> tuple[bool, datetime]:
    """Evaluated live at the moment of the call, never from cached membership."""
    now = ctx.runtime.clock()
    async with ctx.reading() as uow:
        segments = await current_segments(ctx, uow)
        condition = segments.condition(known_segment(segments, segment_id), now)
        async with evaluation_guard(ctx.runtime.settings.statement_timeout_ms):
            found = await uow.customers.matches(customer_id, condition)
    return found, now


async def segments_of_customer(ctx: Context, view: CustomerView) -> list[Segment]:
    """Every segment the customer is in now. The customers of one level share two
    statements: every segment evaluated for all of them, and the segments' rows."""

    async def load(pks: Sequence[int]) -> list[list[Segment]]:
        now = ctx.runtime.clock()
        async with ctx.reading() as uow:
            segments = await current_segments(ctx, uow)
            listed = sorted(segments.by_id.values(), key=lambda s: s.id)
            conditions = [segments.condition(s, now) for s in listed]
            flags = await uow.customers.evaluate_each(pks, conditions)
            inside = {
                pk: [s.id for s, flag in zip(listed, flags[pk], strict=True) if flag] for pk in pks
            }
            wanted = {i for ids in inside.values() for i in ids}
            # Loaded again: the cached definitions carry counts that may be old.
            rows = {s.id: s for s in await uow.segments.with_ids(wanted)} if wanted else {}
        return [[rows[i] for i in inside[pk] if i in rows] for pk in pks]

    found: list[Segment] = await request_loader(ctx, "segments_of", load).load(view.pk)
    return found


@dataclass(frozen=True)
class Stats:
    customer_count: int
    total_customers: int
    computed_at: datetime

    @property
    def percentage(self) -> float:
        if self.total_customers == 0:
            return 0.0
        return round(100.0 * self.customer_count / self.total_customers, 4)


TOTAL_TTL_S = 5.0
RECOUNTS_AT_ONCE = 2


def recount_slots(runtime: Runtime) -> asyncio.Semaphore:
    slots = runtime.extras.get("recounts")
    if slots is None:
        slots = runtime.extras["recounts"] = asyncio.Semaphore(RECOUNTS_AT_ONCE)
    assert isinstance(slots, asyncio.Semaphore)
    return slots


async def workspace_total(ctx: Context, uow: UnitOfWork) -> int:
    """The workspace's customer count, counted at most every few seconds per process.

    Counting a million customers takes tens of milliseconds; a listing of 100
    segments must not do it 100 times.
    """
    totals: dict[int, tuple[int, float]] = ctx.runtime.extras.setdefault("totals", {})
    cached = totals.get(ctx.workspace_pk)
    if cached is not None and time.monotonic() - cached[1] < TOTAL_TTL_S:
        return cached[0]
    total = await uow.customers.count()
    totals[ctx.workspace_pk] = (total, time.monotonic())
    return total


async def stats(ctx: Context, segment: Segment) -> Stats:
    """Counts for listings: exact for STATIC and ACTIVE; for PASSIVE the stored count,
    which the background refresher keeps fresh, or a count made now if there is none.

    `computedAt` is the instant the count is known exact: when it was made, or now
    when nothing it depends on has changed since (no customer written or deleted,
    no relative time, no tracked events). A listing never waits for a recount of a
    count it has: a stale one comes with its old `computedAt`.
    """
    assert segment.pk is not None
    now = ctx.runtime.clock()
    max_age = timedelta(seconds=ctx.runtime.settings.stats_max_age_s)
    counted = segment.counted
    if segment.kind is SegmentKind.PASSIVE and counted is not None:
        at, count, total = counted.computed_at, counted.member_count, counted.total_customers
        if at is not None and count is not None and total is not None:
            if now - at > max_age and await _still_exact(ctx, segment, at):
                at = now
            return Stats(count, total, at)
    if segment.kind is SegmentKind.PASSIVE:
        # Full counts run a few at a time: a listing of 100 stale segments must not
        # start 100 scans at once and push each past the statement timeout.
        # On the primary: the count is stored as it is made.
        async with recount_slots(ctx.runtime), ctx.primary_reading() as uow:
            return await refresh_stats(uow, ctx.runtime, segment)
    if segment.kind is SegmentKind.ACTIVE and counted and counted.member_count is not None:
        count = counted.member_count  # kept exact by every recorded transition
    else:
        count = await request_loader(ctx, "stored_counts", _stored_counts(ctx)).load(segment.pk)
    everyone: int = await shared(ctx, "workspace_total", lambda: _workspace_total(ctx))
    return Stats(count, everyone, now)


def _stored_counts(ctx: Context) -> Callable[[Sequence[int]], Awaitable[list[int]]]:
    async def load(pks: Sequence[int]) -> list[int]:
        async with ctx.reading() as uow:
            counts = await uow.segments.stored_counts(pks)
        return [counts[pk] for pk in pks]

    return load


async def _workspace_total(ctx: Context) -> int:
    async with ctx.reading() as uow:
        return await workspace_total(ctx, uow)


async def _still_exact(ctx: Context, segment: Segment, counted_at: datetime) -> bool:
    """Nothing the segment's count depends on changed since it was counted."""
    if segment.time_relative:
        return False
    segments = cached_segments(ctx)
    if segments is None:
        async with ctx.reading() as uow:
            segments = await current_segments(ctx, uow)
    if segments.changes_unseen(segment.id):
        return False
    changed = await _last_change(ctx)
    return changed is None or changed < counted_at - WRITES_SETTLE


async def _last_change(ctx: Context) -> datetime | None:
    """The workspace's last customer change, read once per request."""

    async def read() -> datetime | None:
        async with ctx.reading() as uow:
            return await uow.customers.last_change()

    found: datetime | None = await shared(ctx, "last_change", read)
    return found


async def refresh_stats(
    uow: UnitOfWork,
    runtime: Runtime,
    segment: Segment,
    segments: WorkspaceSegments | None = None,
) -> Stats:
    """Count the segment fully now, and remember the count and how long it took.

    `segments`: definitions already loaded that hold it (else they are loaded in `uow`).
    """
    assert segment.pk is not None
    now = runtime.clock()
    segments = segments or await workspace_segments(uow, {segment.id})
    condition = segments.condition(segment, now)
    started = time.perf_counter()
    async with evaluation_guard(runtime.settings.statement_timeout_ms):
        count = await uow.segments.count_where(condition)
    duration_ms = (time.perf_counter() - started) * 1000
    total = await uow.customers.count()
    await uow.segments.record_stats(segment.pk, count, total, now, duration_ms)
    await uow.commit()
    return Stats(count, total, now)


@dataclass(frozen=True)
class Cost:
    planner_cost: float
    estimated_rows: int
    uses_index: bool
    last_duration_ms: float | None
    slow: bool
    hints: list[str]


async def evaluation_cost(ctx: Context, segment: Segment) -> Cost:
    """The planner's estimate of counting the segment, and its last measured count; the
    segments of one level share two statements (one EXPLAIN, one read of their stats)."""
    assert segment.pk is not None
    found: Cost = await request_loader(ctx, "evaluation_costs", _evaluation_costs(ctx)).load(
        segment
    )
    return found


def _evaluation_costs(ctx: Context) -> Callable[[Sequence[Segment]], Awaitable[list[Cost]]]:
    async def load(segments_: Sequence[Segment]) -> list[Cost]:
        now = ctx.runtime.clock()
        async with ctx.reading() as uow:
            segments = await current_segments(ctx, uow)
            conditions = [segments.condition(s, now) for s in segments_]
            plans = await uow.customers.explain_counts(conditions)
            cached = await uow.segments.stats_each([s.pk for s in segments_ if s.pk is not None])
        slow_ms = ctx.runtime.settings.slow_evaluation_ms
        costs = []
        for segment, plan in zip(segments_, plans, strict=True):
            assert segment.pk is not None
            last_ms = cached[segment.pk].last_duration_ms
            node = segments.predicate(segment.id)
            facts = PlanFacts(plan.total_cost, plan.rows, plan.uses_index)
            referenced = _reached_predicates(segments, segment.id)
            hints = hints_for(node, segments.catalog, facts, referenced) if node is not None else []
            slow = (last_ms or 0.0) > slow_ms
            costs.append(Cost(plan.total_cost, plan.rows, plan.uses_index, last_ms, slow, hints))
        return costs

    return load


def _reached_predicates(segments: WorkspaceSegments, segment_id: str) -> list[Node]:
    """Predicates of the segments `segment_id` reaches through references (inlined when
    evaluated, so their conditions cost as much as its own)."""
    seen: set[str] = set()
    pending = [segment_id]
    found: list[Node] = []
    while pending:
        for ref in sorted(segments.references(pending.pop()) - seen):
            seen.add(ref)
            node = segments.predicate(ref)
            if node is not None:
                found.append(node)
                pending.append(ref)
    return found
