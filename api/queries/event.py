"""segmentEvents: the log of ACTIVE segments' transitions, oldest first."""

from __future__ import annotations

import strawberry

from api.context import Info
from api.errors import request_error
from api.pagination import edges_of, page_info_of, window
from api.services import events as service
from api.types.event import SegmentEvent, SegmentEventConnection, SegmentEventEdge
from domain.errors import DomainError


@strawberry.type
class EventQueries:
    @strawberry.field(
        description=(
            "Transitions of ACTIVE segments, oldest first; `after` and `before` are event ids "
            "(`last`/`before` page backward)."
        )
    )
    async def segment_events(
        self,
        info: Info,
        segment_id: strawberry.ID | None = None,
        after: str | None = None,
        first: int | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> SegmentEventConnection:
        pages = window(str, first, after, last, before)  # event ids, checked by the service
        try:
            page, total = await service.event_page(
                info.context, str(segment_id) if segment_id else None, pages
            )
        except DomainError as exc:
            raise request_error(exc) from exc
        return SegmentEventConnection(
            edges=edges_of(page, SegmentEventEdge, SegmentEvent.from_log),
            page_info=page_info_of(page),
            total_count=total,
        )
