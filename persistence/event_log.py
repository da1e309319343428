"""Reading and pruning the membership event log (written by persistence.membership)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from domain.records import Page
from persistence.cursors import Slice
from persistence.tables import SegmentEvent, Workspace

event_table = SegmentEvent.__table__  # type: ignore[attr-defined]
workspace_table = Workspace.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class LoggedEvent:
    seq: int
    kind: str
    segment_id: str
    customer_id: str
    occurred_at: datetime


def _event(row: object) -> LoggedEvent:
    m = row._mapping  # type: ignore[attr-defined]
    return LoggedEvent(m["seq"], m["kind"], m["segment_id"], m["customer_id"], m["occurred_at"])


async def events_after(
    conn: AsyncConnection,
    workspace_pk: int,
    after_seq: int,
    limit: int,
    segment_id: str | None = None,
) -> list[LoggedEvent]:
    """Oldest first, strictly after `after_seq`."""
    conditions = [event_table.c.workspace_pk == workspace_pk, event_table.c.seq > after_seq]
    if segment_id is not None:
        conditions.append(event_table.c.segment_id == segment_id)
    rows = await conn.execute(
        select(event_table).where(*conditions).order_by(event_table.c.seq).limit(limit)
    )
    return [_event(r) for r in rows]


async def event_page(
    conn: AsyncConnection, workspace_pk: int, window: Slice[int], segment_id: str | None = None
) -> Page[LoggedEvent]:
    """Oldest first, a page either way (`window`); cursors are the event ids."""
    conditions = [event_table.c.workspace_pk == workspace_pk]
    conditions += window.conditions(event_table.c.seq)
    if segment_id is not None:
        conditions.append(event_table.c.segment_id == segment_id)
    query = (
        select(event_table)
        .where(*conditions)
        .order_by(window.order(event_table.c.seq))
        .limit(window.limit)
    )
    rows, has_next, has_previous = window.cut(list(await conn.execute(query)))
    events = [_event(r) for r in rows]
    return Page(events, has_next, [str(e.seq) for e in events], has_previous)


async def count_events(
    conn: AsyncConnection, workspace_pk: int, segment_id: str | None = None
) -> int:
    conditions = [event_table.c.workspace_pk == workspace_pk]
    if segment_id is not None:
        conditions.append(event_table.c.segment_id == segment_id)
    result = await conn.execute(select(func.count()).select_from(event_table).where(*conditions))
    return int(result.scalar_one())


async def last_seq(conn: AsyncConnection, workspace_pk: int) -> int:
    result = await conn.execute(
        select(func.coalesce(func.max(event_table.c.seq), 0)).where(
            event_table.c.workspace_pk == workspace_pk
        )
    )
    return int(result.scalar_one())


async def log_head_total(conn: AsyncConnection) -> int:
    """Every event id handed out so far, summed over workspaces: the log's head, for metrics."""
    result = await conn.execute(select(func.coalesce(func.sum(workspace_table.c.event_seq), 0)))
    return int(result.scalar_one())


async def log_bounds(conn: AsyncConnection, workspace_pk: int) -> tuple[int, int | None]:
    """(the last id ever given out, the oldest id still kept or None).

    Ids are handed out one by one with no gaps, so every id from the oldest kept
    one to the last exists; anything before the oldest was pruned.
    """
    head = await conn.execute(
        select(workspace_table.c.event_seq).where(workspace_table.c.pk == workspace_pk)
    )
    oldest = await conn.execute(
        select(func.min(event_table.c.seq)).where(event_table.c.workspace_pk == workspace_pk)
    )
    found = oldest.scalar_one()
    return int(head.scalar_one() or 0), None if found is None else int(found)


async def prune(engine: AsyncEngine, older_than: datetime, batch: int = 10_000) -> int:
    """Delete events past retention, a batch at a time so no transaction runs long."""
    removed = 0
    while True:
        async with engine.begin() as conn:
            doomed = (
                select(event_table.c.workspace_pk, event_table.c.seq)
                .where(event_table.c.occurred_at < older_than)
                .limit(batch)
                .subquery()
            )
            result = await conn.execute(
                delete(event_table).where(
                    event_table.c.workspace_pk == doomed.c.workspace_pk,
                    event_table.c.seq == doomed.c.seq,
                )
            )
        removed += int(result.rowcount or 0)
        if (result.rowcount or 0) < batch:
            return removed
