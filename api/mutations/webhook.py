"""webhookEndpointCreate/Update/Delete/RotateSecret, webhookDeliveryRetry,
webhookEndpointReplay (ADMIN)."""

from __future__ import annotations

from collections.abc import Awaitable

import strawberry

from api.context import Info
from api.errors import UserError, user_errors
from api.permissions import IsAdmin
from api.services import webhooks as service
from api.types.webhook import WebhookDelivery, WebhookEndpoint, WebhookEventTypeEnum
from domain.errors import DomainError, ValidationFailed
from domain.webhook import Endpoint


@strawberry.type(description="The endpoint changed, or why not.")
class WebhookEndpointPayload:
    endpoint: WebhookEndpoint | None = strawberry.field(description="The endpoint as saved.")
    user_errors: list[UserError] = strawberry.field(description="Why nothing changed.")


@strawberry.type(description="The endpoint and its new signing secret, shown this once.")
class WebhookEndpointSecretPayload:
    endpoint: WebhookEndpoint | None = strawberry.field(description="The endpoint as saved.")
    secret: str | None = strawberry.field(
        description="whsec_...: verify signatures with it. Never shown again."
    )
    user_errors: list[UserError] = strawberry.field(description="Why nothing changed.")


@strawberry.type(description="The id of the endpoint deleted, or why not.")
class WebhookEndpointDeletePayload:
    deleted_id: strawberry.ID | None = strawberry.field(description="The endpoint deleted.")
    user_errors: list[UserError] = strawberry.field(description="Why nothing changed.")


@strawberry.type(description="The delivery made due again, or why not.")
class WebhookDeliveryPayload:
    delivery: WebhookDelivery | None = strawberry.field(description="The delivery, PENDING.")
    user_errors: list[UserError] = strawberry.field(description="Why nothing changed.")


@strawberry.type(description="How many deliveries were made due again, or why none.")
class WebhookReplayPayload:
    deliveries: int = strawberry.field(description="Deliveries queued.")
    user_errors: list[UserError] = strawberry.field(description="Why nothing changed.")


async def _endpoint_payload(work: Awaitable[Endpoint]) -> WebhookEndpointPayload:
    try:
        endpoint = await work
    except (DomainError, ValidationFailed) as exc:
        return WebhookEndpointPayload(endpoint=None, user_errors=user_errors(exc))
    return WebhookEndpointPayload(endpoint=WebhookEndpoint.from_domain(endpoint), user_errors=[])


async def _secret_payload(
    work: Awaitable[service.CreatedEndpoint],
) -> WebhookEndpointSecretPayload:
    try:
        created = await work
    except (DomainError, ValidationFailed) as exc:
        return WebhookEndpointSecretPayload(
            endpoint=None, secret=None, user_errors=user_errors(exc)
        )
    return WebhookEndpointSecretPayload(
        endpoint=WebhookEndpoint.from_domain(created.endpoint),
        secret=created.secret,
        user_errors=[],
    )


@strawberry.type
class WebhookMutations:
    @strawberry.mutation(
        permission_classes=[IsAdmin],
        description="A new endpoint for the events recorded from now on; its secret is"
        " returned this once. eventTypes defaults to all; segmentIds empty means all.",
    )
    async def webhook_endpoint_create(
        self,
        info: Info,
        url: str,
        segment_ids: list[strawberry.ID] | None = None,
        event_types: list[WebhookEventTypeEnum] | None = None,  # type: ignore[valid-type]
        description: str | None = None,
    ) -> WebhookEndpointSecretPayload:
        segments = None if segment_ids is None else [str(s) for s in segment_ids]
        return await _secret_payload(
            service.create_endpoint(info.context, url, segments, event_types, description)
        )

    @strawberry.mutation(
        permission_classes=[IsAdmin],
        description="Change an endpoint's URL, filters, description or enabled; null keeps."
        " Enabling clears the reason it was disabled for.",
    )
    async def webhook_endpoint_update(
        self,
        info: Info,
        id: strawberry.ID,
        url: str | None = None,
        segment_ids: list[strawberry.ID] | None = None,
        event_types: list[WebhookEventTypeEnum] | None = None,  # type: ignore[valid-type]
        enabled: bool | None = None,
        description: str | None = None,
    ) -> WebhookEndpointPayload:
        segments = None if segment_ids is None else [str(s) for s in segment_ids]
        return await _endpoint_payload(
            service.update_endpoint(
                info.context, str(id), url, segments, event_types, enabled, description
            )
        )

    @strawberry.mutation(
        permission_classes=[IsAdmin], description="Delete an endpoint and its deliveries."
    )
    async def webhook_endpoint_delete(
        self, info: Info, id: strawberry.ID
    ) -> WebhookEndpointDeletePayload:
        try:
            deleted = await service.delete_endpoint(info.context, str(id))
        except DomainError as exc:
            return WebhookEndpointDeletePayload(deleted_id=None, user_errors=user_errors(exc))
        return WebhookEndpointDeletePayload(deleted_id=strawberry.ID(deleted), user_errors=[])

    @strawberry.mutation(
        permission_classes=[IsAdmin],
        description="A new signing secret, returned this once; the old one keeps signing"
        " beside it for 24 hours.",
    )
    async def webhook_endpoint_rotate_secret(
        self, info: Info, id: strawberry.ID
    ) -> WebhookEndpointSecretPayload:
        return await _secret_payload(service.rotate_secret(info.context, str(id)))

    @strawberry.mutation(
        permission_classes=[IsAdmin],
        description="Send a delivery again now, its attempts counted afresh.",
    )
    async def webhook_delivery_retry(self, info: Info, id: strawberry.ID) -> WebhookDeliveryPayload:
        try:
            delivery = await service.retry_delivery(info.context, str(id))
        except DomainError as exc:
            return WebhookDeliveryPayload(delivery=None, user_errors=user_errors(exc))
        return WebhookDeliveryPayload(
            delivery=WebhookDelivery.from_domain(delivery), user_errors=[]
        )

    @strawberry.mutation(
        permission_classes=[IsAdmin],
        description="Send again every kept event after afterEventId the endpoint has"
        " reached, in order.",
    )
    async def webhook_endpoint_replay(
        self, info: Info, endpoint_id: strawberry.ID, after_event_id: strawberry.ID
    ) -> WebhookReplayPayload:
        try:
            count = await service.replay(info.context, str(endpoint_id), str(after_event_id))
        except DomainError as exc:
            return WebhookReplayPayload(deliveries=0, user_errors=user_errors(exc))
        return WebhookReplayPayload(deliveries=count, user_errors=[])
