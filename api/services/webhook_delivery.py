"""Sending webhooks: the background job that turns the event log into signed POSTs.

Each run writes deliveries for new events (persistence.webhooks.fan_out), then
leases due deliveries a batch at a time and sends each batch concurrently,
until nothing is due. Several processes may run it at once.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass
from datetime import datetime

import httpx
from standardwebhooks.webhooks import Webhook

from api.live import hub_of
from api.runtime import Runtime
from api.services.webhook_transport import checked_client
from domain.errors import DomainError
from domain.webhook import MAX_ATTEMPTS, check_url, retry_delay_s
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
    """One attempt. The URL is checked again here (the allowed http hosts may have
    changed); where its name points is checked by the client as it connects."""
    try:
        check_url(claimed.url, runtime.settings.webhook_http_hosts)
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
    """The process's HTTP client, kept for its connections (one kept alive for each of a
    batch's sends), connecting only to checked addresses (api.services.webhook_transport)."""
    found = runtime.extras.get("webhook_client")
    if found is None:
        settings = runtime.settings
        found = runtime.extras["webhook_client"] = checked_client(
            settings.webhook_allow_private, settings.webhook_timeout_s, CLAIM_BATCH
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
    _wake_for_retries(runtime, outcomes)
    return sum(o.ok for o in outcomes)


def _wake_for_retries(runtime: Runtime, outcomes: list[Outcome]) -> None:
    """This process's sender looks again when the first of these retries comes due, not
    at its next poll (another process may take it then just as well)."""
    retries = [o.retry_in_s for o in outcomes if o.retry_in_s is not None]
    if retries:
        asyncio.get_running_loop().call_later(min(retries), hub_of(runtime).wake_all)
