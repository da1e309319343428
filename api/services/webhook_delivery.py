"""Sending webhooks: the background job that turns the event log into signed POSTs.

Each run writes deliveries for new events (persistence.webhooks.fan_out), then
leases due deliveries a batch at a time and sends each batch concurrently,
until nothing is due. Several processes may run it at once.
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
from dataclasses import dataclass
from datetime import datetime

import httpx
from standardwebhooks.webhooks import Webhook

from api.runtime import Runtime
from api.services.webhooks import check_destination
from domain.errors import DomainError
from domain.webhook import MAX_ATTEMPTS, retry_delay_s
from persistence.settings import Settings
from persistence.webhooks import Claimed, Outcome, claim, fan_out, record

log = logging.getLogger("segmentql.webhooks")

MAX_RESPONSE_BYTES = 64 * 1024
CLAIM_BATCH = 64
"""Leased and sent at once: httpx's pool costs grow with requests times connections."""
BATCHES_BETWEEN_FAN_OUTS = 50
"""While deliveries keep coming due, new events are fanned out every this many batches."""


@dataclass(frozen=True)
class Answer:
    """What one request got: a status code, and an error unless it was a 2xx."""

    status_code: int | None
    error: str | None


def signed_request(claimed: Claimed, now: datetime) -> tuple[dict[str, str], bytes]:
    """Standard Webhooks headers and body, signed with each secret in use."""
    delivery = claimed.delivery
    body = json.dumps(delivery.body(), separators=(",", ":"))
    signatures = " ".join(
        Webhook(secret).sign(delivery.id, now, body) for secret in claimed.secrets
    )
    headers = {
        "content-type": "application/json",
        "webhook-id": delivery.id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": signatures,
    }
    return headers, body.encode()


async def _read_some(response: httpx.Response) -> bytes:
    """At most MAX_RESPONSE_BYTES of the body: a receiver cannot make us read more."""
    kept = b""
    async for chunk in response.aiter_bytes():
        kept += chunk
        if len(kept) >= MAX_RESPONSE_BYTES:
            break
    return kept[:MAX_RESPONSE_BYTES]


async def send(client: httpx.AsyncClient, runtime: Runtime, claimed: Claimed) -> Answer:
    """One attempt. The destination is checked again here: DNS may have changed."""
    try:
        await check_destination(claimed.url, runtime.settings)
    except DomainError as exc:
        return Answer(None, exc.message)
    headers, body = signed_request(claimed, runtime.clock())
    try:
        async with client.stream("POST", claimed.url, headers=headers, content=body) as response:
            answer = await _read_some(response)
    except httpx.HTTPError as exc:
        return Answer(None, f"{type(exc).__name__}: {exc}"[:500] or type(exc).__name__)
    if 200 <= response.status_code < 300:
        return Answer(response.status_code, None)
    text = answer[:300].decode("utf-8", "replace")
    return Answer(response.status_code, f"HTTP {response.status_code}: {text}")


def client(runtime: Runtime) -> httpx.AsyncClient:
    """The process's HTTP client, kept for its connections: no redirects followed, the
    request timeout from settings, a connection kept open for each of a batch's sends.

    TCP_NODELAY: a request goes out as two writes (headers, body); without it the
    body can wait for the receiver's delayed ACK of the headers (~40 ms a request)."""
    found = runtime.extras.get("webhook_client")
    if found is None:
        limits = httpx.Limits(max_connections=CLAIM_BATCH, max_keepalive_connections=CLAIM_BATCH)
        transport = httpx.AsyncHTTPTransport(
            limits=limits, socket_options=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)]
        )
        found = runtime.extras["webhook_client"] = httpx.AsyncClient(
            transport=transport,
            follow_redirects=False,
            timeout=runtime.settings.webhook_timeout_s,
        )
    assert isinstance(found, httpx.AsyncClient)
    return found


def outcome(settings: Settings, claimed: Claimed, answer: Answer) -> Outcome:
    """The answer as the delivery's fate: delivered, due again after a backoff, or given up."""
    if answer.error is None:
        return Outcome(claimed, answer.status_code, None)
    attempts = claimed.delivery.attempts
    retry_in = (
        None
        if attempts >= MAX_ATTEMPTS
        else retry_delay_s(attempts, settings.webhook_backoff_base_ms / 1000)
    )
    return Outcome(claimed, answer.status_code, answer.error, retry_in)


async def deliver_webhooks(runtime: Runtime) -> int:
    """Fan out new events, then send what is due, a batch at a time, until nothing is
    due (fanning out again now and then); the number delivered."""
    delivered = 0
    while True:
        async with runtime.engine.begin() as conn:
            await fan_out(conn)
        for _ in range(BATCHES_BETWEEN_FAN_OUTS):
            sent = await _send_a_batch(runtime)
            if sent is None:
                return delivered
            delivered += sent


async def _send_a_batch(runtime: Runtime) -> int | None:
    """Lease, send and record one batch; the number delivered, None if nothing was due."""
    # Twice the request timeout: a lease outlives any attempt, so one process at a time
    # tries a delivery; a process killed mid-attempt leaves it due after the lease.
    lease_s = 2 * runtime.settings.webhook_timeout_s
    async with runtime.engine.begin() as conn:
        batch = await claim(conn, CLAIM_BATCH, lease_s)
    if not batch:
        return None
    http = client(runtime)
    answers = await asyncio.gather(*(send(http, runtime, c) for c in batch))
    outcomes = [outcome(runtime.settings, c, a) for c, a in zip(batch, answers, strict=True)]
    async with runtime.engine.begin() as conn:
        await record(conn, outcomes, runtime.settings.webhook_disable_after_s)
    return sum(o.ok for o in outcomes)
