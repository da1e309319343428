"""Which column holds which API field: the one mapping shared by writes, reads and the compiler."""

from __future__ import annotations

import functools

from sqlalchemy import Column, Table

from persistence.tables import Customer, Invoice, Order, Subscription, Verification, Wallet

customer_table: Table = Customer.__table__  # type: ignore[attr-defined]

SCOPE_TABLES: dict[str, Table] = {
    "subscriptions": Subscription.__table__,  # type: ignore[attr-defined]
    "invoices": Invoice.__table__,  # type: ignore[attr-defined]
    "orders": Order.__table__,  # type: ignore[attr-defined]
    "wallets": Wallet.__table__,  # type: ignore[attr-defined]
    "verifications": Verification.__table__,  # type: ignore[attr-defined]
}


@functools.cache  # a few dozen distinct names, asked for on every field of every write
def snake(name: str) -> str:
    """camelCase API name -> snake_case column name."""
    out = []
    for ch in name:
        if ch.isupper():
            out.append("_")
            out.append(ch.lower())
        else:
            out.append(ch)
    return "".join(out)


def customer_column(api_name: str) -> Column[object]:
    return customer_table.c[snake(api_name)]


def scope_column(scope: str, api_name: str) -> Column[object]:
    return SCOPE_TABLES[scope].c[snake(api_name)]


CUSTOMER_STORED_FIELDS = (
    "id",
    "externalId",
    "email",
    "name",
    "country",
    "currency",
    "language",
    "city",
    "source",
    "invoicingEntity",
    "paymentMethodType",
    "taxId",
    "parentId",
    "ordersCount",
    "totalSpent",
    "lastOrderAt",
    "firstOrderAt",
    "createdAt",
    "updatedAt",
)
