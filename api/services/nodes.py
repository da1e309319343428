"""Fetching an object of the caller's workspace by type name and key, for `node(id:)`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

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


async def fetch(ctx: Context, type_name: str, key: str) -> NodeModel | None:
    """The object, or None when it does not exist (or never could) in this workspace,
    or when the caller's role may not read objects of its type."""
    fetcher = _FETCHERS.get(type_name)
    if not ctx.can(_REQUIRED_ROLE.get(type_name, Role.READ)):
        return None
    if fetcher is None or len(key) > MAX_ID_LENGTH or not storable_text(key):
        return None
    async with ctx.reading() as uow:
        return await fetcher(uow, key)
