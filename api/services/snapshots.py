"""Snapshots of segments: schedules, taking them, reading them back, comparing them."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from api.context import Context
from api.runtime import Runtime
from api.services.batching import request_loader
from api.services.predicates import workspace_segments
from domain.errors import DomainError, ErrorCode, segment_not_found
from domain.records import CustomerView, Page
from domain.segment import Segment, SegmentBy, SnapshotSchedule
from domain.snapshot import Instance, InstanceRow, first_due, instance_id, next_due
from persistence.cursors import Slice
from persistence.customers import encode_cursor
from persistence.evaluation import evaluation_guard
from persistence.snapshots import due_segments
from persistence.sweeper import advisory_lock
from persistence.unit_of_work import UnitOfWork

SNAPSHOT_LOCK = "segmentql-snapshots"
SNAPSHOT_TIMEOUT_FACTOR = 4  # storing every member takes longer than counting them

log = logging.getLogger("segmentql.snapshots")


async def _segment(uow: UnitOfWork, segment_id: str, lock: bool = False) -> Segment:
    segment = await uow.segments.get(segment_id, lock=lock)
    if segment is None:
        raise segment_not_found(segment_id, "segmentId")
    return segment


async def set_schedule(
    ctx: Context, segment_id: str, schedule: SnapshotSchedule | None, segment_by: SegmentBy | None
) -> Segment:
    now = ctx.runtime.clock()
    async with ctx.uow() as uow:
        segment = await _segment(uow, segment_id, lock=True)
        segment.schedule_snapshots(schedule, segment_by, now)
        await uow.segments.save(segment)
        assert segment.pk is not None
        await uow.snapshots.set_schedule(
            segment.pk, segment.schedule, segment.segment_by, first_due(schedule, now)
        )
        await uow.commit()
    return segment


async def _take(uow: UnitOfWork, runtime: Runtime, segment: Segment) -> Instance:
    assert segment.pk is not None
    now = runtime.clock().astimezone(UTC)
    day = datetime(now.year, now.month, now.day, tzinfo=UTC)
    index = await uow.snapshots.count_between(segment.pk, day, day + timedelta(days=1)) + 1
    condition = (await workspace_segments(uow, {segment.id})).condition(segment, now)
    timeout_ms = runtime.settings.statement_timeout_ms * SNAPSHOT_TIMEOUT_FACTOR
    await uow.snapshots.allow_time(timeout_ms)
    async with evaluation_guard(timeout_ms):
        return await uow.snapshots.take(
            segment, condition, now, instance_id(segment.id, now, index)
        )


async def take_snapshot(ctx: Context, segment_id: str) -> Instance:
    async with ctx.uow() as uow:
        segment = await _segment(uow, segment_id, lock=True)
        instance = await _take(uow, ctx.runtime, segment)
        await uow.commit()
    return instance


async def run_due(runtime: Runtime, batch: int = 50) -> int:
    """Take every snapshot due now, each once; one process at a time.

    Due segments are read `batch` at a time until none is left. A snapshot that
    fails is logged and left due, to be retried on the next run; it does not
    hold up the others.
    """
    now = runtime.clock()
    taken = 0
    skipped: set[tuple[int, str]] = set()
    async with advisory_lock(runtime.engine, SNAPSHOT_LOCK) as acquired:
        if not acquired:
            return 0
        while True:
            async with runtime.engine.connect() as conn:
                due = await due_segments(conn, now, batch + len(skipped))
            todo = [d for d in due if d not in skipped]
            if not todo:
                return taken
            for workspace_pk, segment_id in todo:
                try:
                    took = await _take_scheduled(runtime, workspace_pk, segment_id, now)
                except Exception:
                    log.exception("scheduled snapshot of %s failed; retrying next run", segment_id)
                    took = False
                if took:
                    taken += 1
                else:
                    skipped.add((workspace_pk, segment_id))


async def _take_scheduled(
    runtime: Runtime, workspace_pk: int, segment_id: str, now: datetime
) -> bool:
    async with UnitOfWork(runtime.engine, workspace_pk) as uow:
        segment = await uow.segments.get(segment_id, lock=True)
        if segment is None or segment.pk is None:
            return False
        if not await uow.snapshots.is_due(segment.pk, now):  # unscheduled since it was listed
            return False
        instance = await _take(uow, runtime, segment)
        await uow.snapshots.set_next_due(
            segment.pk, next_due(segment.schedule, instance.created_at)
        )
        await uow.commit()
    return True


async def instance_page(
    ctx: Context, segment_id: str, window: Slice[int]
) -> tuple[Page[Instance], int]:
    async with ctx.read_transaction() as uow:
        segment = await _segment(uow, segment_id)
        assert segment.pk is not None
        page = await uow.snapshots.page(segment.pk, window)
        total = await uow.snapshots.count(segment.pk)
    return page, total


async def instance_pages(
    ctx: Context, segment: Segment, window: Slice[int]
) -> tuple[Page[Instance], int]:
    """`instance_page` of a segment already read; the segments of one level (a page of
    segments asking for their instances) share two statements."""

    async def load(keys: Sequence[tuple[int, Slice[int]]]) -> list[tuple[Page[Instance], int]]:
        groups: dict[Slice[int], set[int]] = {}
        for pk, window_ in keys:
            groups.setdefault(window_, set()).add(pk)
        found: dict[tuple[int, Slice[int]], tuple[Page[Instance], int]] = {}
        async with ctx.reading() as uow:
            for window_, pks in groups.items():
                ordered = sorted(pks)
                pages = await uow.snapshots.pages_each(ordered, window_)
                totals = await uow.snapshots.counts_each(ordered)
                found.update({(pk, window_): (pages[pk], totals[pk]) for pk in ordered})
        return [found[key] for key in keys]

    assert segment.pk is not None
    loaded: tuple[Page[Instance], int] = await request_loader(ctx, "instance_pages", load).load(
        (segment.pk, window)
    )
    return loaded


async def get_instance(ctx: Context, instance_id: str) -> Instance | None:
    async with ctx.read_transaction() as uow:
        return await uow.snapshots.get(instance_id)


@dataclass(frozen=True)
class RowPage:
    rows: list[InstanceRow]
    has_next: bool
    total: int
    has_previous: bool = False


async def segmentation_rows(
    ctx: Context,
    segment_id: str | None,
    instance_id: str | None,
    window: Slice[tuple[int, str]],
) -> RowPage:
    async with ctx.read_transaction() as uow:
        instances = {i.pk: i for i in await uow.snapshots.instances_of(segment_id, instance_id)}
        if not instances:
            return RowPage([], False, 0)
        found, more, earlier = await uow.snapshots.member_rows(list(instances), window)
    rows = [InstanceRow(instances[pk], cid, email) for pk, cid, email, _ in found]
    return RowPage(rows, more, sum(i.num_customers for i in instances.values()), earlier)


async def instance_members(
    ctx: Context, instance: Instance, window: Slice[str]
) -> Page[CustomerView]:
    """The instance's members that still exist, as they are now, by customer id; the
    instances of one level (a page of instances) share two statements."""

    async def load(keys: Sequence[tuple[int, Slice[str]]]) -> list[Page[CustomerView]]:
        groups: dict[Slice[str], set[int]] = {}
        for pk, window_ in keys:
            groups.setdefault(window_, set()).add(pk)
        pages: dict[tuple[int, Slice[str]], Page[CustomerView]] = {}
        async with ctx.read_transaction() as uow:
            for window_, pks in groups.items():
                ids = await uow.snapshots.existing_member_ids_each(sorted(pks), window_)
                wanted = sorted({i for page in ids.values() for i in page.items})
                views = {v.id: v for v in await uow.customers.get_many(wanted)}
                for pk, page in ids.items():
                    present = [views[i] for i in page.items if i in views]
                    cursors = [encode_cursor(v.id) for v in present]
                    pages[(pk, window_)] = Page(present, page.has_next, cursors, page.has_previous)
        return [pages[key] for key in keys]

    page: Page[CustomerView] = await request_loader(ctx, "instance_members", load).load(
        (instance.pk, window)
    )
    return page


async def existing_member_count(ctx: Context, instance: Instance) -> int:
    """How many of the instance's members still exist (numOfCustomers counts them all);
    the instances of one level are counted in one statement."""

    async def load(pks: Sequence[int]) -> list[int]:
        async with ctx.reading() as uow:
            counted = await uow.snapshots.count_existing_members_each(sorted(set(pks)))
        return [counted[pk] for pk in pks]

    found: int = await request_loader(ctx, "instance_member_counts", load).load(instance.pk)
    return found


@dataclass(frozen=True)
class Diff:
    entered: list[str]
    left: list[str]
    entered_count: int
    left_count: int


async def diff(ctx: Context, instance: Instance, other_id: str, limit: int) -> Diff:
    """Who entered and who left between `other_id` (earlier) and `instance`; the instances
    of one level share two statements (the other instances, then every diff)."""
    key: DiffKey = (instance, other_id, limit)
    found: Diff = await request_loader(ctx, "instance_diffs", _diffs(ctx)).load(key)
    return found


DiffKey = tuple[Instance, str, int]  # this instance, the other's id, how many ids a side


def _diffs(ctx: Context) -> Callable[[Sequence[DiffKey]], Awaitable[list[Diff | DomainError]]]:
    async def load(keys: Sequence[DiffKey]) -> list[Diff | DomainError]:
        async with ctx.read_transaction() as uow:
            others = {i.id: i for i in await uow.snapshots.with_ids(sorted({k[1] for k in keys}))}
            groups: dict[int, set[tuple[int, int]]] = {}
            for instance, other_id, limit in keys:
                other = others.get(other_id)
                if other is not None and other.segment_id == instance.segment_id:
                    groups.setdefault(limit, set()).add((instance.pk, other.pk))
            diffs: dict[tuple[int, int, int], Diff] = {}
            for limit, pairs in groups.items():
                for (mine, theirs), found in (
                    await uow.snapshots.diffs_each(sorted(pairs), limit)
                ).items():
                    diffs[(mine, theirs, limit)] = Diff(*found)
        results: list[Diff | DomainError] = []
        for instance, other_id, limit in keys:
            other = others.get(other_id)
            if other is None or other.segment_id != instance.segment_id:
                results.append(
                    DomainError(
                        ErrorCode.NOT_FOUND,
                        f"There is no instance {other_id!r} of this segment.",
                        ("otherInstanceId",),
                    )
                )
            else:
                results.append(diffs[(instance.pk, other.pk, limit)])
        return results

    return load
