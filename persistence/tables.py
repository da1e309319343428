"""The relational model. These classes never leave persistence/.

Customers carry an internal bigint `pk` (what related tables point at, small
and fast to join) beside the client-given `id`, unique per workspace.
Related records are identified by their own `id` within their customer.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel

NOW = text("now()")


def _pk() -> Any:
    return Field(sa_column=Column(BigInteger, Identity(), primary_key=True))


def _workspace() -> Any:
    return Field(
        sa_column=Column(
            BigInteger, ForeignKey("workspace.pk", ondelete="CASCADE"), nullable=False
        )
    )


def _customer() -> Any:
    return Field(
        sa_column=Column(BigInteger, ForeignKey("customer.pk", ondelete="CASCADE"), nullable=False)
    )


def _ts(nullable: bool = True) -> Any:
    if nullable:
        return Field(default=None, sa_column=Column(DateTime(timezone=True), nullable=True))
    return Field(
        sa_column=Column(DateTime(timezone=True), nullable=False, server_default=NOW)
    )


def _money(nullable: bool = True) -> Any:
    return Field(default=None, sa_column=Column(Numeric(20, 4), nullable=nullable))


class Workspace(SQLModel, table=True):
    __tablename__ = "workspace"
    pk: int | None = _pk()
    name: str = Field(sa_column=Column(String(100), nullable=False, unique=True))
    created_at: datetime | None = _ts(nullable=False)


class ApiKey(SQLModel, table=True):
    __tablename__ = "api_key"
    pk: int | None = _pk()
    workspace_pk: int = _workspace()
    role: str = Field(sa_column=Column(String(10), nullable=False))
    key_hash: str = Field(sa_column=Column(String(64), nullable=False, unique=True))
    prefix: str = Field(sa_column=Column(String(16), nullable=False))
    label: str | None = Field(default=None, sa_column=Column(String(200)))
    created_at: datetime | None = _ts(nullable=False)
    revoked_at: datetime | None = _ts()


class CustomProperty(SQLModel, table=True):
    __tablename__ = "custom_property"
    workspace_pk: int = Field(
        sa_column=Column(
            BigInteger, ForeignKey("workspace.pk", ondelete="CASCADE"), primary_key=True
        )
    )
    key: str = Field(sa_column=Column(String(63), primary_key=True))
    type: str = Field(sa_column=Column(String(10), nullable=False))
    allowed_values: list[str] | None = Field(default=None, sa_column=Column(JSONB))
    indexed: bool = Field(sa_column=Column(Boolean, nullable=False, server_default="false"))
    description: str | None = Field(default=None, sa_column=Column(Text))
    created_at: datetime | None = _ts(nullable=False)


class Customer(SQLModel, table=True):
    __tablename__ = "customer"
    __table_args__ = (
        UniqueConstraint("workspace_pk", "id", name="customer_workspace_id_key"),
        Index("customer_country_idx", "workspace_pk", "country"),
        Index("customer_payment_idx", "workspace_pk", "payment_method_type", "country"),
        Index("customer_parent_idx", "workspace_pk", "parent_id"),
        Index("customer_email_idx", "workspace_pk", "email"),
        Index("customer_created_idx", "workspace_pk", "created_at"),
        Index("customer_last_order_idx", "workspace_pk", "last_order_at"),
        Index("customer_total_spent_idx", "workspace_pk", "total_spent"),
        Index(
            "customer_properties_gin",
            "properties",
            postgresql_using="gin",
            postgresql_ops={"properties": "jsonb_path_ops"},
        ),
    )
    pk: int | None = _pk()
    workspace_pk: int = _workspace()
    id: str = Field(sa_column=Column(String(255), nullable=False))
    external_id: str | None = Field(default=None, sa_column=Column(String(255)))
    email: str | None = Field(default=None, sa_column=Column(String(320)))
    name: str | None = Field(default=None, sa_column=Column(String(255)))
    country: str | None = Field(default=None, sa_column=Column(String(2)))
    currency: str | None = Field(default=None, sa_column=Column(String(3)))
    language: str | None = Field(default=None, sa_column=Column(String(2)))
    city: str | None = Field(default=None, sa_column=Column(String(255)))
    source: str | None = Field(default=None, sa_column=Column(String(255)))
    invoicing_entity: str | None = Field(default=None, sa_column=Column(String(255)))
    payment_method_type: str | None = Field(default=None, sa_column=Column(String(20)))
    tax_id: str | None = Field(default=None, sa_column=Column(String(64)))
    parent_id: str | None = Field(default=None, sa_column=Column(String(255)))
    properties: dict[str, Any] = Field(
        default_factory=dict,
        sa_column=Column(JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    )
    orders_count: int = Field(
        default=0, sa_column=Column(Integer, nullable=False, server_default="0")
    )
    total_spent: Decimal = Field(
        default=Decimal(0), sa_column=Column(Numeric(20, 4), nullable=False, server_default="0")
    )
    last_order_at: datetime | None = _ts()
    first_order_at: datetime | None = _ts()
    created_at: datetime | None = _ts(nullable=False)
    updated_at: datetime | None = _ts(nullable=False)


def _related_args(name: str, *indexes: Index) -> tuple[Any, ...]:
    return (UniqueConstraint("customer_pk", "id", name=f"{name}_customer_id_key"), *indexes)


class Subscription(SQLModel, table=True):
    __tablename__ = "subscription"
    __table_args__ = _related_args(
        "subscription",
        Index("subscription_status_idx", "customer_pk", "status", "started_at"),
        Index("subscription_started_idx", "customer_pk", "started_at"),
    )
    pk: int | None = _pk()
    customer_pk: int = _customer()
    id: str = Field(sa_column=Column(String(255), nullable=False))
    status: str | None = Field(default=None, sa_column=Column(String(20)))
    plan_id: str | None = Field(default=None, sa_column=Column(String(255)))
    amount: Decimal | None = _money()
    currency: str | None = Field(default=None, sa_column=Column(String(3)))
    started_at: datetime | None = _ts()
    trial_ends_at: datetime | None = _ts()
    current_period_ends_at: datetime | None = _ts()
    canceled_at: datetime | None = _ts()


class Invoice(SQLModel, table=True):
    __tablename__ = "invoice"
    __table_args__ = _related_args(
        "invoice",
        Index("invoice_status_idx", "customer_pk", "status", "issued_at"),
        Index("invoice_issued_idx", "customer_pk", "issued_at"),
    )
    pk: int | None = _pk()
    customer_pk: int = _customer()
    id: str = Field(sa_column=Column(String(255), nullable=False))
    status: str | None = Field(default=None, sa_column=Column(String(20)))
    total: Decimal | None = _money()
    currency: str | None = Field(default=None, sa_column=Column(String(3)))
    issued_at: datetime | None = _ts()
    due_at: datetime | None = _ts()
    paid_at: datetime | None = _ts()


class Order(SQLModel, table=True):
    __tablename__ = "customer_order"
    __table_args__ = _related_args(
        "customer_order",
        Index("customer_order_status_idx", "customer_pk", "status", "placed_at"),
        Index("customer_order_placed_idx", "customer_pk", "placed_at"),
    )
    pk: int | None = _pk()
    customer_pk: int = _customer()
    id: str = Field(sa_column=Column(String(255), nullable=False))
    status: str | None = Field(default=None, sa_column=Column(String(20)))
    amount: Decimal | None = _money()
    currency: str | None = Field(default=None, sa_column=Column(String(3)))
    placed_at: datetime | None = _ts()


class Wallet(SQLModel, table=True):
    __tablename__ = "wallet"
    __table_args__ = _related_args("wallet")
    pk: int | None = _pk()
    customer_pk: int = _customer()
    id: str = Field(sa_column=Column(String(255), nullable=False))
    currency: str | None = Field(default=None, sa_column=Column(String(3)))
    balance: Decimal | None = _money()


class Verification(SQLModel, table=True):
    __tablename__ = "verification"
    __table_args__ = _related_args(
        "verification",
        Index("verification_status_idx", "customer_pk", "kind", "status"),
    )
    pk: int | None = _pk()
    customer_pk: int = _customer()
    id: str = Field(sa_column=Column(String(255), nullable=False))
    kind: str | None = Field(default=None, sa_column=Column(String(20)))
    status: str | None = Field(default=None, sa_column=Column(String(20)))
    verified_at: datetime | None = _ts()


metadata = SQLModel.metadata
