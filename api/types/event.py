"""Membership events of ACTIVE segments."""

from __future__ import annotations

from datetime import datetime

import strawberry

from api.context import Info
from api.pagination import PageInfo
from api.services.customers import get_customer
from api.shared_events import SharedResults, results_for
from api.types.customer import Customer
from domain.membership import MembershipEventKind
from persistence.event_log import LoggedEvent

MembershipEventKindEnum = strawberry.enum(
    MembershipEventKind,
    name="MembershipEventKind",
    description="A customer entered or left an ACTIVE segment.",
)


@strawberry.type(description="A customer entered or left an ACTIVE segment.")
class SegmentEvent:
    id: strawberry.ID = strawberry.field(
        description="Also the resume cursor; strictly increasing per workspace."
    )
    kind: MembershipEventKindEnum  # type: ignore[valid-type]
    segment_id: strawberry.ID
    customer_id: strawberry.ID
    occurred_at: datetime
    shared_results: strawberry.Private[SharedResults | None] = None
    """Live events only: their subscribers' shared executions (api.shared_events)."""

    @classmethod
    def from_log(cls, event: LoggedEvent, live: bool = False) -> SegmentEvent:
        return cls(
            id=strawberry.ID(str(event.seq)),
            kind=MembershipEventKind(event.kind),
            segment_id=strawberry.ID(event.segment_id),
            customer_id=strawberry.ID(event.customer_id),
            occurred_at=event.occurred_at,
            shared_results=results_for(event) if live else None,
        )

    @strawberry.field(description="The customer now; null if since deleted.")
    async def customer(self, info: Info) -> Customer | None:
        view = await get_customer(info.context, str(self.customer_id))
        return Customer.from_domain(view) if view else None


@strawberry.type(description="An event in a connection; its cursor is its id.")
class SegmentEventEdge:
    cursor: str
    node: SegmentEvent


@strawberry.type(description="A page of the event log, oldest first.")
class SegmentEventConnection:
    edges: list[SegmentEventEdge]
    page_info: PageInfo
    total_count: int
