"""eventsTrack and a customer's event timeline."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from api.context import Context
from api.pagination import bad_cursor
from api.runtime import Runtime
from api.services import membership
from api.services.batching import request_loader
from domain.errors import DomainError, ErrorCode, ValidationFailed
from domain.footprint import Footprint
from domain.tracked_event import MAX_BATCH, EventChange, check_events
from persistence.tracked_events import (
    StoredEvent,
    decode_event_cursor,
    encode_event_cursor,
    workspaces_with_events_before,
)
from persistence.unit_of_work import UnitOfWork


async def track(ctx: Context, items: Sequence[Mapping[str, Any]]) -> int:
    """All or nothing; an event id sent again is stored once. Returns the events accepted.

    Every problem is reported at once, unknown customers included, so that a
    client can fix a whole batch in one round trip.
    """
    invalid: list[DomainError] = []
    events: list[EventChange] = []
    try:
        events = check_events(items, ctx.runtime.clock())
    except ValidationFailed as failed:
        if not 1 <= len(items) <= MAX_BATCH:
            raise
        invalid = failed.errors
    bad_ids = {e.field[:2] for e in invalid if e.field[-1:] == ("customerId",)}
    wanted = {
        i: str(item["customerId"])
        for i, item in enumerate(items)
        if ("events", str(i)) not in bad_ids
    }
    async with ctx.uow() as uow:
        pks = await uow.customers.pk_map(set(wanted.values()))
        missing = [
            DomainError(
                ErrorCode.NOT_FOUND,
                f"There is no customer {customer_id!r}.",
                ("events", str(i), "customerId"),
            )
            for i, customer_id in wanted.items()
            if customer_id not in pks
        ]
        if missing or invalid:
            raise ValidationFailed(sorted([*missing, *invalid], key=lambda e: int(e.field[1])))
        await uow.events.add(events, pks)
        await membership.after_customer_write(uow, tracked(events, pks), ctx.runtime.clock)
        await uow.commit()
    return len(events)


def tracked(events: Sequence[EventChange], pks: Mapping[str, int]) -> dict[int, Footprint]:
    """What tracking `events` changes: each customer's events of those names."""
    names: dict[int, set[str]] = {}
    for event in events:
        names.setdefault(pks[event.customer_id], set()).add(event.name)
    return {pk: Footprint(event_names=frozenset(found)) for pk, found in names.items()}


EventPageKey = tuple[int, int, tuple[datetime, int] | None, str | None]  # pk, first, after, name


async def event_page(
    ctx: Context, customer_pk: int, first: int, after: str | None, name: str | None
) -> tuple[list[StoredEvent], list[str], bool, int]:
    """A customer's events, newest first, and how many it has; the customers of one
    level (a page of customers asking for their events) share two statements."""
    position = None
    if after is not None:
        position = decode_event_cursor(after)
        if position is None:
            raise bad_cursor(after)

    async def load(keys: Sequence[EventPageKey]) -> list[tuple[list[StoredEvent], bool, int]]:
        groups: dict[tuple[int, tuple[datetime, int] | None, str | None], set[int]] = {}
        for pk, size, at, term in keys:
            groups.setdefault((size, at, term), set()).add(pk)
        found: dict[EventPageKey, tuple[list[StoredEvent], bool, int]] = {}
        async with ctx.reading() as uow:
            for (size, at, term), pks in groups.items():
                ordered = sorted(pks)
                pages = await uow.events.pages_each(ordered, size, at, term)
                totals = await uow.events.counts_each(ordered, term)
                for pk in ordered:
                    found[(pk, size, at, term)] = (*pages[pk], totals[pk])
        return [found[key] for key in keys]

    key: EventPageKey = (customer_pk, first, position, name)
    loaded: tuple[list[StoredEvent], bool, int] = await request_loader(ctx, "events", load).load(
        key
    )
    events, more, total = loaded
    return events, [encode_event_cursor(e.occurred_at, e.pk) for e in events], more, total


async def event_names(ctx: Context) -> list[str]:
    async with ctx.uow() as uow:
        return await uow.events.names()


async def prune(runtime: Runtime, older_than: datetime, batch: int = 10_000) -> int:
    """Retention: delete events older than `older_than`, a batch per transaction.

    Each batch re-evaluates its customers' ACTIVE segments before it commits: a
    pruned event no longer counts, so "ever signed up" must let go (with a LEFT
    event) exactly as a live evaluation would.
    """
    removed = 0
    for workspace_pk in await workspaces_with_events_before(runtime.engine, older_than):
        while True:
            async with UnitOfWork(runtime.engine, workspace_pk) as uow:
                customer_pks = await uow.events.prune(older_than, batch)
                pruned = dict.fromkeys(customer_pks, Footprint(every_event=True))
                await membership.after_customer_write(uow, pruned, runtime.clock)
                await uow.commit()
            removed += len(customer_pks)
            if len(customer_pks) < batch:
                break
    return removed
