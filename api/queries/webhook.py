"""webhookEndpoints, webhookDeliveries (ADMIN)."""

from __future__ import annotations

import strawberry

from api.context import Info
from api.errors import request_error
from api.pagination import edges_of, page_info, page_info_of, page_size, window
from api.permissions import IsAdmin
from api.services import webhooks as service
from api.types.webhook import (
    WebhookDelivery,
    WebhookDeliveryConnection,
    WebhookDeliveryEdge,
    WebhookDeliveryStatusEnum,
    WebhookEndpoint,
    WebhookEndpointConnection,
    WebhookEndpointEdge,
    decode_delivery_cursor,
    encode_delivery_cursor,
)
from domain.errors import DomainError
from persistence.webhooks import decode_endpoint_cursor


@strawberry.type
class WebhookQueries:
    @strawberry.field(
        permission_classes=[IsAdmin], description="The workspace's webhook endpoints, oldest first."
    )
    async def webhook_endpoints(self, info: Info) -> list[WebhookEndpoint]:
        return [WebhookEndpoint.from_domain(e) for e in await service.list_endpoints(info.context)]

    @strawberry.field(
        permission_classes=[IsAdmin],
        description=(
            "The workspace's webhook endpoints as a connection, oldest first: "
            "`first`/`after` forward, `last`/`before` backward."
        ),
    )
    async def webhook_endpoints_connection(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> WebhookEndpointConnection:
        pages = window(decode_endpoint_cursor, first, after, last, before)
        page, count = await service.endpoint_page(info.context, pages)
        return WebhookEndpointConnection(
            edges=edges_of(page, WebhookEndpointEdge, WebhookEndpoint.from_domain),
            page_info=page_info_of(page),
            count_loader=count,
        )

    @strawberry.field(
        permission_classes=[IsAdmin],
        description="An endpoint's deliveries, oldest event first; filter by status.",
    )
    async def webhook_deliveries(
        self,
        info: Info,
        endpoint_id: strawberry.ID,
        status: WebhookDeliveryStatusEnum | None = None,  # type: ignore[valid-type]
        first: int | None = None,
        after: str | None = None,
    ) -> WebhookDeliveryConnection:
        limit = page_size(first)
        try:
            found = await service.deliveries(
                info.context, str(endpoint_id), status, decode_delivery_cursor(after), limit + 1
            )
        except DomainError as exc:
            raise request_error(exc) from exc
        page = found[:limit]
        edges = [
            WebhookDeliveryEdge(
                cursor=encode_delivery_cursor(d.seq), node=WebhookDelivery.from_domain(d)
            )
            for d in page
        ]
        return WebhookDeliveryConnection(
            edges=edges, page_info=page_info([e.cursor for e in edges], len(found) > limit, after)
        )
