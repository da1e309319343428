"""A reference dataset (tests/reference.py's shape) put into a workspace; who matches there.

Customers, their properties and related records go in through `customersUpsert`
over HTTP; tracked events, which have no mutation yet, are inserted with
SQLAlchemy Core. Membership comes back either through `segmentPreview` over
HTTP (every page) or straight from the compiled condition through the engine.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select, text

from api.runtime import Runtime
from domain.custom_property import CustomPropertyDef, PropertyType
from domain.fields import FieldCatalog
from domain.predicate import Node, Scope
from persistence.evaluation import membership_condition
from persistence.field_map import customer_table
from persistence.tables import Event
from tests.conftest import Workspace
from tests.reference import SCOPE_KEYS, Record

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
"""The evaluation instant the tests inject: `now` in relative times."""
INGESTED = datetime(2026, 2, 15, tzinfo=UTC)
"""The instant the data is written at: updatedAt, and createdAt when not given."""

PROPERTY_DEFS = (
    CustomPropertyDef("plan", PropertyType.STRING),
    CustomPropertyDef("tier", PropertyType.STRING, allowed_values=("GOLD", "SILVER", "BRONZE")),
    CustomPropertyDef("score", PropertyType.NUMBER),
    CustomPropertyDef("vip", PropertyType.BOOLEAN),
    CustomPropertyDef("renewal", PropertyType.DATETIME),
)
CATALOG = FieldCatalog.for_workspace(PROPERTY_DEFS)

DEFINE = """
mutation Define($input: CustomPropertyInput!) {
  customPropertyDefine(input: $input) { userErrors { field message code } }
}
"""
UPSERT = """
mutation Upsert($customers: [CustomerInput!]!) {
  customersUpsert(customers: $customers) {
    customers { id }
    userErrors { field message code }
  }
}
"""
PREVIEW = """
query Preview($predicate: JSON!, $first: Int, $after: String) {
  segmentPreview(predicate: $predicate, first: $first, after: $after) {
    userErrors { field message code }
    totalCount
    members { edges { node { id } } pageInfo { hasNextPage endCursor } }
  }
}
"""
FILTER = """
query Filter($where: JSON, $first: Int, $after: String) {
  customers(where: $where, first: $first, after: $after) {
    edges { node { id } }
    pageInfo { hasNextPage endCursor }
  }
}
"""
EVENTS = SCOPE_KEYS[Scope.EVENTS]
CUSTOMER_INPUT_FIELDS = (
    *("externalId", "email", "name", "country", "currency", "language", "city", "source"),
    *("invoicingEntity", "paymentMethodType", "taxId", "parentId", "createdAt"),
)


@contextlib.contextmanager
def clock_at(runtime: Runtime, moment: datetime) -> Iterator[None]:
    """Every request served meanwhile sees `moment` as the current instant."""
    saved = runtime.clock
    runtime.clock = lambda: moment
    try:
        yield
    finally:
        runtime.clock = saved


def stored(customers: Sequence[Record]) -> list[Record]:
    """The reference customers as ingest() leaves them: createdAt defaulted, updatedAt set."""
    return [{"createdAt": INGESTED, **c, "updatedAt": INGESTED} for c in customers]


# --- writing ------------------------------------------------------------------


def _json(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    return value


def customer_input(customer: Record) -> dict[str, Any]:
    """The CustomerInput for a reference customer: keys it lacks are not sent at all."""
    body: dict[str, Any] = {"id": customer["id"]}
    for name in CUSTOMER_INPUT_FIELDS:
        if name in customer:
            body[name] = _json(customer[name])
    if customer.get("properties"):
        body["properties"] = customer["properties"]
    for scope in ("subscriptions", "invoices", "orders", "wallets", "verifications"):
        records = customer.get(scope)
        if records:
            body[scope] = [{k: _json(v) for k, v in record.items()} for record in records]
    return body


async def ingest(
    ws: Workspace,
    runtime: Runtime,
    customers: Sequence[Record],
    properties: Sequence[CustomPropertyDef] = PROPERTY_DEFS,
) -> None:
    """Declare `properties`, upsert `customers` at INGESTED, then store their events."""
    for defn in properties:
        declared: dict[str, Any] = {"key": defn.key, "type": defn.type.value}
        if defn.allowed_values is not None:
            declared["allowedValues"] = list(defn.allowed_values)
        result = await ws.gql(DEFINE, {"input": declared})
        assert result.data["customPropertyDefine"]["userErrors"] == [], result.body
    with clock_at(runtime, INGESTED):
        result = await ws.gql(UPSERT, {"customers": [customer_input(c) for c in customers]})
    payload = result.data["customersUpsert"]
    assert payload["userErrors"] == [], payload["userErrors"]
    await insert_events(runtime, ws, customers)


async def workspace_pk(runtime: Runtime, ws: Workspace) -> int:
    async with runtime.engine.connect() as conn:
        found = await conn.execute(text("SELECT pk FROM workspace WHERE name = :n"), {"n": ws.name})
        return int(found.scalar_one())


async def insert_events(runtime: Runtime, ws: Workspace, customers: Sequence[Record]) -> None:
    """Each customer's `events`, in list order (the order `last` breaks id-less ties by)."""
    pending = [c for c in customers if c.get(EVENTS)]
    if not pending:
        return
    wpk = await workspace_pk(runtime, ws)
    table = Event.__table__  # type: ignore[attr-defined]
    async with runtime.engine.begin() as conn:
        rows = await conn.execute(
            select(customer_table.c.id, customer_table.c.pk).where(
                customer_table.c.workspace_pk == wpk
            )
        )
        pks = {row.id: row.pk for row in rows}
        for customer in pending:
            for event in customer[EVENTS]:
                await conn.execute(
                    table.insert().values(
                        workspace_pk=wpk,
                        customer_pk=pks[customer["id"]],
                        id=event.get("id"),
                        name=event["name"],
                        occurred_at=event["occurredAt"],
                        properties=event.get("properties") or {},
                    )
                )


# --- reading ------------------------------------------------------------------


@dataclass
class Preview:
    ids: set[str] | None
    total: int | None
    errors: list[dict[str, Any]]


async def preview(ws: Workspace, predicate: object, first: int = 1000) -> Preview:
    """segmentPreview over HTTP, every page of members."""
    ids: list[str] = []
    after: str | None = None
    while True:
        variables = {"predicate": predicate, "first": first, "after": after}
        body = (await ws.gql(PREVIEW, variables)).data["segmentPreview"]
        if body["userErrors"]:
            assert body["members"] is None and body["totalCount"] is None, body
            return Preview(None, None, body["userErrors"])
        ids.extend(edge["node"]["id"] for edge in body["members"]["edges"])
        info = body["members"]["pageInfo"]
        if not info["hasNextPage"]:
            break
        after = info["endCursor"]
    assert len(ids) == len(set(ids)), ids
    assert body["totalCount"] == len(ids), (body["totalCount"], ids)
    return Preview(set(ids), body["totalCount"], [])


async def preview_ids(ws: Workspace, predicate: object) -> set[str]:
    result = await preview(ws, predicate)
    assert result.ids is not None, result.errors
    return result.ids


async def filter_ids(ws: Workspace, where: object) -> set[str]:
    """customers(where:) over HTTP, every page."""
    ids: set[str] = set()
    after: str | None = None
    while True:
        body = (await ws.gql(FILTER, {"where": where, "first": 1000, "after": after})).data
        page = body["customers"]
        ids.update(edge["node"]["id"] for edge in page["edges"])
        if not page["pageInfo"]["hasNextPage"]:
            return ids
        after = page["pageInfo"]["endCursor"]


async def sql_ids(
    runtime: Runtime, wpk: int, node: Node, now: datetime, catalog: FieldCatalog = CATALOG
) -> set[str]:
    """The compiled condition run straight through the engine, no HTTP."""
    condition = membership_condition(node, catalog, now)
    query = select(customer_table.c.id).where(customer_table.c.workspace_pk == wpk, condition)
    async with runtime.engine.connect() as conn:
        return {row.id for row in await conn.execute(query)}
