"""Fetching an object of the caller's workspace by type name and key, for `node(id:)`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from api.context import Context
from domain.custom_property import CustomPropertyDef, storable_text
from domain.customer import MAX_ID_LENGTH
from domain.records import CustomerView
from domain.segment import Segment
from domain.snapshot import Instance
from persistence.unit_of_work import UnitOfWork

NodeModel = CustomerView | Segment | Instance | CustomPropertyDef

_FETCHERS: dict[str, Callable[[UnitOfWork, str], Awaitable[NodeModel | None]]] = {
    "Customer": lambda uow, key: uow.customers.get(key),
    "Segment": lambda uow, key: uow.segments.get(key),
    "SegmentInstance": lambda uow, key: uow.snapshots.get(key),
    "CustomProperty": lambda uow, key: uow.properties.get(key),
}


async def fetch(ctx: Context, type_name: str, key: str) -> NodeModel | None:
    """The object, or None when it does not exist (or never could) in this workspace."""
    fetcher = _FETCHERS.get(type_name)
    if fetcher is None or len(key) > MAX_ID_LENGTH or not storable_text(key):
        return None
    async with ctx.reading() as uow:
        return await fetcher(uow, key)
