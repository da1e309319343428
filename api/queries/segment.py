"""segment, segments, segmentMembership."""

from __future__ import annotations

import strawberry

from api.context import Info
from api.errors import request_error
from api.pagination import edges_of, page_info_of, window
from api.services import segment_reads as reads
from api.types.segment import (
    MembershipCheck,
    Segment,
    SegmentConnection,
    SegmentEdge,
    SegmentKindEnum,
)
from domain.errors import DomainError
from persistence.segments import decode_segment_cursor


@strawberry.type
class SegmentQueries:
    @strawberry.field(description="One segment by id.")
    async def segment(self, info: Info, id: strawberry.ID) -> Segment | None:
        model = await reads.get_segment(info.context, str(id))
        return Segment.from_domain(model) if model else None

    @strawberry.field(
        description=(
            "Segments, oldest first; `search` matches names, `kind` filters; "
            "`last`/`before` page backward."
        )
    )
    async def segments(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        search: str | None = None,
        kind: SegmentKindEnum | None = None,  # type: ignore[valid-type]
        last: int | None = None,
        before: str | None = None,
    ) -> SegmentConnection:
        pages = window(decode_segment_cursor, first, after, last, before)
        page, count = await reads.segment_page(info.context, pages, search, kind)
        return SegmentConnection(
            edges=edges_of(page, SegmentEdge, Segment.from_domain),
            page_info=page_info_of(page),
            count_loader=count,
        )

    @strawberry.field(description="Whether the customer is in the segment, evaluated live now.")
    async def segment_membership(
        self, info: Info, segment_id: strawberry.ID, customer_id: strawberry.ID
    ) -> MembershipCheck:
        try:
            inside, at = await reads.is_member(info.context, str(segment_id), str(customer_id))
        except DomainError as exc:
            raise request_error(exc) from exc
        return MembershipCheck(is_member=inside, evaluated_at=at)
