"""Segment, its stats, cost, usages and members."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry
from strawberry.scalars import JSON

from api.context import Info
from api.errors import request_error
from api.pagination import PageInfo, edges_of, page_info_of, window
from api.services import segment_reads as reads
from api.types.customer import Customer, CustomerEdge
from api.types.node import Node
from domain.errors import DomainError
from domain.segment import Segment as SegmentModel
from domain.segment import SegmentBy, SegmentKind, SnapshotSchedule, UsageKind
from persistence.customers import decode_cursor

if TYPE_CHECKING:
    from api.types.snapshot import SegmentInstanceConnection

SegmentKindEnum = strawberry.enum(
    SegmentKind, name="SegmentKind", description="How membership is decided."
)
UsageKindEnum = strawberry.enum(
    UsageKind,
    name="SegmentUsageKind",
    description=(
        "What uses a segment; LOYALTY_EARNING_RULE, DISTRIBUTION, REFERRAL_TIER activate it."
    ),
)
ScheduleEnum = strawberry.enum(
    SnapshotSchedule, name="SnapshotSchedule", description="When snapshots run."
)
SegmentByEnum = strawberry.enum(
    SegmentBy, name="SegmentBy", description="How members are identified in exports."
)


@strawberry.type(description="How many customers a segment holds, and how fresh the figure is.")
class SegmentStats:
    customer_count: int
    total_customers: int
    percentage: float = strawberry.field(description="0..100, share of the workspace's customers.")
    computed_at: datetime


@strawberry.type(
    description="What evaluating the segment costs, from the planner and the last run."
)
class EvaluationCost:
    planner_cost: float = strawberry.field(description="The planner's total cost estimate.")
    estimated_rows: int
    uses_index: bool
    last_duration_ms: float | None = strawberry.field(
        description="Measured on the last full count."
    )
    slow: bool
    hints: list[str] = strawberry.field(description="What would make it faster.")


@strawberry.type(description="Something that uses the segment (a loyalty rule, a promotion...).")
class SegmentUsage:
    kind: UsageKindEnum  # type: ignore[valid-type]
    reference: str
    attached_at: datetime


@strawberry.type(description="A page of a segment's current members.")
class MembershipConnection:
    edges: list[CustomerEdge]
    page_info: PageInfo
    columns: list[str] = strawberry.field(description="Field paths the predicate uses, for tables.")
    count_loader: strawberry.Private[Callable[[], Awaitable[int]]]

    @strawberry.field(description="How many members in all (counted only when asked for).")
    async def total_count(self) -> int:
        try:
            return await self.count_loader()
        except DomainError as exc:  # a count cut off by the statement timeout
            raise request_error(exc) from exc


@strawberry.type(description="A saved segment of customers.")
class Segment(Node):
    model: strawberry.Private[SegmentModel]
    id: strawberry.ID
    name: str
    description: str | None
    kind: SegmentKindEnum  # type: ignore[valid-type]
    editable: bool = strawberry.field(description="Only PASSIVE segments are editable.")
    predicate: JSON | None = strawberry.field(description="Null for STATIC segments.")
    predicate_text: str | None = strawberry.field(description="Human-readable predicate.")
    time_relative: bool = strawberry.field(description="Membership can change with time alone.")
    created_at: datetime
    updated_at: datetime
    activated_at: datetime | None
    usages: list[SegmentUsage]
    schedule: ScheduleEnum | None  # type: ignore[valid-type]
    segment_by: SegmentByEnum  # type: ignore[valid-type]

    @classmethod
    def from_domain(cls, model: SegmentModel) -> Segment:
        return cls(
            model=model,
            id=strawberry.ID(model.id),
            name=model.name,
            description=model.description,
            kind=model.kind,
            editable=model.editable,
            predicate=model.predicate,
            predicate_text=model.predicate_text,
            time_relative=model.time_relative,
            created_at=model.created_at,
            updated_at=model.updated_at,
            activated_at=model.activated_at,
            usages=[
                SegmentUsage(kind=u.kind, reference=u.reference, attached_at=u.attached_at)
                for u in model.usages
            ],
            schedule=model.schedule,
            segment_by=model.segment_by,
        )

    def node_key(self) -> str:
        return self.model.id

    @strawberry.field(description="Member counts (see computedAt for freshness).")
    async def stats(self, info: Info) -> SegmentStats:
        try:
            s = await reads.stats(info.context, self.model)
        except DomainError as exc:  # a count cut off by the statement timeout
            raise request_error(exc) from exc
        return SegmentStats(
            customer_count=s.customer_count,
            total_customers=s.total_customers,
            percentage=s.percentage,
            computed_at=s.computed_at,
        )

    @strawberry.field(
        description=(
            "Current members, keyset-paginated both ways (`last`/`before` backward); "
            "`search` as in customers."
        )
    )
    async def members(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        search: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> MembershipConnection:
        pages = window(decode_cursor, first, after, last, before)
        try:
            result = await reads.members(info.context, self.model, pages, search)
        except DomainError as exc:
            raise request_error(exc) from exc
        page = result.page
        return MembershipConnection(
            edges=edges_of(page, CustomerEdge, Customer.from_domain),
            page_info=page_info_of(page),
            columns=result.columns,
            count_loader=result.count,
        )

    @strawberry.field(description="The planner's estimate and the last measured evaluation.")
    async def evaluation_cost(self, info: Info) -> EvaluationCost:
        cost = await reads.evaluation_cost(info.context, self.model)
        return EvaluationCost(
            planner_cost=cost.planner_cost,
            estimated_rows=cost.estimated_rows,
            uses_index=cost.uses_index,
            last_duration_ms=cost.last_duration_ms,
            slow=cost.slow,
            hints=cost.hints,
        )

    @strawberry.field(description="Its snapshots, newest first (`last`/`before` page backward).")
    async def instances(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Annotated[SegmentInstanceConnection, strawberry.lazy("api.types.snapshot")]:
        from api.types.snapshot import instance_connection

        return await instance_connection(info, self.model, first, after, last, before)


@strawberry.type(description="A segment in a connection.")
class SegmentEdge:
    cursor: str
    node: Segment


@strawberry.type(description="A page of segments.")
class SegmentConnection:
    edges: list[SegmentEdge]
    page_info: PageInfo
    count_loader: strawberry.Private[Callable[[], Awaitable[int]]]

    @strawberry.field(description="How many segments match in all (counted only when asked for).")
    async def total_count(self) -> int:
        return await self.count_loader()


@strawberry.type(description="Whether a customer is in a segment, evaluated at evaluatedAt.")
class MembershipCheck:
    is_member: bool
    evaluated_at: datetime
