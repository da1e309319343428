"""eventsTrack."""

from __future__ import annotations

from datetime import datetime

import strawberry
from strawberry.scalars import JSON

from api.context import Info
from api.errors import UserError, user_errors
from api.inputs.customer import provided
from api.permissions import CanWrite
from api.services import tracked_events as service
from domain.errors import DomainError, ValidationFailed


@strawberry.input(description="A tracked event of an existing customer.")
class EventInput:
    customer_id: strawberry.ID
    name: str = strawberry.field(description='e.g. "checkout_started"; 1..255 characters.')
    occurred_at: datetime | None = strawberry.field(
        default=strawberry.UNSET, description="Default: now."
    )
    properties: JSON | None = strawberry.field(
        default=strawberry.UNSET, description="Free-form JSON object, at most 16 KB."
    )
    id: str | None = strawberry.field(
        default=strawberry.UNSET, description="Idempotency key: the same id twice is stored once."
    )


@strawberry.type
class EventsTrackPayload:
    tracked_count: int
    user_errors: list[UserError]


@strawberry.type
class TrackedEventMutations:
    @strawberry.mutation(
        permission_classes=[CanWrite],
        description="Track 1..1000 events in one transaction: all or nothing.",
    )
    async def events_track(self, info: Info, events: list[EventInput]) -> EventsTrackPayload:
        try:
            count = await service.track(info.context, provided(events))
        except (DomainError, ValidationFailed) as exc:
            return EventsTrackPayload(tracked_count=0, user_errors=user_errors(exc))
        return EventsTrackPayload(tracked_count=count, user_errors=[])
