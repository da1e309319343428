"""Impact of an unsaved edit: who would leave a segment, who would enter it.

Both sides are evaluated live at one instant, with the same compiled conditions
as every other read: leaving is "a member now AND NOT matching the edit",
entering the other way round. Compiled nodes are two-valued, so NOT is exact.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, and_, not_, or_

from api.context import Context
from api.services.definitions import current_segments, known_segment
from api.services.predicates import Loader, select_customers
from domain.records import CustomerView, Page
from persistence.cursors import Slice
from persistence.evaluation import evaluation_guard


@dataclass
class Side:
    """One side of an impact (leaving or entering): its condition, read page by page."""

    condition: ColumnElement[bool]
    count: Loader  # without search, counted once however often it is asked for


@dataclass
class Impact:
    leaving: Side
    entering: Side
    columns: list[str]
    now: datetime


async def impact(ctx: Context, segment_id: str, raw: object) -> Impact:
    """What saving `raw` as segment `segment_id`'s predicate would change, now.

    Raises DomainError (unknown segment, a segment whose predicate cannot change)
    or ValidationFailed (the predicate, paths under `predicate`).
    """
    now = ctx.runtime.clock()
    async with ctx.reading() as uow:
        known = await current_segments(ctx, uow)
        segment = known_segment(known, segment_id)
        segment.ensure_predicate_editable()
        selection = await select_customers(uow, raw, now, saving=segment_id, known=known)
        current = known.condition(segment, now)
    leaving = and_(current, not_(selection.condition))
    entering = and_(selection.condition, not_(current))
    both = memo_pair(lambda: count_sides(ctx, leaving, entering, or_(current, selection.condition)))
    return Impact(
        Side(leaving, lambda: both(0)),
        Side(entering, lambda: both(1)),
        selection.columns,
        now,
    )


def memo_pair(load: Callable[[], Awaitable[tuple[int, int]]]) -> Callable[[int], Awaitable[int]]:
    """Both sides' counts, loaded once however many fields ask for either, at once or not."""
    started: list[asyncio.Future[tuple[int, int]]] = []

    async def side(index: int) -> int:
        if not started:
            started.append(asyncio.ensure_future(load()))
        return (await started[0])[index]

    return side


async def count_sides(
    ctx: Context,
    leaving: ColumnElement[bool],
    entering: ColumnElement[bool],
    either: ColumnElement[bool],
) -> tuple[int, int]:
    """Leaving and entering counted in one statement, over the customers in either version
    (members now, or matching the edit), so the indexes of both narrow the one scan."""
    async with ctx.reading() as uow, evaluation_guard(ctx.runtime.settings.statement_timeout_ms):
        (out, into), _ = await uow.customers.count_each([leaving, entering], within=either)
    return out, into


async def side_page(
    ctx: Context, condition: ColumnElement[bool], window: Slice[str], search: str | None
) -> Page[CustomerView]:
    async with ctx.reading() as uow, evaluation_guard(ctx.runtime.settings.statement_timeout_ms):
        return await uow.customers.page(window, search, condition)


async def count_side(ctx: Context, condition: ColumnElement[bool], search: str | None) -> int:
    async with ctx.reading() as uow, evaluation_guard(ctx.runtime.settings.statement_timeout_ms):
        return await uow.customers.count(search, condition)
