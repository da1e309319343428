"""segmentCreate, segmentUpdate, segmentDelete, segmentUsageAttach/Detach."""

from __future__ import annotations

from collections.abc import Awaitable

import strawberry
from strawberry.scalars import JSON

from api.context import Info
from api.errors import UserError, user_errors
from api.permissions import CanWrite
from api.services import segments as service
from api.types.segment import Segment, UsageKindEnum
from domain.errors import DomainError, ValidationFailed
from domain.segment import Segment as SegmentModel


@strawberry.input(description="Exactly one of predicate, customerIds, fromSegmentId.")
class SegmentCreateInput:
    name: str
    description: str | None = None
    predicate: JSON | None = strawberry.field(
        default=None, description="A dynamic segment (PASSIVE)."
    )
    customer_ids: list[strawberry.ID] | None = strawberry.field(
        default=None, description="A STATIC segment of 1..20000 existing customers."
    )
    from_segment_id: strawberry.ID | None = strawberry.field(
        default=None, description="A STATIC segment frozen from another segment's current members."
    )
    static: bool | None = strawberry.field(
        default=None, description="With predicate: a STATIC segment of its current members instead."
    )


@strawberry.input(description="Omitted fields are unchanged; description: null clears it.")
class SegmentUpdateInput:
    name: str | None = strawberry.UNSET
    description: str | None = strawberry.UNSET
    predicate: JSON | None = strawberry.UNSET


@strawberry.type
class SegmentPayload:
    segment: Segment | None
    user_errors: list[UserError]


@strawberry.type
class SegmentDeletePayload:
    deleted_segment_id: strawberry.ID | None
    user_errors: list[UserError]


async def segment_payload(work: Awaitable[SegmentModel]) -> SegmentPayload:
    """The payload of a mutation that returns a segment: the segment, or why not."""
    try:
        model = await work
    except (DomainError, ValidationFailed) as exc:
        return SegmentPayload(segment=None, user_errors=user_errors(exc))
    return SegmentPayload(segment=Segment.from_domain(model), user_errors=[])


def _given(value: object) -> bool:
    return value is not strawberry.UNSET and value is not None


@strawberry.type
class SegmentMutations:
    @strawberry.mutation(permission_classes=[CanWrite], description="Create a segment.")
    async def segment_create(self, info: Info, input: SegmentCreateInput) -> SegmentPayload:
        request = service.CreateRequest(
            name=input.name,
            description=input.description,
            predicate=input.predicate,
            customer_ids=[str(i) for i in input.customer_ids]
            if input.customer_ids is not None
            else None,
            from_segment_id=str(input.from_segment_id) if input.from_segment_id else None,
            static=bool(input.static),
        )
        return await segment_payload(service.create_segment(info.context, request))

    @strawberry.mutation(
        permission_classes=[CanWrite],
        description="Rename, describe, or (PASSIVE only) change the predicate of a segment.",
    )
    async def segment_update(
        self, info: Info, id: strawberry.ID, input: SegmentUpdateInput
    ) -> SegmentPayload:
        request = service.UpdateRequest(
            name=input.name if _given(input.name) else None,
            description=input.description if _given(input.description) else None,
            clear_description=input.description is None,
            predicate=input.predicate if _given(input.predicate) else None,
        )
        return await segment_payload(service.update_segment(info.context, str(id), request))

    @strawberry.mutation(
        permission_classes=[CanWrite],
        description="Delete a segment for good; refused while it is used or referenced.",
    )
    async def segment_delete(self, info: Info, id: strawberry.ID) -> SegmentDeletePayload:
        try:
            deleted = await service.delete_segment(info.context, str(id))
        except (DomainError, ValidationFailed) as exc:
            return SegmentDeletePayload(deleted_segment_id=None, user_errors=user_errors(exc))
        return SegmentDeletePayload(deleted_segment_id=strawberry.ID(deleted), user_errors=[])

    @strawberry.mutation(
        permission_classes=[CanWrite],
        description="Record a usage; an activating kind turns a PASSIVE segment ACTIVE for good.",
    )
    async def segment_usage_attach(
        self,
        info: Info,
        segment_id: strawberry.ID,
        kind: UsageKindEnum,  # type: ignore[valid-type]
        reference: str,
    ) -> SegmentPayload:
        return await segment_payload(
            service.attach_usage(info.context, str(segment_id), kind, reference)
        )

    @strawberry.mutation(
        permission_classes=[CanWrite],
        description="Forget a usage. An ACTIVE segment stays ACTIVE.",
    )
    async def segment_usage_detach(
        self,
        info: Info,
        segment_id: strawberry.ID,
        kind: UsageKindEnum,  # type: ignore[valid-type]
        reference: str,
    ) -> SegmentPayload:
        return await segment_payload(
            service.detach_usage(info.context, str(segment_id), kind, reference)
        )
