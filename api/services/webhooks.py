"""Managing webhook endpoints and looking at their deliveries (ADMIN)."""

from __future__ import annotations

import asyncio
import dataclasses
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from api.context import Context
from api.services.predicates import Loader, memo
from domain.errors import DomainError, ErrorCode, segment_not_found
from domain.records import Page
from domain.webhook import (
    Delivery,
    DeliveryStatus,
    Endpoint,
    EventType,
    check_description,
    check_event_types,
    check_url,
    new_endpoint_id,
    new_secret,
    parse_delivery_id,
    refused_address,
)
from persistence.cursors import Slice
from persistence.settings import Settings
from persistence.unit_of_work import UnitOfWork

SECRET_OVERLAP = timedelta(hours=24)
ALL_EVENT_TYPES = list(EventType)


@dataclass(frozen=True)
class CreatedEndpoint:
    endpoint: Endpoint
    secret: str


async def resolved_addresses(host: str) -> list[str]:
    """Every address `host` resolves to (an address literal is its own)."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, None, type=socket.SOCK_STREAM)
    return sorted({str(info[4][0]) for info in infos})


async def check_destination(url: str, settings: Settings) -> None:
    """Refuses a URL that is not http(s), or plain http to a host not allowed, or that
    points at a loopback, link-local or private address (unless the operator allows
    them). Run when an endpoint is saved and again before every delivery."""
    host = check_url(url, settings.webhook_http_hosts)
    if settings.webhook_allow_private:
        return
    try:
        addresses = await resolved_addresses(host)
    except OSError as exc:
        raise DomainError(
            ErrorCode.WEBHOOK_URL_REFUSED, f"The host {host!r} does not resolve.", ["url"]
        ) from exc
    refused = [a for a in addresses if refused_address(a)]
    if refused:
        raise DomainError(
            ErrorCode.WEBHOOK_URL_REFUSED,
            f"The host {host!r} resolves to a loopback, link-local or private address"
            f" ({refused[0]}); set SEGMENTQL_WEBHOOK_ALLOW_PRIVATE=1 to allow them.",
            ["url"],
        )


async def _check_segments(uow: UnitOfWork, segment_ids: Sequence[str]) -> list[str]:
    for index, segment_id in enumerate(segment_ids):
        if await uow.segments.get(segment_id) is None:
            raise segment_not_found(segment_id, "segmentIds", str(index))
    return sorted(set(segment_ids))


async def _endpoint(uow: UnitOfWork, endpoint_id: str, field: str = "id") -> Endpoint:
    endpoint = await uow.webhooks.get(endpoint_id, lock=True)
    if endpoint is None:
        raise DomainError(
            ErrorCode.NOT_FOUND, f"There is no webhook endpoint {endpoint_id!r}.", [field]
        )
    return endpoint


async def create_endpoint(
    ctx: Context,
    url: str,
    segment_ids: Sequence[str] | None,
    event_types: Sequence[EventType] | None,
    description: str | None,
) -> CreatedEndpoint:
    await check_destination(url, ctx.runtime.settings)
    types = check_event_types(ALL_EVENT_TYPES if event_types is None else event_types)
    secret = new_secret()
    async with ctx.uow() as uow:
        segments = await _check_segments(uow, segment_ids or [])
        endpoint = await uow.webhooks.create(
            new_endpoint_id(), url, check_description(description), segments, types, secret
        )
        await uow.commit()
    return CreatedEndpoint(endpoint, secret)


async def list_endpoints(ctx: Context) -> list[Endpoint]:
    async with ctx.reading() as uow:
        return await uow.webhooks.all()


async def endpoint_page(
    ctx: Context, window: Slice[tuple[datetime, str]]
) -> tuple[Page[Endpoint], Loader]:
    async with ctx.reading() as uow:
        page = await uow.webhooks.page(window)

    async def count() -> int:
        async with ctx.reading() as uow:
            return await uow.webhooks.count()

    return page, memo(count)


async def update_endpoint(
    ctx: Context,
    endpoint_id: str,
    url: str | None = None,
    segment_ids: Sequence[str] | None = None,
    event_types: Sequence[EventType] | None = None,
    enabled: bool | None = None,
    description: str | None = None,
) -> Endpoint:
    """Changes what is given; null leaves a field as it was."""
    if url is not None:
        await check_destination(url, ctx.runtime.settings)
    async with ctx.uow() as uow:
        endpoint = await _endpoint(uow, endpoint_id)
        changes: dict[str, object] = {}
        if url is not None:
            changes["url"] = url
        if segment_ids is not None:
            changes["segment_ids"] = await _check_segments(uow, segment_ids)
        if event_types is not None:
            changes["event_types"] = check_event_types(event_types)
        if enabled is not None:
            changes["enabled"] = enabled
            if enabled:
                changes["disabled_reason"] = None
        if description is not None:
            changes["description"] = check_description(description)
        endpoint = dataclasses.replace(endpoint, **changes)  # type: ignore[arg-type]
        await uow.webhooks.save(endpoint)
        if enabled:
            await uow.webhooks.wake_senders()
        await uow.commit()
    return endpoint


async def delete_endpoint(ctx: Context, endpoint_id: str) -> str:
    async with ctx.uow() as uow:
        await _endpoint(uow, endpoint_id)
        await uow.webhooks.delete(endpoint_id)
        await uow.commit()
    return endpoint_id


async def rotate_secret(ctx: Context, endpoint_id: str) -> CreatedEndpoint:
    """A new secret; the old one keeps signing beside it for 24 hours."""
    secret = new_secret()
    async with ctx.uow() as uow:
        endpoint = await _endpoint(uow, endpoint_id)
        endpoint = dataclasses.replace(
            endpoint,
            secret=secret,
            previous_secret=endpoint.secret,
            previous_secret_until=ctx.runtime.clock() + SECRET_OVERLAP,
        )
        await uow.webhooks.save(endpoint)
        await uow.commit()
    return CreatedEndpoint(endpoint, secret)


async def deliveries(
    ctx: Context, endpoint_id: str, status: DeliveryStatus | None, after_seq: int, limit: int
) -> list[Delivery]:
    async with ctx.reading() as uow:
        if await uow.webhooks.get(endpoint_id) is None:
            raise DomainError(
                ErrorCode.NOT_FOUND,
                f"There is no webhook endpoint {endpoint_id!r}.",
                ["endpointId"],
            )
        return await uow.webhooks.deliveries(endpoint_id, status, after_seq, limit)


async def retry_delivery(ctx: Context, delivery_id: str) -> Delivery:
    key = parse_delivery_id(delivery_id)
    async with ctx.uow() as uow:
        delivery = None if key is None else await uow.webhooks.retry(*key)
        if delivery is None:
            raise DomainError(
                ErrorCode.NOT_FOUND, f"There is no webhook delivery {delivery_id!r}.", ["id"]
            )
        await uow.webhooks.wake_senders()
        await uow.commit()
    return delivery


async def replay(ctx: Context, endpoint_id: str, after_event_id: str) -> int:
    """Sends again every kept event after `after_event_id` the endpoint has reached."""
    if not after_event_id.isdigit():
        raise DomainError(ErrorCode.INVALID, "An event id is a whole number.", ["afterEventId"])
    async with ctx.uow() as uow:
        endpoint = await _endpoint(uow, endpoint_id, "endpointId")
        count = await uow.webhooks.replay(endpoint, int(after_event_id))
        await uow.webhooks.wake_senders()
        await uow.commit()
    return count
