"""The Customer type and its related records, built from read models."""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from strawberry.scalars import JSON
from strawberry.types.base import get_object_definition
from strawberry.types.nodes import SelectedField
from strawberry.utils.str_converters import to_camel_case

from api.context import Info
from api.errors import request_error
from api.pagination import PageInfo, edges_of, page_info, page_info_of, page_size
from api.services.customers import order_page, related_records
from api.services.predicates import customer_value
from api.services.segment_reads import segments_of_customer
from api.services.tracked_events import event_page
from api.types.node import Node
from api.types.tracked_event import CustomerEvent, CustomerEventConnection, CustomerEventEdge
from domain.errors import DomainError
from domain.records import CustomerView, Page, RecordView

if TYPE_CHECKING:
    from api.types.segment import Segment


def _num(value: Any) -> float | None:
    return None if value is None else float(value)


@strawberry.type(name="CustomerSubscription", description="A billing subscription of a customer.")
class CustomerSubscription:
    id: strawberry.ID
    status: str | None
    plan_id: str | None
    amount: float | None
    currency: str | None
    started_at: datetime | None
    trial_ends_at: datetime | None
    current_period_ends_at: datetime | None
    canceled_at: datetime | None


@strawberry.type(description="An invoice issued to a customer.")
class Invoice:
    id: strawberry.ID
    status: str | None
    total: float | None
    currency: str | None
    issued_at: datetime | None
    due_at: datetime | None
    paid_at: datetime | None


@strawberry.type(description="An order placed by a customer.")
class Order:
    id: strawberry.ID
    status: str | None
    amount: float | None
    currency: str | None
    placed_at: datetime | None


@strawberry.type(description="A stored-value wallet of a customer.")
class Wallet:
    id: strawberry.ID
    currency: str | None
    balance: float | None


@strawberry.type(description="An identity verification of a customer.")
class Verification:
    id: strawberry.ID
    kind: str | None
    status: str | None
    verified_at: datetime | None


RECORD_TYPES: dict[str, type] = {
    "subscriptions": CustomerSubscription,
    "invoices": Invoice,
    "orders": Order,
    "wallets": Wallet,
    "verifications": Verification,
}
MONEY = {"amount", "total", "balance"}


def record_from_view(view: RecordView) -> Any:
    cls = RECORD_TYPES[view.scope]
    values = {k: (_num(v) if k in MONEY else v) for k, v in view.values.items()}
    return cls(id=strawberry.ID(view.id), **values)


@strawberry.type(description="An order in a connection.")
class OrderEdge:
    cursor: str
    node: Order


@strawberry.type(description="A page of a customer's orders.")
class OrderConnection:
    edges: list[OrderEdge]
    page_info: PageInfo
    total_count: int


RelatedLoader = Callable[[str, int], Awaitable[list[RecordView]]]


@strawberry.type(
    description="A customer of the workspace, identified by the id the client gave it."
)
class Customer(Node):
    view: strawberry.Private[CustomerView]
    id: strawberry.ID
    external_id: str | None
    email: str | None
    name: str | None
    country: str | None = strawberry.field(description="ISO 3166-1 alpha-2.")
    currency: str | None = strawberry.field(description="ISO 4217.")
    language: str | None = strawberry.field(description="ISO 639-1.")
    city: str | None
    source: str | None
    invoicing_entity: str | None
    payment_method_type: str | None = strawberry.field(
        description="CARD, DIRECT_DEBIT, BANK_TRANSFER, WALLET or OTHER."
    )
    tax_id: str | None
    parent_id: strawberry.ID | None
    has_parent: bool = strawberry.field(description="parentId is set.")
    has_child: bool = strawberry.field(description="Another customer names this one as parent.")
    properties: JSON = strawberry.field(description="Declared custom properties, by key.")
    orders_count: int = strawberry.field(
        description="Orders not CANCELED or REFUNDED (derived from orders on every write)."
    )
    total_spent: float = strawberry.field(description="Sum of those orders' amounts.")
    last_order_at: datetime | None
    first_order_at: datetime | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_domain(cls, view: CustomerView) -> Customer:
        return cls(
            view=view,
            id=strawberry.ID(view.id),
            external_id=view.external_id,
            email=view.email,
            name=view.name,
            country=view.country,
            currency=view.currency,
            language=view.language,
            city=view.city,
            source=view.source,
            invoicing_entity=view.invoicing_entity,
            payment_method_type=view.payment_method_type,
            tax_id=view.tax_id,
            parent_id=strawberry.ID(view.parent_id) if view.parent_id else None,
            has_parent=view.has_parent,
            has_child=view.has_child,
            properties=view.properties,
            orders_count=view.orders_count,
            total_spent=_num(view.total_spent),  # type: ignore[arg-type]  # None: not read
            last_order_at=view.last_order_at,
            first_order_at=view.first_order_at,
            created_at=view.created_at,
            updated_at=view.updated_at,
        )

    def node_key(self) -> str:
        return self.view.id

    async def _records(self, info: Info, scope: str) -> list[Any]:
        views = await related_records(info.context, scope, self.view.pk)
        return [record_from_view(v) for v in views]

    @strawberry.field(
        description="Any predicate field path's value (e.g. properties.plan), for adaptive columns."
    )
    async def value(self, info: Info, field: str) -> JSON | None:
        try:
            return await customer_value(info.context, self.view, field)
        except DomainError as exc:
            raise request_error(exc) from exc

    @strawberry.field(description="The segments this customer is in now (evaluated live).")
    async def segments(
        self, info: Info
    ) -> list[Annotated[Segment, strawberry.lazy("api.types.segment")]]:
        from api.types.segment import Segment as SegmentType

        models = await segments_of_customer(info.context, self.view)
        return [SegmentType.from_domain(m) for m in models]

    @strawberry.field(description="Tracked events, newest first; `name` filters.")
    async def events(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        name: str | None = None,
    ) -> CustomerEventConnection:
        events, cursors, more, total = await event_page(
            info.context, self.view.pk, page_size(first), after, name
        )
        return CustomerEventConnection(
            edges=[
                CustomerEventEdge(cursor=cur, node=CustomerEvent.from_stored(e))
                for cur, e in zip(cursors, events, strict=True)
            ],
            page_info=page_info(cursors, more, after),
            total_count=total,
        )

    @strawberry.field(
        description="Billing subscriptions (the root type Subscription is GraphQL's)."
    )
    async def subscriptions(self, info: Info) -> list[CustomerSubscription]:
        return await self._records(info, "subscriptions")

    @strawberry.field(description="Invoices, by id.")
    async def invoices(self, info: Info) -> list[Invoice]:
        return await self._records(info, "invoices")

    @strawberry.field(description="Wallets, by id.")
    async def wallets(self, info: Info) -> list[Wallet]:
        return await self._records(info, "wallets")

    @strawberry.field(description="Verifications, by id.")
    async def verifications(self, info: Info) -> list[Verification]:
        return await self._records(info, "verifications")

    @strawberry.field(description="Orders, by id, paginated.")
    async def orders(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> OrderConnection:
        page, total = await order_page(info.context, self.view.pk, page_size(first), after)
        edges = edges_of(page, OrderEdge, record_from_view)
        return OrderConnection(
            edges=edges, page_info=page_info(page.cursors, page.has_next, after), total_count=total
        )


@strawberry.type(description="A customer in a connection, with its cursor.")
class CustomerEdge:
    cursor: str
    node: Customer


@strawberry.type(description="A keyset-paginated page of customers.")
class CustomerConnection:
    edges: list[CustomerEdge]
    page_info: PageInfo
    count_loader: strawberry.Private[Callable[[], Awaitable[int]]]

    @classmethod
    def of(
        cls, page: Page[CustomerView], count: Callable[[], Awaitable[int]]
    ) -> CustomerConnection:
        """A page of customers read by a service, with the count loader for `totalCount`."""
        return cls(
            edges=edges_of(page, CustomerEdge, Customer.from_domain),
            page_info=page_info_of(page),
            count_loader=count,
        )

    @strawberry.field(description="How many customers match in all (counted only when asked for).")
    async def total_count(self) -> int:
        return await self.count_loader()


def _view_fields_of_plain_fields() -> dict[str, str]:
    """A plain Customer field's GraphQL name -> the view field it reads (no resolver, so
    nothing else of the view); fields with resolvers are not here."""
    view_fields = {f.name for f in dataclasses.fields(CustomerView)}
    found: dict[str, str] = {}
    for field in get_object_definition(Customer, strict=True).fields:
        if field.base_resolver is not None:
            continue
        name = "parent_id" if field.python_name == "has_parent" else field.python_name
        if name in view_fields:
            found[field.graphql_name or to_camel_case(field.python_name)] = name
    return found


PLAIN_FIELDS = _view_fields_of_plain_fields()
EDGE_FIELDS = ("cursor", "__typename")


def columns_read(info: Info) -> frozenset[str] | None:
    """The view fields a customer page's selection reads, when its nodes ask only for
    plain fields by name (`edges { cursor node { id email } }`); None (all of them) for
    anything else: a fragment, a field with a resolver (it may read the whole view)."""
    read: set[str] = set()
    for connection in info.selected_fields:
        for part in connection.selections:
            if not isinstance(part, SelectedField):
                return None
            if part.name != "edges":
                continue  # pageInfo, totalCount: not the rows' columns
            for edge in part.selections:
                if not isinstance(edge, SelectedField):
                    return None
                if edge.name == "node":
                    nodes = _plain_fields_read(edge)
                    if nodes is None:
                        return None
                    read |= nodes
                elif edge.name not in EDGE_FIELDS:
                    return None
    return frozenset(read)


def _plain_fields_read(node: SelectedField) -> set[str] | None:
    read: set[str] = set()
    for field in node.selections:
        if not isinstance(field, SelectedField):
            return None
        if field.name == "__typename":
            continue
        column = PLAIN_FIELDS.get(field.name)
        if column is None:
            return None
        read.add(column)
    return read
