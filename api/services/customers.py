"""Customer use cases: validate with the domain, store through one unit of work."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from api.context import Context
from domain.customer import check_id, validate_batch
from domain.custom_property import CustomPropertyDef, PropertyType, validate_definition
from domain.errors import DomainError, ErrorCode, ValidationFailed
from domain.records import CustomerView, Page, RecordView
from api.pagination import bad_cursor
from persistence.customers import decode_cursor

MAX_DELETE = 1000


async def upsert_customers(ctx: Context, items: Sequence[Mapping[str, Any]]) -> list[CustomerView]:
    """All or nothing: the whole batch is one transaction."""
    async with ctx.uow() as uow:
        declared = await uow.properties.all()
        changes = validate_batch(items, declared)
        ids = await uow.customers.upsert(changes, ctx.runtime.clock())
        views = {v.id: v for v in await uow.customers.get_many(ids)}
        await uow.commit()
    return [views[i] for i in ids]


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
        deleted = await uow.customers.delete(ids)
        await uow.commit()
    return deleted


async def get_customer(ctx: Context, customer_id: str) -> CustomerView | None:
    async with ctx.uow() as uow:
        return await uow.customers.get(customer_id)


async def customer_page(
    ctx: Context, first: int, after: str | None, search: str | None
) -> tuple[Page[CustomerView], Any]:
    """A page, and a function that counts the whole list only if the caller asks."""
    after_id = _after_id(after)
    async with ctx.uow() as uow:
        page = await uow.customers.page(first, after_id, search)

    async def count() -> int:
        async with ctx.uow() as uow:
            return await uow.customers.count(search)

    return page, count


def _after_id(after: str | None) -> str | None:
    if after is None:
        return None
    decoded = decode_cursor(after)
    if decoded is None:
        raise bad_cursor(after)
    return decoded


async def related_records(ctx: Context, scope: str, customer_pk: int) -> list[RecordView]:
    async with ctx.uow() as uow:
        return await uow.customers.related(scope, customer_pk)


async def order_page(
    ctx: Context, customer_pk: int, first: int, after: str | None
) -> tuple[Page[RecordView], int]:
    after_id = _after_id(after)
    async with ctx.uow() as uow:
        return await uow.customers.related_page("orders", customer_pk, first, after_id)


async def define_property(
    ctx: Context,
    key: str,
    type_name: str,
    allowed_values: Sequence[str] | None,
    indexed: bool,
    description: str | None,
) -> CustomPropertyDef:
    type_ = PropertyType(type_name)
    validate_definition(key, type_, allowed_values)
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
