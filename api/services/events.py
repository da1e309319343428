"""The event log as the API reads it: pages, and live streams."""

from __future__ import annotations

from collections.abc import AsyncIterator

from api.context import Context
from api.live import CursorPruned, hub_of
from domain.errors import DomainError, ErrorCode, segment_not_found
from domain.records import Page
from persistence.cursors import Slice
from persistence.event_log import LoggedEvent, count_events, log_bounds
from persistence.event_log import event_page as read_page


def parse_event_id(raw: str | None, path: str = "after") -> int | None:
    if raw is None:
        return None
    if not raw.isdigit() or len(raw) > 18:
        raise DomainError(ErrorCode.INVALID, f"{raw[:40]!r} is not an event id.", (path,))
    return int(raw)


async def _check_segment(ctx: Context, segment_id: str | None) -> None:
    if segment_id is None:
        return
    async with ctx.primary_reading() as uow:
        if await uow.segments.get(segment_id) is None:
            raise segment_not_found(segment_id, "segmentId")


async def event_page(
    ctx: Context, segment_id: str | None, pages: Slice[str]
) -> tuple[Page[LoggedEvent], int]:
    """`pages` holds the event ids as sent; one that is not an event id is refused."""
    by_seq = Slice(
        pages.size,
        parse_event_id(pages.after),
        parse_event_id(pages.before, "before"),
        pages.backward,
    )
    await _check_segment(ctx, segment_id)
    async with ctx.runtime.engine.connect() as conn:
        page = await read_page(conn, ctx.workspace_pk, by_seq, segment_id)
        total = await count_events(conn, ctx.workspace_pk, segment_id)
    return page, total


async def _check_resumable(ctx: Context, position: int) -> None:
    """A resume must start inside the kept log: not in the future, not before retention."""
    async with ctx.runtime.reader.connect() as conn:
        head, oldest = await log_bounds(conn, ctx.workspace_pk)
    if position > head:
        raise DomainError(
            ErrorCode.INVALID,
            f"There is no event {position} in this workspace yet (the newest is {head}).",
            ("after",),
        )
    if position < head and (oldest is None or position < oldest - 1):
        raise CursorPruned(position, oldest if oldest is not None else head + 1)


async def event_stream(
    ctx: Context, segment_id: str | None, after: str | None
) -> AsyncIterator[LoggedEvent]:
    position = parse_event_id(after)
    await _check_segment(ctx, segment_id)
    if position is not None:
        await _check_resumable(ctx, position)
    async for event in hub_of(ctx.runtime).stream(ctx.workspace_pk, segment_id, position):
        yield event
