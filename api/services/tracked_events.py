"""eventsTrack and a customer's event timeline."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from api.context import Context
from api.pagination import bad_cursor
from api.services import membership
from domain.errors import DomainError, ErrorCode, ValidationFailed
from domain.tracked_event import check_events
from persistence.tracked_events import StoredEvent, decode_event_cursor, encode_event_cursor


async def track(ctx: Context, items: Sequence[Mapping[str, Any]]) -> int:
    """All or nothing; an event id sent again is stored once. Returns the events accepted."""
    events = check_events(items, ctx.runtime.clock())
    async with ctx.uow() as uow:
        wanted = {e.customer_id for e in events}
        pks = await uow.customers.pk_map(wanted)
        missing = [
            DomainError(
                ErrorCode.NOT_FOUND,
                f"There is no customer {e.customer_id!r}.",
                ("events", str(i), "customerId"),
            )
            for i, e in enumerate(events)
            if e.customer_id not in pks
        ]
        if missing:
            raise ValidationFailed(missing)
        await uow.events.add(events, pks)
        await membership.after_customer_write(uow, list(pks.values()), ctx.runtime.clock)
        await uow.commit()
    return len(events)


async def event_page(
    ctx: Context, customer_pk: int, first: int, after: str | None, name: str | None
) -> tuple[list[StoredEvent], list[str], bool, int]:
    position = None
    if after is not None:
        position = decode_event_cursor(after)
        if position is None:
            raise bad_cursor(after)
    async with ctx.uow() as uow:
        events, more = await uow.events.page(customer_pk, first, position, name)
        total = await uow.events.count(customer_pk, name)
    return events, [encode_event_cursor(e.occurred_at, e.pk) for e in events], more, total


async def event_names(ctx: Context) -> list[str]:
    async with ctx.uow() as uow:
        return await uow.events.names()
