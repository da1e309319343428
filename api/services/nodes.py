"""Fetching objects of the caller's workspace by type name and key, for `node` and `nodes`."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable, Sequence

from api.context import Context
from domain.access import Role
from domain.custom_property import CustomPropertyDef, storable_text
from domain.customer import MAX_ID_LENGTH
from domain.records import CustomerView
from domain.segment import Segment
from domain.snapshot import Instance
from domain.webhook import Endpoint
from persistence.unit_of_work import UnitOfWork
from persistence.workspaces import KeyInfo, key_pk

NodeModel = CustomerView | Segment | Instance | CustomPropertyDef | Endpoint | KeyInfo


async def _api_key(uow: UnitOfWork, key: str) -> KeyInfo | None:
    pk = key_pk(key)
    return None if pk is None else await uow.workspaces.key(uow.workspace_pk, pk)


_FETCHERS: dict[str, Callable[[UnitOfWork, str], Awaitable[NodeModel | None]]] = {
    "Customer": lambda uow, key: uow.customers.get(key),
    "Segment": lambda uow, key: uow.segments.get(key),
    "SegmentInstance": lambda uow, key: uow.snapshots.get(key),
    "CustomProperty": lambda uow, key: uow.properties.get(key),
    "WebhookEndpoint": lambda uow, key: uow.webhooks.get(key),
    "ApiKey": _api_key,
}

# Types only some roles may read, as their own list fields require (webhookEndpoints, apiKeys).
_REQUIRED_ROLE: dict[str, Role] = {"WebhookEndpoint": Role.ADMIN, "ApiKey": Role.ADMIN}


async def _properties(uow: UnitOfWork, keys: Sequence[str]) -> dict[str, NodeModel]:
    defined = await uow.properties.all()
    return {k: defined[k] for k in keys if k in defined}


def _by_id(models: Iterable[CustomerView | Segment | Instance]) -> dict[str, NodeModel]:
    return {m.id: m for m in models}


async def _customers(uow: UnitOfWork, keys: Sequence[str]) -> dict[str, NodeModel]:
    return _by_id(await uow.customers.get_many(keys))


async def _segments(uow: UnitOfWork, keys: Sequence[str]) -> dict[str, NodeModel]:
    return _by_id(await uow.segments.with_ids(set(keys)))


async def _instances(uow: UnitOfWork, keys: Sequence[str]) -> dict[str, NodeModel]:
    return _by_id(await uow.snapshots.with_ids(keys))


_BATCH_FETCHERS: dict[
    str, Callable[[UnitOfWork, Sequence[str]], Awaitable[dict[str, NodeModel]]]
] = {
    "Customer": _customers,
    "Segment": _segments,
    "SegmentInstance": _instances,
    "CustomProperty": _properties,
}
"""One read per type for all the keys `nodes(ids:)` asks of it; a type without one here
is read key by key through `_FETCHERS`."""


def _may_exist(ctx: Context, type_name: str, key: str) -> bool:
    """Whether an object of `type_name` keyed `key` could be the caller's to read."""
    return (
        type_name in _FETCHERS
        and ctx.can(_REQUIRED_ROLE.get(type_name, Role.READ))
        and len(key) <= MAX_ID_LENGTH
        and storable_text(key)
    )


async def fetch(ctx: Context, type_name: str, key: str) -> NodeModel | None:
    """The object, or None when it does not exist (or never could) in this workspace,
    or when the caller's role may not read objects of its type."""
    if not _may_exist(ctx, type_name, key):
        return None
    async with ctx.reading() as uow:
        return await _FETCHERS[type_name](uow, key)


async def fetch_many(
    ctx: Context, wanted: Sequence[tuple[str, str]]
) -> dict[tuple[str, str], NodeModel]:
    """The objects of `wanted` (type name, key) that exist here, by (type name, key).

    All in one transaction, one read per type (not one per object), so a page of
    `nodes(ids:)` costs a few statements however many ids it holds.
    """
    keys: dict[str, list[str]] = defaultdict(list)
    for type_name, key in dict.fromkeys(wanted):
        if _may_exist(ctx, type_name, key):
            keys[type_name].append(key)
    found: dict[tuple[str, str], NodeModel] = {}
    if not keys:
        return found
    async with ctx.reading() as uow:
        for type_name, of_type in keys.items():
            batch = _BATCH_FETCHERS.get(type_name)
            if batch is not None:
                models = await batch(uow, of_type)
            else:
                singles = {k: await _FETCHERS[type_name](uow, k) for k in of_type}
                models = {k: m for k, m in singles.items() if m is not None}
            found.update(((type_name, k), m) for k, m in models.items())
    return found
