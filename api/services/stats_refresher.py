"""The background refresher of PASSIVE segments' cached counts.

A pass takes the segments that are due (persistence.segments
`stale_passive_segments`: counted over half the freshness bound ago, and their
customers changed since, or they are time-relative or read events) and counts
them again, workspace by workspace.

Segments whose condition reads only the customer row are counted together,
`TOGETHER` at a time, in one scan of the workspace's customers
(`count(*) FILTER (WHERE ...)` a segment): at a million customers one such
scan costs about what two or three separate counts do, and a workspace
usually has dozens of such segments. The others (related records, events,
static lists) are counted one by one, each with its own indexes.
A segment that fails to compile or count (a timeout, say) is logged and
skipped: it must not stall the others.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement

from api.runtime import Runtime
from api.services.predicates import workspace_segments
from api.services.segment_reads import refresh_stats
from domain.segment import Segment, SegmentKind
from persistence.evaluation import evaluation_guard, reads_other_rows
from persistence.segments import stale_passive_segments
from persistence.unit_of_work import UnitOfWork

log = logging.getLogger("segmentql.stats")

TOGETHER = 50
"""Segments counted in one shared scan (their conditions make one statement)."""


async def refresh_stale_stats(runtime: Runtime, batch: int = 100) -> int:
    """One pass: recount up to `batch` due segments. Returns how many were recounted."""
    max_age = timedelta(seconds=runtime.settings.stats_max_age_s)
    async with runtime.engine.connect() as conn:
        due = await stale_passive_segments(conn, runtime.clock() - max_age / 2, batch)
    by_workspace: dict[int, list[str]] = {}
    for workspace_pk, segment_id in due:
        by_workspace.setdefault(workspace_pk, []).append(segment_id)
    recounted = 0
    for workspace_pk, ids in by_workspace.items():
        recounted += await _refresh_workspace(runtime, workspace_pk, ids)
    return recounted


async def recount_workspace(runtime: Runtime, workspace_pk: int) -> int:
    """Recount now every PASSIVE count of the workspace that writes may have moved (bulk loads)."""
    async with runtime.engine.connect() as conn:
        due = await stale_passive_segments(conn, runtime.clock(), 100_000)
    ids = [segment_id for pk, segment_id in due if pk == workspace_pk]
    return await _refresh_workspace(runtime, workspace_pk, ids) if ids else 0


async def _refresh_workspace(runtime: Runtime, workspace_pk: int, ids: list[str]) -> int:
    async with UnitOfWork(runtime.engine, workspace_pk) as uow:
        segments = await workspace_segments(uow, set(ids))
    now = runtime.clock()
    together: Counted = []
    alone: list[Segment] = []
    for segment_id in ids:
        segment = segments.by_id.get(segment_id)
        if segment is None or segment.kind is not SegmentKind.PASSIVE:
            continue
        try:
            condition = segments.condition(segment, now)
        except Exception:
            log.exception("segment %s does not compile; the next pass retries it", segment_id)
            continue
        if reads_other_rows(condition):
            alone.append(segment)
        else:
            together.append((segment, condition))
    recounted = 0
    for start in range(0, len(together), TOGETHER):
        chunk = together[start : start + TOGETHER]
        try:
            recounted += await _count_together(runtime, workspace_pk, chunk, now)
        except Exception:
            log.exception("counting %d segments together failed; counting them alone", len(chunk))
            alone.extend(segment for segment, _ in chunk)
    for segment in alone:
        try:
            async with UnitOfWork(runtime.engine, workspace_pk) as uow:
                await refresh_stats(uow, runtime, segment, segments)
            recounted += 1
        except Exception:
            log.exception("counting segment %s failed; the next pass retries it", segment.id)
    return recounted


Counted = list[tuple[Segment, ColumnElement[bool]]]


async def _count_together(
    runtime: Runtime, workspace_pk: int, chunk: Counted, now: datetime
) -> int:
    """Count `chunk` in one scan. Their last measured durations stay those of their last
    count alone (a shared scan says nothing of what each costs)."""
    async with UnitOfWork(runtime.engine, workspace_pk) as uow:
        async with evaluation_guard(runtime.settings.statement_timeout_ms):
            counts, total = await uow.customers.count_each([cond for _, cond in chunk])
        # In id order, as every transaction locking several segment rows takes them (an
        # activation of many): in another order, the two deadlocked.
        counted = sorted(zip(chunk, counts, strict=True), key=lambda pair: pair[0][0].id)
        for (segment, _), count in counted:
            assert segment.pk is not None
            await uow.segments.record_stats(segment.pk, count, total, now, None)
        await uow.commit()
    return len(chunk)
