"""segmentPreview, segmentImpact and segmentFields."""

from __future__ import annotations

import strawberry
from strawberry.scalars import JSON

from api.context import Info
from api.errors import user_errors
from api.pagination import window
from api.services import impact
from api.services import predicates as service
from api.types.customer import CustomerConnection
from api.types.impact import SegmentImpact
from api.types.predicate import FieldDescriptor, SegmentPreview
from domain.errors import DomainError, ValidationFailed
from persistence.customers import decode_cursor


@strawberry.type
class PredicateQueries:
    @strawberry.field(
        description="Evaluate an unsaved predicate live: counts and a first page; nothing saved."
    )
    async def segment_preview(
        self,
        info: Info,
        predicate: JSON,
        first: int | None = None,
        after: str | None = None,
        search: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> SegmentPreview:
        pages = window(decode_cursor, first, after, last, before)
        try:
            result = await service.preview(info.context, predicate, pages, search)
        except (DomainError, ValidationFailed) as exc:
            return SegmentPreview(
                user_errors=user_errors(exc),
                columns=[],
                members=None,
                count_loader=None,
                total_loader=None,
            )
        return SegmentPreview(
            user_errors=[],
            columns=result.columns,
            members=CustomerConnection.of(result.page, result.count),
            count_loader=result.count,
            total_loader=result.total,
        )

    @strawberry.field(
        description=(
            "What saving `predicate` as a PASSIVE segment's new predicate would change now: "
            "who would leave, who would enter; nothing saved."
        )
    )
    async def segment_impact(
        self, info: Info, segment_id: strawberry.ID, predicate: JSON
    ) -> SegmentImpact:
        try:
            found = await impact.impact(info.context, str(segment_id), predicate)
        except (DomainError, ValidationFailed) as exc:
            return SegmentImpact(
                user_errors=user_errors(exc), columns=[], leaving=None, entering=None
            )
        return SegmentImpact.of(found)

    @strawberry.field(
        description="Every field path a predicate may use: type, operators, allowed values, scope."
    )
    async def segment_fields(self, info: Info) -> list[FieldDescriptor]:
        descriptors, event_names = await service.field_catalog(info.context)
        return [FieldDescriptor.from_domain(d, event_names) for d in descriptors]
