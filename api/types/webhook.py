"""Webhook endpoints and their deliveries."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime

import strawberry

from api.pagination import PageInfo, bad_cursor
from api.types.node import Node
from domain.webhook import Delivery, DeliveryStatus, Endpoint, EventType
from persistence import cursors

WebhookEventTypeEnum = strawberry.enum(
    EventType, name="WebhookEventType", description="What an endpoint can be sent."
)
WebhookDeliveryStatusEnum = strawberry.enum(
    DeliveryStatus,
    name="WebhookDeliveryStatus",
    description="PENDING until a 2xx answer (DELIVERED) or given up after 10 attempts (FAILED).",
)


@strawberry.type(description="A URL that receives signed segment events (Standard Webhooks).")
class WebhookEndpoint(Node):
    id: strawberry.ID = strawberry.field(description="Stable id, whe_...")
    url: str = strawberry.field(description="Where events are POSTed.")
    description: str | None = strawberry.field(description="Free text for people.")
    segment_ids: list[strawberry.ID] = strawberry.field(
        description="Only these segments' events; empty means every segment."
    )
    event_types: list[WebhookEventTypeEnum] = strawberry.field(  # type: ignore[valid-type]
        description="Only these kinds of event."
    )
    enabled: bool = strawberry.field(
        description="False when turned off, or disabled after failing for 3 days."
    )
    disabled_reason: str | None = strawberry.field(
        description="Why the service disabled it, if it did."
    )
    failing_since: datetime | None = strawberry.field(
        description="First failed attempt since the last success."
    )
    created_at: datetime = strawberry.field(description="When it was created.")

    @classmethod
    def from_domain(cls, endpoint: Endpoint) -> WebhookEndpoint:
        return cls(
            id=strawberry.ID(endpoint.id),
            url=endpoint.url,
            description=endpoint.description,
            segment_ids=[strawberry.ID(s) for s in endpoint.segment_ids],
            event_types=endpoint.event_types,
            enabled=endpoint.enabled,
            disabled_reason=endpoint.disabled_reason,
            failing_since=endpoint.failing_since,
            created_at=endpoint.created_at,
        )

    def node_key(self) -> str:
        return str(self.id)


@strawberry.type(description="An endpoint in a connection.")
class WebhookEndpointEdge:
    cursor: str = strawberry.field(description="Pass as `after` (or `before`) to page on.")
    node: WebhookEndpoint = strawberry.field(description="The endpoint.")


@strawberry.type(description="A page of the workspace's webhook endpoints, oldest first.")
class WebhookEndpointConnection:
    edges: list[WebhookEndpointEdge] = strawberry.field(description="This page.")
    page_info: PageInfo = strawberry.field(description="Where the page sits.")
    count_loader: strawberry.Private[Callable[[], Awaitable[int]]]

    @strawberry.field(description="How many endpoints the workspace has (counted when asked).")
    async def total_count(self) -> int:
        return await self.count_loader()


@strawberry.type(description="One event for one endpoint, and how sending it went.")
class WebhookDelivery:
    id: strawberry.ID = strawberry.field(
        description="Stable id; also the message's webhook-id header."
    )
    endpoint_id: strawberry.ID = strawberry.field(description="The endpoint it goes to.")
    event_id: strawberry.ID = strawberry.field(description="The segment event's id.")
    event_type: WebhookEventTypeEnum = strawberry.field(  # type: ignore[valid-type]
        description="SEGMENT_ENTERED or SEGMENT_LEFT."
    )
    segment_id: strawberry.ID = strawberry.field(description="The segment of the event.")
    customer_id: strawberry.ID = strawberry.field(description="The customer of the event.")
    occurred_at: datetime = strawberry.field(description="When the event happened.")
    status: WebhookDeliveryStatusEnum = strawberry.field(  # type: ignore[valid-type]
        description="PENDING, DELIVERED or FAILED."
    )
    attempts: int = strawberry.field(description="Attempts made so far.")
    last_status_code: int | None = strawberry.field(
        description="HTTP status of the last answer; null when none came."
    )
    last_error: str | None = strawberry.field(description="What went wrong last time.")
    last_attempt_at: datetime | None = strawberry.field(description="When it was last tried.")
    next_attempt_at: datetime | None = strawberry.field(
        description=(
            "When it is tried next (PENDING only; null while it waits for an earlier"
            " delivery to the same customer)."
        )
    )
    delivered_at: datetime | None = strawberry.field(description="When a 2xx answer came.")

    @classmethod
    def from_domain(cls, d: Delivery) -> WebhookDelivery:
        return cls(
            id=strawberry.ID(d.id),
            endpoint_id=strawberry.ID(d.endpoint_id),
            event_id=strawberry.ID(str(d.seq)),
            event_type=d.event_type,
            segment_id=strawberry.ID(d.segment_id),
            customer_id=strawberry.ID(d.customer_id),
            occurred_at=d.occurred_at,
            status=d.status,
            attempts=d.attempts,
            last_status_code=d.last_status_code,
            last_error=d.last_error,
            last_attempt_at=d.last_attempt_at,
            next_attempt_at=d.next_attempt_at,
            delivered_at=d.delivered_at,
        )


@strawberry.type(description="A delivery in a connection.")
class WebhookDeliveryEdge:
    cursor: str = strawberry.field(description="Pass as `after` for what follows.")
    node: WebhookDelivery = strawberry.field(description="The delivery.")


@strawberry.type(description="An endpoint's deliveries, oldest event first.")
class WebhookDeliveryConnection:
    edges: list[WebhookDeliveryEdge] = strawberry.field(description="This page.")
    page_info: PageInfo = strawberry.field(description="Where the page sits.")


def encode_delivery_cursor(seq: int) -> str:
    return cursors.encode("wd", str(seq))


def decode_delivery_cursor(cursor: str | None) -> int:
    if cursor is None:
        return 0
    key = cursors.decode("wd", cursor)
    if key is None or not key.isdigit():
        raise bad_cursor(cursor)
    return int(key)
