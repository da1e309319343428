"""Customer inputs. Omitted fields stay UNSET; `provided()` keeps only what was sent."""

from __future__ import annotations

import dataclasses
import enum
from datetime import datetime
from typing import Any

import strawberry
from strawberry.scalars import JSON
from strawberry.types.unset import UnsetType

from domain.custom_property import PropertyType

UNSET: Any = strawberry.UNSET


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def provided(obj: Any) -> Any:
    """An input object as a plain dict of the fields the client sent, camelCase, recursively."""
    if isinstance(obj, list):
        return [provided(item) for item in obj]
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {
            _camel(f.name): provided(getattr(obj, f.name))
            for f in dataclasses.fields(obj)
            if not isinstance(getattr(obj, f.name), UnsetType)
        }
    if isinstance(obj, enum.Enum):
        return obj.value
    return obj


@strawberry.input(description="A billing subscription, upserted by its id within the customer.")
class SubscriptionInput:
    id: strawberry.ID
    status: str | None = UNSET
    plan_id: str | None = UNSET
    amount: float | None = UNSET
    currency: str | None = UNSET
    started_at: datetime | None = UNSET
    trial_ends_at: datetime | None = UNSET
    current_period_ends_at: datetime | None = UNSET
    canceled_at: datetime | None = UNSET


@strawberry.input(description="An invoice, upserted by its id within the customer.")
class InvoiceInput:
    id: strawberry.ID
    status: str | None = UNSET
    total: float | None = UNSET
    currency: str | None = UNSET
    issued_at: datetime | None = UNSET
    due_at: datetime | None = UNSET
    paid_at: datetime | None = UNSET


@strawberry.input(description="An order, upserted by its id within the customer.")
class OrderInput:
    id: strawberry.ID
    status: str | None = UNSET
    amount: float | None = UNSET
    currency: str | None = UNSET
    placed_at: datetime | None = UNSET


@strawberry.input(description="A wallet, upserted by its id within the customer.")
class WalletInput:
    id: strawberry.ID
    currency: str | None = UNSET
    balance: float | None = UNSET


@strawberry.input(description="A verification, upserted by its id within the customer.")
class VerificationInput:
    id: strawberry.ID
    kind: str | None = UNSET
    status: str | None = UNSET
    verified_at: datetime | None = UNSET


@strawberry.input(
    description="Upsert: omitted fields keep their value, an explicit null clears it."
)
class CustomerInput:
    id: strawberry.ID
    external_id: str | None = UNSET
    email: str | None = UNSET
    name: str | None = UNSET
    country: str | None = UNSET
    currency: str | None = UNSET
    language: str | None = UNSET
    city: str | None = UNSET
    source: str | None = UNSET
    invoicing_entity: str | None = UNSET
    payment_method_type: str | None = UNSET
    tax_id: str | None = UNSET
    parent_id: strawberry.ID | None = UNSET
    created_at: datetime | None = UNSET
    properties: JSON | None = strawberry.field(
        default=UNSET, description="Merged key by key; a key set to null is removed."
    )
    subscriptions: list[SubscriptionInput] | None = UNSET
    invoices: list[InvoiceInput] | None = UNSET
    orders: list[OrderInput] | None = UNSET
    wallets: list[WalletInput] | None = UNSET
    verifications: list[VerificationInput] | None = UNSET


CustomPropertyTypeEnum = strawberry.enum(
    PropertyType, name="CustomPropertyType", description="The type of a custom property's values."
)


@strawberry.input(description="Declare (or redeclare, same type) a custom property.")
class CustomPropertyInput:
    key: str = strawberry.field(description="[a-z][a-z0-9_]{0,62}")
    type: CustomPropertyTypeEnum  # type: ignore[valid-type]
    allowed_values: list[str] | None = strawberry.field(
        default=None, description="STRING only: the authorized values."
    )
    indexed: bool | None = strawberry.field(
        default=None, description="Create an index so predicates on it avoid scans."
    )
    description: str | None = None
