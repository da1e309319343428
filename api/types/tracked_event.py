"""Tracked events as the API shows them."""

from __future__ import annotations

from datetime import datetime

import strawberry
from strawberry.scalars import JSON

from api.pagination import PageInfo
from persistence.tracked_events import StoredEvent


@strawberry.type(name="CustomerEvent", description="A tracked custom event of a customer.")
class CustomerEvent:
    id: strawberry.ID | None = strawberry.field(
        description="The client's idempotency key, if given."
    )
    name: str
    occurred_at: datetime
    properties: JSON

    @classmethod
    def from_stored(cls, e: StoredEvent) -> CustomerEvent:
        return cls(
            id=strawberry.ID(e.id) if e.id else None,
            name=e.name,
            occurred_at=e.occurred_at,
            properties=e.properties,
        )


@strawberry.type(description="An event in a connection.")
class CustomerEventEdge:
    cursor: str
    node: CustomerEvent


@strawberry.type(description="A page of a customer's events, newest first.")
class CustomerEventConnection:
    edges: list[CustomerEventEdge]
    page_info: PageInfo
    total_count: int
