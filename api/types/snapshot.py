"""Segment instances (snapshots), their members, and the flat segmentation table."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

import strawberry

from api.context import Info
from api.errors import request_error
from api.pagination import PageInfo, edges_of, page_info_of, page_size, window
from api.services import snapshots as service
from api.types.customer import Customer, CustomerConnection, CustomerEdge
from api.types.node import Node
from api.types.segment import ScheduleEnum, SegmentByEnum
from domain.errors import DomainError
from domain.segment import Segment as SegmentModel
from domain.snapshot import Instance, InstanceRow
from persistence import cursors
from persistence.customers import decode_cursor


def encode_instance_cursor(pk: int) -> str:
    return cursors.encode("i", str(pk))


def decode_instance_cursor(cursor: str) -> int | None:
    key = cursors.decode("i", cursor)
    return int(key) if key is not None and key.isdigit() else None


def encode_row_cursor(instance_pk: int, customer_id: str) -> str:
    return cursors.encode("r", f"{instance_pk}:{customer_id}")


def decode_row_cursor(cursor: str) -> tuple[int, str] | None:
    pk, _, customer_id = (cursors.decode("r", cursor) or "").partition(":")
    return (int(pk), customer_id) if pk.isdigit() else None


@strawberry.type(description="Who entered and who left between two instances of a segment.")
class InstanceDiff:
    entered: list[strawberry.ID] = strawberry.field(description="In this instance, not the other.")
    left: list[strawberry.ID] = strawberry.field(description="In the other instance, not this one.")
    entered_count: int
    left_count: int


@strawberry.type(description="A snapshot of a segment's members at one run, with its measures.")
class SegmentInstance(Node):
    model: strawberry.Private[Instance]
    id: strawberry.ID
    segment_id: strawberry.ID
    segment_name: str
    created_at: datetime
    schedule: ScheduleEnum | None  # type: ignore[valid-type]
    segment_by: SegmentByEnum  # type: ignore[valid-type]
    num_of_customers: int
    num_of_orders: int = strawberry.field(
        description="Orders its members placed since the previous instance "
        "(or the segment's creation)."
    )
    total_revenue: float = strawberry.field(description="Their amount over the same window.")

    @classmethod
    def from_domain(cls, m: Instance) -> SegmentInstance:
        return cls(
            model=m,
            id=strawberry.ID(m.id),
            segment_id=strawberry.ID(m.segment_id),
            segment_name=m.segment_name,
            created_at=m.created_at,
            schedule=m.schedule,
            segment_by=m.segment_by,
            num_of_customers=m.num_customers,
            num_of_orders=m.num_orders,
            total_revenue=float(m.total_revenue),
        )

    def node_key(self) -> str:
        return self.model.id

    @strawberry.field(description="Its members that still exist, as they are now, by id.")
    async def members(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> CustomerConnection:
        pages = window(decode_cursor, first, after, last, before)
        page = await service.instance_members(info.context, self.model, pages)

        async def count() -> int:
            return await service.existing_member_count(info.context, self.model)

        return CustomerConnection(
            edges=edges_of(page, CustomerEdge, Customer.from_domain),
            page_info=page_info_of(page),
            count_loader=count,
        )

    @strawberry.field(description="Who entered and left since another instance of the segment.")
    async def diff(
        self, info: Info, other_instance_id: strawberry.ID, first: int | None = None
    ) -> InstanceDiff:
        try:
            d = await service.diff(
                info.context, self.model, str(other_instance_id), page_size(first)
            )
        except DomainError as exc:
            raise request_error(exc) from exc
        return InstanceDiff(
            entered=[strawberry.ID(i) for i in d.entered],
            left=[strawberry.ID(i) for i in d.left],
            entered_count=d.entered_count,
            left_count=d.left_count,
        )


@strawberry.type(description="An instance in a connection.")
class SegmentInstanceEdge:
    cursor: str
    node: SegmentInstance


@strawberry.type(description="A page of instances, newest first.")
class SegmentInstanceConnection:
    edges: list[SegmentInstanceEdge]
    page_info: PageInfo
    total_count: int


@strawberry.type(description="One member of one instance, flat, for analytics joins.")
class SegmentationRow:
    customer_identity: str = strawberry.field(description="Customer id or email, by segmentBy.")
    instance_created_date: datetime
    schedule: ScheduleEnum | None  # type: ignore[valid-type]
    segment_by: SegmentByEnum  # type: ignore[valid-type]
    segment_created_date: datetime
    segment_id: strawberry.ID
    segment_instance_id: strawberry.ID
    segment_name: str

    @classmethod
    def from_domain(cls, row: InstanceRow) -> SegmentationRow:
        i = row.instance
        return cls(
            customer_identity=row.identity,
            instance_created_date=i.created_at,
            schedule=i.schedule,
            segment_by=i.segment_by,
            segment_created_date=i.segment_created_at,
            segment_id=strawberry.ID(i.segment_id),
            segment_instance_id=strawberry.ID(i.id),
            segment_name=i.segment_name,
        )


@strawberry.type(description="A row in a connection.")
class SegmentationRowEdge:
    cursor: str
    node: SegmentationRow


@strawberry.type(description="A page of the segmentation table.")
class SegmentationRowConnection:
    edges: list[SegmentationRowEdge]
    page_info: PageInfo
    total_count: int


async def instance_connection(
    info: Info,
    segment: str | SegmentModel,
    first: int | None,
    after: str | None,
    last: int | None = None,
    before: str | None = None,
) -> SegmentInstanceConnection:
    """The instances of a segment given by id (read here), or already read (batched)."""
    pages = window(decode_instance_cursor, first, after, last, before)
    try:
        if isinstance(segment, str):
            page, total = await service.instance_page(info.context, segment, pages)
        else:
            page, total = await service.instance_pages(info.context, segment, pages)
    except DomainError as exc:
        raise request_error(exc) from exc
    keys = [encode_instance_cursor(i.pk) for i in page.items]
    return SegmentInstanceConnection(
        edges=[
            SegmentInstanceEdge(cursor=cur, node=SegmentInstance.from_domain(i))
            for cur, i in zip(keys, page.items, strict=True)
        ],
        page_info=page_info_of(replace(page, cursors=keys)),
        total_count=total,
    )
