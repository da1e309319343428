"""Read models: what the service hands to the API about stored data."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Generic, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class CustomerView:
    pk: int
    id: str
    external_id: str | None
    email: str | None
    name: str | None
    country: str | None
    currency: str | None
    language: str | None
    city: str | None
    source: str | None
    invoicing_entity: str | None
    payment_method_type: str | None
    tax_id: str | None
    parent_id: str | None
    has_child: bool
    properties: dict[str, Any]
    orders_count: int
    total_spent: Decimal
    last_order_at: datetime | None
    first_order_at: datetime | None
    created_at: datetime
    updated_at: datetime

    @property
    def has_parent(self) -> bool:
        return self.parent_id is not None


@dataclass(frozen=True)
class RecordView:
    """One related record (subscription, invoice, order, wallet, verification) and its fields."""

    scope: str
    id: str
    values: dict[str, Any]


@dataclass(frozen=True)
class Page(Generic[T]):
    """One keyset page: the items, and whether more follow and precede."""

    items: list[T]
    has_next: bool
    cursors: list[str]
    has_previous: bool = False
