"""Snapshots of segments: schedules, taking them, reading them back, comparing them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from api.context import Context
from api.runtime import Runtime
from api.services.predicates import workspace_segments
from domain.errors import DomainError, ErrorCode
from domain.records import CustomerView
from domain.segment import Segment, SegmentBy, SnapshotSchedule
from domain.snapshot import Instance, InstanceRow, first_due, instance_id, next_due
from persistence.evaluation import evaluation_guard
from persistence.snapshots import due_segments
from persistence.sweeper import advisory_lock
from persistence.unit_of_work import UnitOfWork

SNAPSHOT_LOCK = "segmentql-snapshots"


async def _segment(uow: UnitOfWork, segment_id: str, lock: bool = False) -> Segment:
    segment = await uow.segments.get(segment_id, lock=lock)
    if segment is None:
        raise DomainError(ErrorCode.NOT_FOUND, f"There is no segment {segment_id!r}.", ("segmentId",))
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
    now = runtime.clock()
    day = datetime(now.year, now.month, now.day, tzinfo=UTC)
    index = await uow.snapshots.count_between(segment.pk, day, day + timedelta(days=1)) + 1
    condition = (await workspace_segments(uow)).condition(segment, now)
    async with evaluation_guard(runtime.settings.statement_timeout_ms * 4):
        return await uow.snapshots.take(segment, condition, now, instance_id(segment.id, now, index))


async def take_snapshot(ctx: Context, segment_id: str) -> Instance:
    async with ctx.uow() as uow:
        segment = await _segment(uow, segment_id, lock=True)
        instance = await _take(uow, ctx.runtime, segment)
        await uow.commit()
    return instance


async def run_due(runtime: Runtime, batch: int = 50) -> int:
    """Take every due scheduled snapshot once; one process at a time."""
    taken = 0
    async with advisory_lock(runtime.engine, SNAPSHOT_LOCK) as acquired:
        if not acquired:
            return 0
        async with runtime.engine.connect() as conn:
            due = await due_segments(conn, runtime.clock(), batch)
        for workspace_pk, segment_id in due:
            async with UnitOfWork(runtime.engine, workspace_pk) as uow:
                segment = await uow.segments.get(segment_id, lock=True)
                if segment is None or segment.pk is None:
                    continue
                instance = await _take(uow, runtime, segment)
                await uow.snapshots.set_next_due(
                    segment.pk, next_due(segment.schedule, instance.created_at)
                )
                await uow.commit()
                taken += 1
    return taken


async def instance_page(
    ctx: Context, segment_id: str, first: int, after_pk: int | None
) -> tuple[list[Instance], bool, int]:
    async with ctx.uow() as uow:
        segment = await _segment(uow, segment_id)
        assert segment.pk is not None
        items, more = await uow.snapshots.page(segment.pk, first, after_pk)
        total = await uow.snapshots.count(segment.pk)
    return items, more, total


async def get_instance(ctx: Context, instance_id: str) -> Instance | None:
    async with ctx.uow() as uow:
        return await uow.snapshots.get(instance_id)


@dataclass(frozen=True)
class RowPage:
    rows: list[InstanceRow]
    has_next: bool
    total: int


async def segmentation_rows(
    ctx: Context,
    segment_id: str | None,
    instance_id: str | None,
    first: int,
    after: tuple[int, str] | None,
) -> RowPage:
    async with ctx.uow() as uow:
        instances = {i.pk: i for i in await uow.snapshots.instances_of(segment_id, instance_id)}
        if not instances:
            return RowPage([], False, 0)
        found, more = await uow.snapshots.member_rows(list(instances), first, after)
    rows = [InstanceRow(instances[pk], cid, email) for pk, cid, email, _ in found]
    return RowPage(rows, more, sum(i.num_customers for i in instances.values()))


async def instance_members(
    ctx: Context, instance: Instance, first: int, after_id: str | None
) -> tuple[list[CustomerView], list[str], bool]:
    """The instance's members that still exist, as they are now, by customer id."""
    async with ctx.uow() as uow:
        found, more = await uow.snapshots.member_rows(
            [instance.pk], first, (instance.pk, after_id) if after_id is not None else None
        )
        ids = [cid for _, cid, _, _ in found]
        views = {v.id: v for v in await uow.customers.get_many(ids)}
    present = [views[i] for i in ids if i in views]
    return present, [v.id for v in present], more


@dataclass(frozen=True)
class Diff:
    entered: list[str]
    left: list[str]
    entered_count: int
    left_count: int


async def diff(ctx: Context, instance: Instance, other_id: str, limit: int) -> Diff:
    """Who entered and who left between `other_id` (earlier) and `instance`."""
    async with ctx.uow() as uow:
        other = await uow.snapshots.get(other_id)
        if other is None or other.segment_id != instance.segment_id:
            raise DomainError(
                ErrorCode.NOT_FOUND,
                f"There is no instance {other_id!r} of this segment.",
                ("otherInstanceId",),
            )
        entered, left, n_in, n_out = await uow.snapshots.diff(instance.pk, other.pk, limit)
    return Diff(entered, left, n_in, n_out)
