"""Customer use cases: validate with the domain, store through one unit of work."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from api.context import Context
from api.pagination import bad_cursor
from api.services import membership
from api.services.batching import request_loader
from api.services.definitions import current_segments
from domain.custom_property import CustomPropertyDef, PropertyType, validate_definition
from domain.customer import CustomerChange, check_id, validate_batch
from domain.errors import DomainError, ErrorCode, ValidationFailed
from domain.records import CustomerView, Page, RecordView
from persistence.changes import HAS_CHILD, add
from persistence.cursors import Slice
from persistence.customer_staging import StagedChunk
from persistence.customers import UpsertOutcome, decode_cursor
from persistence.unit_of_work import UnitOfWork

MAX_DELETE = 1000


async def upsert_customers(ctx: Context, items: Sequence[Mapping[str, Any]]) -> list[CustomerView]:
    """All or nothing: the whole batch is one transaction. The declarations the values are
    checked against are the process's, as new as the caller's definitions version."""
    async with ctx.uow() as uow:
        declared = (await current_segments(ctx, uow)).catalog.declared
        changes = validate_batch(items, declared)
        outcome = await write_changes(uow, changes, ctx.runtime.clock)
        views = {v.id: v for v in await uow.customers.get_many(outcome.ids)}
        await uow.commit()
    forget_total(ctx)
    return [views[i] for i in outcome.ids]


async def write_changes(
    uow: UnitOfWork,
    changes: Sequence[CustomerChange],
    clock: Callable[[], datetime],
) -> UpsertOutcome:
    """Store validated changes and keep ACTIVE segments live, inside the caller's transaction."""

    async def store(now: datetime) -> UpsertOutcome:
        return await uow.customers.upsert(changes, now)

    return await _keeping_segments_live(uow, store, clock)


async def write_staged(
    uow: UnitOfWork, chunk: StagedChunk, clock: Callable[[], datetime]
) -> UpsertOutcome:
    """`write_changes` for an import's chunk: COPYed and merged set-based, unchanged
    customers skipped, ACTIVE segments kept live in the caller's transaction."""

    async def store(now: datetime) -> UpsertOutcome:
        return await chunk.merge(uow.conn, uow.workspace_pk, now)

    return await _keeping_segments_live(uow, store, clock)


async def _keeping_segments_live(
    uow: UnitOfWork,
    store: Callable[[datetime], Awaitable[UpsertOutcome]],
    clock: Callable[[], datetime],
) -> UpsertOutcome:
    """Enter the write gate, store, then re-evaluate the written customers and the parents
    whose hasChild may have moved against the ACTIVE segments (events recorded here)."""
    await membership.begin_write(uow)  # before any customer row is locked
    outcome = await store(clock())
    changes = dict(outcome.changes)
    for parent in await uow.customers.pks_of(outcome.parent_ids):
        add(changes, parent, HAS_CHILD)
    await membership.after_customer_write(uow, changes, clock, outcome.held)
    return outcome


async def delete_customers(ctx: Context, ids: Sequence[str]) -> list[str]:
    if not 1 <= len(ids) <= MAX_DELETE:
        raise DomainError(
            ErrorCode.TOO_MANY if ids else ErrorCode.TOO_FEW,
            f"Send between 1 and {MAX_DELETE} ids per call (got {len(ids)}).",
            ("ids",),
        )
    errors = []
    for index, raw in enumerate(ids):
        try:
            check_id(raw, ("ids", str(index)))
        except DomainError as err:
            errors.append(err)
    if errors:
        raise ValidationFailed(errors)
    async with ctx.uow() as uow:
        deleted = await delete_ids(uow, ids, ctx.runtime.clock)
        await uow.commit()
    forget_total(ctx)
    return deleted


async def delete_ids(
    uow: UnitOfWork, ids: Sequence[str], clock: Callable[[], datetime]
) -> list[str]:
    """Delete these customers with their LEFT events, inside the caller's transaction."""
    locked = await membership.lock_for_delete(uow, ids)  # only these are deleted
    doomed = list(locked.values())
    parents = await uow.customers.parents_of(doomed)
    await membership.before_customer_delete(uow, doomed, clock)
    deleted = await uow.customers.delete(sorted(locked), clock())
    remaining_parents = await uow.customers.pks_of(parents)
    await membership.after_customer_write(uow, dict.fromkeys(remaining_parents, HAS_CHILD), clock)
    return deleted


def forget_total(ctx: Context) -> None:
    """This process's cached customer count of the workspace is stale after a write."""
    ctx.runtime.extras.get("totals", {}).pop(ctx.workspace_pk, None)


async def get_customer(ctx: Context, customer_id: str) -> CustomerView | None:
    """Batched: the lookups of one tick (the customers of a page of events) share a query."""

    async def load(ids: Sequence[str]) -> list[CustomerView | None]:
        async with ctx.reading() as uow:
            found = {v.id: v for v in await uow.customers.get_many(sorted(set(ids)))}
        return [found.get(i) for i in ids]

    view: CustomerView | None = await request_loader(ctx, "customer", load).load(customer_id)
    return view


async def customer_page(
    ctx: Context, window: Slice[str], search: str | None
) -> tuple[Page[CustomerView], Any]:
    """A page, and a function that counts the whole list only if the caller asks."""
    async with ctx.reading() as uow:
        page = await uow.customers.page(window, search)

    async def count() -> int:
        async with ctx.reading() as uow:
            return await uow.customers.count(search)

    return page, count


def decode_after(after: str | None) -> str | None:
    if after is None:
        return None
    decoded = decode_cursor(after)
    if decoded is None:
        raise bad_cursor(after)
    return decoded


async def related_records(ctx: Context, scope: str, customer_pk: int) -> list[RecordView]:
    """Batched: every customer asking for `scope` in the same tick shares one query."""

    async def load(pks: Sequence[int]) -> list[list[RecordView]]:
        async with ctx.reading() as uow:
            found = await uow.customers.related_many(scope, sorted(set(pks)))
        return [found.get(pk, []) for pk in pks]

    loader = request_loader(ctx, f"related:{scope}", load)
    records: list[RecordView] = await loader.load(customer_pk)
    return records


OrderPageKey = tuple[int, int, str | None]  # customer pk, first, after id


async def order_page(
    ctx: Context, customer_pk: int, first: int, after: str | None
) -> tuple[Page[RecordView], int]:
    """Batched like `related_records`: one query per distinct (first, after) in a tick."""

    async def load(keys: Sequence[OrderPageKey]) -> list[tuple[Page[RecordView], int]]:
        groups: dict[tuple[int, str | None], set[int]] = {}
        for pk, size, after_id in keys:
            groups.setdefault((size, after_id), set()).add(pk)
        pages: dict[OrderPageKey, tuple[Page[RecordView], int]] = {}
        async with ctx.reading() as uow:
            for (size, after_id), pks in groups.items():
                found = await uow.customers.related_pages("orders", sorted(pks), size, after_id)
                pages.update({(pk, size, after_id): page for pk, page in found.items()})
        return [pages[key] for key in keys]

    key: OrderPageKey = (customer_pk, first, decode_after(after))
    page: tuple[Page[RecordView], int] = await request_loader(ctx, "orders", load).load(key)
    return page


async def define_property(
    ctx: Context,
    key: str,
    type_name: str,
    allowed_values: Sequence[str] | None,
    indexed: bool,
    description: str | None,
) -> CustomPropertyDef:
    type_ = PropertyType(type_name)
    try:
        validate_definition(key, type_, allowed_values)
    except DomainError as err:
        raise err.at("input") from err  # the domain's paths are relative to the input object
    async with ctx.uow() as uow:
        existing = await uow.properties.get(key)
        if existing is not None and existing.type is not type_:
            raise DomainError(
                ErrorCode.PROPERTY_TYPE_CHANGE,
                f"Property {key!r} is declared as {existing.type.value}; its type cannot change.",
                ("input", "type"),
            )
        definition = CustomPropertyDef(
            key=key,
            type=type_,
            allowed_values=tuple(allowed_values) if allowed_values else None,
            indexed=indexed or (existing.indexed if existing else False),
            description=description,
        )
        await uow.properties.save(definition)
        await uow.commit()
    return definition
