"""segmentEvents: the log of ACTIVE segments' transitions, oldest first."""

from __future__ import annotations

import strawberry

from api.context import Info
from api.errors import request_error
from api.pagination import page_info, page_size
from api.services import events as service
from api.types.event import SegmentEvent, SegmentEventConnection, SegmentEventEdge
from domain.errors import DomainError


@strawberry.type
class EventQueries:
    @strawberry.field(
        description="Transitions of ACTIVE segments, oldest first; `after` is an event id."
    )
    async def segment_events(
        self,
        info: Info,
        segment_id: strawberry.ID | None = None,
        after: str | None = None,
        first: int | None = None,
    ) -> SegmentEventConnection:
        try:
            events, more, total = await service.event_page(
                info.context, str(segment_id) if segment_id else None, after, page_size(first)
            )
        except DomainError as exc:
            raise request_error(exc) from exc
        cursors = [str(e.seq) for e in events]
        return SegmentEventConnection(
            edges=[
                SegmentEventEdge(cursor=cur, node=SegmentEvent.from_log(e))
                for cur, e in zip(cursors, events, strict=True)
            ],
            page_info=page_info(cursors, more, after),
            total_count=total,
        )
