"""The relational model. These classes never leave persistence/.

Customers carry an internal bigint `pk` (what related tables point at, small
and fast to join) beside the client-given `id`, unique per workspace.
Related records are identified by their own `id` within their customer.

Every table of a workspace's data has `workspace_pk`, and each of its primary,
unique and foreign keys includes it (foreign keys on (workspace_pk, ...) to
the target's (workspace_pk, pk)), so the schema can be distributed by
workspace (docs/scaling.md; tests/integration/test_workspace_keys.py checks
the catalog). `workspace` and `api_key` are the tables all workspaces share.
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
    Float,
    ForeignKey,
    ForeignKeyConstraint,
    Identity,
    Index,
    Integer,
    LargeBinary,
    Numeric,
    PrimaryKeyConstraint,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlmodel import Field, SQLModel

NOW = text("now()")


def _pk() -> Any:
    return Field(sa_column=Column(BigInteger, Identity(), primary_key=True))


def _pk_in_workspace() -> Any:
    """An identity `pk` that comes second in a primary key led by workspace_pk."""
    return Field(default=None, sa_column=Column(BigInteger, Identity(), nullable=False))


def _owner_workspace() -> Any:
    """A record's workspace_pk, its customer's (the foreign key to the customer holds it)."""
    return Field(sa_column=Column(BigInteger, nullable=False))


def _in_workspace(table: str, column: str, target: str, ondelete: str = "CASCADE") -> Any:
    """`table`'s foreign key (workspace_pk, column) to `target` (workspace_pk, pk)."""
    return ForeignKeyConstraint(
        ["workspace_pk", column],
        [f"{target}.workspace_pk", f"{target}.pk"],
        ondelete=ondelete,
        name=f"{table}_{column.removesuffix('_pk')}_fkey",
    )


def _workspace() -> Any:
    return Field(
        sa_column=Column(BigInteger, ForeignKey("workspace.pk", ondelete="CASCADE"), nullable=False)
    )


def _customer() -> Any:
    """customer_pk; the foreign key is (workspace_pk, customer_pk), see `_in_workspace`."""
    return Field(sa_column=Column(BigInteger, nullable=False))


def _ts(nullable: bool = True) -> Any:
    if nullable:
        return Field(default=None, sa_column=Column(DateTime(timezone=True), nullable=True))
    return Field(sa_column=Column(DateTime(timezone=True), nullable=False, server_default=NOW))


def _money(nullable: bool = True) -> Any:
    return Field(default=None, sa_column=Column(Numeric(20, 4), nullable=nullable))


class Workspace(SQLModel, table=True):
    __tablename__ = "workspace"
    pk: int | None = _pk()
    name: str = Field(sa_column=Column(String(100), nullable=False, unique=True))
    created_at: datetime | None = _ts(nullable=False)
    customers_deleted_at: datetime | None = _ts()
    event_seq: int = Field(
        default=0, sa_column=Column(BigInteger, nullable=False, server_default="0")
    )


class WorkspaceDefinitions(SQLModel, table=True):
    """A counter bumped by every change to a workspace's segments or custom properties,
    so a process may cache them and know, from one value read at authentication, when
    not to. Kept off the workspace row, which the membership recorders lock."""

    __tablename__ = "workspace_definitions"
    workspace_pk: int = Field(
        sa_column=Column(
            BigInteger, ForeignKey("workspace.pk", ondelete="CASCADE"), primary_key=True
        )
    )
    version: int = Field(
        default=0, sa_column=Column(BigInteger, nullable=False, server_default="0")
    )


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
    expires_at: datetime | None = _ts()
    last_used_at: datetime | None = _ts()


class CostBucket(SQLModel, table=True):
    """Each API key's leaky bucket of query cost points, shared by every process.

    `available` as of `updated_at`; it refills at the configured rate up to the
    bucket's size (computed on each charge, from the database's clock)."""

    __tablename__ = "cost_bucket"
    workspace_pk: int = Field(
        sa_column=Column(
            BigInteger, ForeignKey("workspace.pk", ondelete="CASCADE"), primary_key=True
        )
    )
    key_pk: int = Field(sa_column=Column(BigInteger, primary_key=True))
    available: float = Field(sa_column=Column(Float, nullable=False))
    refused: bool = Field(
        default=False, sa_column=Column(Boolean, nullable=False, server_default="false")
    )
    updated_at: datetime | None = _ts(nullable=False)


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
        PrimaryKeyConstraint("workspace_pk", "pk", name="customer_pkey"),
        UniqueConstraint("workspace_pk", "id", name="customer_workspace_id_key"),
        # lookups by pk alone (a membership recorder's, say) without a scan of every workspace
        Index("customer_pk_idx", "pk"),
        Index("customer_country_idx", "workspace_pk", "country"),
        Index("customer_payment_idx", "workspace_pk", "payment_method_type", "country"),
        Index("customer_parent_idx", "workspace_pk", "parent_id"),
        Index("customer_email_idx", "workspace_pk", "email"),
        Index("customer_created_idx", "workspace_pk", "created_at"),
        Index("customer_last_order_idx", "workspace_pk", "last_order_at"),
        Index("customer_total_spent_idx", "workspace_pk", "total_spent"),
        Index("customer_updated_idx", "workspace_pk", "updated_at"),
        Index(
            "customer_properties_gin",
            "properties",
            postgresql_using="gin",
            postgresql_ops={"properties": "jsonb_path_ops"},
        ),
    )
    pk: int | None = _pk_in_workspace()
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
    """A customer's record: keyed in its workspace, unique by id within its customer."""
    return (
        PrimaryKeyConstraint("workspace_pk", "pk", name=f"{name}_pkey"),
        UniqueConstraint("workspace_pk", "customer_pk", "id", name=f"{name}_customer_id_key"),
        _in_workspace(name, "customer_pk", "customer"),
        *indexes,
    )


class Subscription(SQLModel, table=True):
    __tablename__ = "subscription"
    __table_args__ = _related_args(
        "subscription",
        Index("subscription_status_idx", "customer_pk", "status", "started_at"),
        Index("subscription_started_idx", "customer_pk", "started_at"),
    )
    pk: int | None = _pk_in_workspace()
    workspace_pk: int = _owner_workspace()
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
    pk: int | None = _pk_in_workspace()
    workspace_pk: int = _owner_workspace()
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
    pk: int | None = _pk_in_workspace()
    workspace_pk: int = _owner_workspace()
    customer_pk: int = _customer()
    id: str = Field(sa_column=Column(String(255), nullable=False))
    status: str | None = Field(default=None, sa_column=Column(String(20)))
    amount: Decimal | None = _money()
    currency: str | None = Field(default=None, sa_column=Column(String(3)))
    placed_at: datetime | None = _ts()


class Wallet(SQLModel, table=True):
    __tablename__ = "wallet"
    __table_args__ = _related_args("wallet")
    pk: int | None = _pk_in_workspace()
    workspace_pk: int = _owner_workspace()
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
    pk: int | None = _pk_in_workspace()
    workspace_pk: int = _owner_workspace()
    customer_pk: int = _customer()
    id: str = Field(sa_column=Column(String(255), nullable=False))
    kind: str | None = Field(default=None, sa_column=Column(String(20)))
    status: str | None = Field(default=None, sa_column=Column(String(20)))
    verified_at: datetime | None = _ts()


class Event(SQLModel, table=True):
    """A tracked custom event. `id` is the client's optional idempotency key."""

    __tablename__ = "event"
    __table_args__ = (
        Index(
            "event_idempotency_key",
            "workspace_pk",
            "id",
            unique=True,
            postgresql_where=text("id IS NOT NULL"),
        ),
        PrimaryKeyConstraint("workspace_pk", "pk", name="event_pkey"),
        _in_workspace("event", "customer_pk", "customer"),
        Index("event_customer_name_idx", "customer_pk", "name", "occurred_at"),
        Index("event_customer_time_idx", "customer_pk", "occurred_at"),
        Index("event_name_time_idx", "workspace_pk", "name", "occurred_at"),
        # Retention deletes by time across workspaces; events arrive roughly in time order.
        Index("event_time_brin", "occurred_at", postgresql_using="brin"),
    )
    pk: int | None = _pk_in_workspace()
    workspace_pk: int = _workspace()
    customer_pk: int = _customer()
    id: str | None = Field(default=None, sa_column=Column(String(255)))
    name: str = Field(sa_column=Column(String(255), nullable=False))
    occurred_at: datetime | None = _ts(nullable=False)
    properties: dict[str, Any] = Field(
        default_factory=dict,
        sa_column=Column(JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    )


class Segment(SQLModel, table=True):
    __tablename__ = "segment"
    __table_args__ = (
        PrimaryKeyConstraint("workspace_pk", "pk", name="segment_pkey"),
        UniqueConstraint("workspace_pk", "id", name="segment_workspace_id_key"),
        UniqueConstraint("workspace_pk", "name", name="segment_workspace_name_key"),
        Index("segment_kind_idx", "workspace_pk", "kind"),
    )
    pk: int | None = _pk_in_workspace()
    workspace_pk: int = _workspace()
    id: str = Field(sa_column=Column(String(40), nullable=False))
    name: str = Field(sa_column=Column(String(200), nullable=False))
    description: str | None = Field(default=None, sa_column=Column(Text))
    kind: str = Field(sa_column=Column(String(10), nullable=False))
    predicate: dict[str, Any] | None = Field(default=None, sa_column=Column(JSONB))
    predicate_text: str | None = Field(default=None, sa_column=Column(Text))
    time_relative: bool = Field(
        default=False, sa_column=Column(Boolean, nullable=False, server_default="false")
    )
    schedule: str | None = Field(default=None, sa_column=Column(String(30)))
    segment_by: str = Field(
        default="CUSTOMER_ID",
        sa_column=Column(String(20), nullable=False, server_default="CUSTOMER_ID"),
    )
    created_at: datetime | None = _ts(nullable=False)
    updated_at: datetime | None = _ts(nullable=False)
    activated_at: datetime | None = _ts()
    member_count: int | None = Field(default=None, sa_column=Column(Integer))
    total_customers: int | None = Field(default=None, sa_column=Column(Integer))
    stats_computed_at: datetime | None = _ts()
    next_snapshot_at: datetime | None = _ts()
    last_duration_ms: float | None = Field(default=None, sa_column=Column(Numeric(12, 3)))


def _segment() -> Any:
    """segment_pk in a primary key; the foreign key is (workspace_pk, segment_pk)."""
    return Field(sa_column=Column(BigInteger, primary_key=True))


def _workspace_of_segment() -> Any:
    """workspace_pk, first in the primary key; the foreign key is the segment's."""
    return Field(sa_column=Column(BigInteger, primary_key=True))


class SegmentMember(SQLModel, table=True):
    """Stored membership: the list of a STATIC segment, the tracked state of an ACTIVE one."""

    __tablename__ = "segment_member"
    __table_args__ = (
        _in_workspace("segment_member", "segment_pk", "segment"),
        _in_workspace("segment_member", "customer_pk", "customer"),
        Index("segment_member_customer_idx", "customer_pk"),
    )
    workspace_pk: int = _workspace_of_segment()
    segment_pk: int = _segment()
    customer_pk: int = Field(sa_column=Column(BigInteger, primary_key=True))


class SegmentBoundary(SQLModel, table=True):
    """When a customer's membership of a time-relative ACTIVE segment can next change
    with the clock alone (domain.boundaries); the sweeper re-evaluates the rows due.

    No foreign key to the customer: inserting one would take a KEY SHARE lock on a
    customer row while the workspace row is held (see persistence.membership); the
    rows of a deleted customer are dropped when they fall due.
    """

    __tablename__ = "segment_boundary"
    __table_args__ = (
        _in_workspace("segment_boundary", "segment_pk", "segment"),
        Index("segment_boundary_due_idx", "segment_pk", "next_at"),
    )
    workspace_pk: int = _workspace_of_segment()
    segment_pk: int = _segment()
    customer_pk: int = Field(sa_column=Column(BigInteger, primary_key=True))
    next_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


class SegmentBoundaryState(SQLModel, table=True):
    """Which description of its instants a segment's boundary rows were computed from.

    A segment without a row here, or with another `key` (its predicate, or one it
    references, changed), has its rows recomputed by a full rescan first.
    """

    __tablename__ = "segment_boundary_state"
    __table_args__ = (_in_workspace("segment_boundary_state", "segment_pk", "segment"),)
    workspace_pk: int = _workspace_of_segment()
    segment_pk: int = _segment()
    key: str = Field(sa_column=Column(String(64), nullable=False))


class SegmentUsage(SQLModel, table=True):
    __tablename__ = "segment_usage"
    __table_args__ = (_in_workspace("segment_usage", "segment_pk", "segment"),)
    workspace_pk: int = _workspace_of_segment()
    segment_pk: int = _segment()
    kind: str = Field(sa_column=Column(String(30), primary_key=True))
    reference: str = Field(sa_column=Column(String(255), primary_key=True))
    attached_at: datetime | None = _ts(nullable=False)


class SegmentReference(SQLModel, table=True):
    """Segment A's predicate names segment B: B cannot be deleted while A exists."""

    __tablename__ = "segment_reference"
    __table_args__ = (
        _in_workspace("segment_reference", "segment_pk", "segment"),
        _in_workspace("segment_reference", "referenced_pk", "segment", "RESTRICT"),
        Index("segment_reference_target_idx", "workspace_pk", "referenced_pk"),
    )
    workspace_pk: int = _workspace_of_segment()
    segment_pk: int = _segment()
    referenced_pk: int = Field(sa_column=Column(BigInteger, primary_key=True))


class SegmentEvent(SQLModel, table=True):
    """One membership transition of an ACTIVE segment.

    `seq` numbers a workspace's events 1, 2, 3... in commit order: writers take
    the workspace row lock to draw numbers, so a reader paging by `seq` never
    sees a lower number commit after a higher one.
    """

    __tablename__ = "segment_event"
    __table_args__ = (
        Index("segment_event_segment_idx", "workspace_pk", "segment_pk", "seq"),
        Index("segment_event_time_idx", "occurred_at"),
    )
    workspace_pk: int = Field(
        sa_column=Column(
            BigInteger, ForeignKey("workspace.pk", ondelete="CASCADE"), primary_key=True
        )
    )
    seq: int = Field(sa_column=Column(BigInteger, primary_key=True))
    segment_pk: int = Field(sa_column=Column(BigInteger, nullable=False))
    segment_id: str = Field(sa_column=Column(String(40), nullable=False))
    customer_pk: int = Field(sa_column=Column(BigInteger, nullable=False))
    customer_id: str = Field(sa_column=Column(String(255), nullable=False))
    kind: str = Field(sa_column=Column(String(10), nullable=False))
    occurred_at: datetime | None = _ts(nullable=False)


class SegmentInstance(SQLModel, table=True):
    """A snapshot of a segment's members at one run, with its measures. Immutable."""

    __tablename__ = "segment_instance"
    __table_args__ = (
        PrimaryKeyConstraint("workspace_pk", "pk", name="segment_instance_pkey"),
        _in_workspace("segment_instance", "segment_pk", "segment"),
        UniqueConstraint("workspace_pk", "id", name="segment_instance_workspace_id_key"),
        Index("segment_instance_segment_idx", "segment_pk", "created_at"),
    )
    pk: int | None = _pk_in_workspace()
    workspace_pk: int = _workspace()
    segment_pk: int = Field(sa_column=Column(BigInteger, nullable=False))
    id: str = Field(sa_column=Column(String(80), nullable=False))
    segment_id: str = Field(sa_column=Column(String(40), nullable=False))
    segment_name: str = Field(sa_column=Column(String(200), nullable=False))
    segment_created_at: datetime | None = _ts(nullable=False)
    schedule: str | None = Field(default=None, sa_column=Column(String(30)))
    segment_by: str = Field(sa_column=Column(String(20), nullable=False))
    created_at: datetime | None = _ts(nullable=False)
    window_start: datetime | None = _ts(nullable=False)
    num_customers: int = Field(default=0, sa_column=Column(Integer, nullable=False))
    num_orders: int = Field(default=0, sa_column=Column(Integer, nullable=False))
    total_revenue: Decimal = Field(
        default=Decimal(0), sa_column=Column(Numeric(20, 4), nullable=False)
    )


class SegmentInstanceMember(SQLModel, table=True):
    """Who was in an instance, as they were identified then (survives customer deletion)."""

    __tablename__ = "segment_instance_member"
    __table_args__ = (_in_workspace("segment_instance_member", "instance_pk", "segment_instance"),)
    workspace_pk: int = Field(sa_column=Column(BigInteger, primary_key=True))
    instance_pk: int = Field(sa_column=Column(BigInteger, primary_key=True))
    customer_id: str = Field(sa_column=Column(String(255), primary_key=True))
    customer_pk: int = Field(sa_column=Column(BigInteger, nullable=False))
    email: str | None = Field(default=None, sa_column=Column(String(320)))


class EventName(SQLModel, table=True):
    """Event names a workspace has tracked, for predicate editors (no DISTINCT over millions)."""

    __tablename__ = "event_name"
    workspace_pk: int = Field(
        sa_column=Column(
            BigInteger, ForeignKey("workspace.pk", ondelete="CASCADE"), primary_key=True
        )
    )
    name: str = Field(sa_column=Column(String(255), primary_key=True))
    first_seen_at: datetime | None = _ts(nullable=False)


class ImportJob(SQLModel, table=True):
    """A bulk import sent over HTTP: its state and figures, kept across restarts."""

    __tablename__ = "import_job"
    workspace_pk: int = Field(
        sa_column=Column(
            BigInteger, ForeignKey("workspace.pk", ondelete="CASCADE"), primary_key=True
        )
    )
    id: str = Field(sa_column=Column(String(40), primary_key=True))
    state: str = Field(sa_column=Column(String(10), nullable=False))
    options: dict[str, Any] = Field(sa_column=Column(JSONB, nullable=False))
    lines_read: int = Field(
        default=0, sa_column=Column(BigInteger, nullable=False, server_default="0")
    )
    customers_written: int = Field(
        default=0, sa_column=Column(BigInteger, nullable=False, server_default="0")
    )
    customers_unchanged: int = Field(
        default=0, sa_column=Column(BigInteger, nullable=False, server_default="0")
    )
    customers_deleted: int = Field(
        default=0, sa_column=Column(BigInteger, nullable=False, server_default="0")
    )
    lines_rejected: int = Field(
        default=0, sa_column=Column(BigInteger, nullable=False, server_default="0")
    )
    rejections: list[Any] = Field(sa_column=Column(JSONB, nullable=False))
    failure: str | None = Field(default=None, sa_column=Column(Text))
    created_at: datetime | None = _ts(nullable=False)
    started_at: datetime | None = _ts()
    finished_at: datetime | None = _ts()


class CustomerImportFingerprint(SQLModel, table=True):
    """The hash of the import line a customer last took, and its `updated_at` just after:
    while the customer's `updated_at` is still that one, taking the same line again changes
    nothing, and an import skips it unread (persistence/customer_fingerprints.py)."""

    __tablename__ = "customer_import_fingerprint"
    __table_args__ = (
        _in_workspace("customer_import_fingerprint", "customer_pk", "customer"),
        Index("customer_import_fingerprint_hash_idx", "workspace_pk", "line_hash"),
    )
    workspace_pk: int = Field(sa_column=Column(BigInteger, primary_key=True))
    customer_pk: int = Field(sa_column=Column(BigInteger, primary_key=True))
    line_hash: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    updated_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


class WebhookEndpoint(SQLModel, table=True):
    """A URL that receives a workspace's segment events, signed with its secret.

    `cursor_seq` is how far into the workspace's event log this endpoint's
    deliveries have been written (persistence.webhooks.fan_out).
    """

    __tablename__ = "webhook_endpoint"
    workspace_pk: int = Field(
        sa_column=Column(
            BigInteger, ForeignKey("workspace.pk", ondelete="CASCADE"), primary_key=True
        )
    )
    id: str = Field(sa_column=Column(String(40), primary_key=True))
    url: str = Field(sa_column=Column(Text, nullable=False))
    description: str | None = Field(default=None, sa_column=Column(Text))
    segment_ids: list[str] = Field(sa_column=Column(ARRAY(String(40)), nullable=False))
    event_types: list[str] = Field(sa_column=Column(ARRAY(String(40)), nullable=False))
    enabled: bool = Field(default=True, sa_column=Column(Boolean, nullable=False))
    disabled_reason: str | None = Field(default=None, sa_column=Column(Text))
    secret: str = Field(sa_column=Column(String(100), nullable=False))
    previous_secret: str | None = Field(default=None, sa_column=Column(String(100)))
    previous_secret_until: datetime | None = _ts()
    cursor_seq: int = Field(sa_column=Column(BigInteger, nullable=False))
    failing_since: datetime | None = _ts()
    created_at: datetime | None = _ts(nullable=False)


class WebhookDelivery(SQLModel, table=True):
    """One event for one endpoint: sent until a 2xx answer, or given up."""

    __tablename__ = "webhook_delivery"
    __table_args__ = (
        ForeignKeyConstraint(
            ["workspace_pk", "endpoint_id"],
            ["webhook_endpoint.workspace_pk", "webhook_endpoint.id"],
            ondelete="CASCADE",
        ),
        Index(
            "webhook_delivery_due_idx",
            "next_attempt_at",
            postgresql_where=text("status = 'PENDING'"),
        ),
        Index(
            "webhook_delivery_customer_idx",
            "workspace_pk",
            "endpoint_id",
            "customer_id",
            "seq",
            postgresql_where=text("status = 'PENDING'"),
        ),
        Index("webhook_delivery_status_idx", "workspace_pk", "endpoint_id", "status", "seq"),
    )
    workspace_pk: int = Field(sa_column=Column(BigInteger, primary_key=True))
    endpoint_id: str = Field(sa_column=Column(String(40), primary_key=True))
    seq: int = Field(sa_column=Column(BigInteger, primary_key=True))
    kind: str = Field(sa_column=Column(String(10), nullable=False))
    segment_id: str = Field(sa_column=Column(String(40), nullable=False))
    segment_name: str = Field(sa_column=Column(String(200), nullable=False))
    customer_id: str = Field(sa_column=Column(String(255), nullable=False))
    occurred_at: datetime | None = _ts(nullable=False)
    status: str = Field(sa_column=Column(String(10), nullable=False))
    attempts: int = Field(default=0, sa_column=Column(Integer, nullable=False))
    next_attempt_at: datetime | None = _ts(nullable=False)
    last_status_code: int | None = Field(default=None, sa_column=Column(Integer))
    last_error: str | None = Field(default=None, sa_column=Column(Text))
    last_attempt_at: datetime | None = _ts()
    delivered_at: datetime | None = _ts()
    # Moved on by every claim, retry and replay: an outcome is stored only under the
    # lease it was claimed with (persistence.webhooks.record).
    lease: int = Field(
        default=0, sa_column=Column(BigInteger, nullable=False, server_default=text("0"))
    )


metadata = SQLModel.metadata
