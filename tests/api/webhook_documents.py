"""GraphQL documents and steps for the webhook tests."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import AsyncIterator
from typing import Any

from api.runtime import Runtime
from persistence.database import create_engine
from tests.conftest import Workspace, serving

ENDPOINT_FIELDS = "id url segmentIds eventTypes enabled disabledReason"
ERRORS = "userErrors { field message code }"

CREATE_ENDPOINT = f"""
mutation($url: String!, $segmentIds: [ID!], $eventTypes: [WebhookEventType!]) {{
  webhookEndpointCreate(url: $url, segmentIds: $segmentIds, eventTypes: $eventTypes) {{
    endpoint {{ {ENDPOINT_FIELDS} }} secret {ERRORS}
  }}
}}
"""

ROTATE = f"""
mutation($id: ID!) {{
  webhookEndpointRotateSecret(id: $id) {{ endpoint {{ id }} secret {ERRORS} }}
}}
"""

UPDATE_ENDPOINT = f"""
mutation($id: ID!, $enabled: Boolean, $url: String) {{
  webhookEndpointUpdate(id: $id, enabled: $enabled, url: $url) {{
    endpoint {{ {ENDPOINT_FIELDS} }} {ERRORS}
  }}
}}
"""

DELETE_ENDPOINT = f"""
mutation($id: ID!) {{ webhookEndpointDelete(id: $id) {{ deletedId {ERRORS} }} }}
"""

ENDPOINTS = f"query {{ webhookEndpoints {{ {ENDPOINT_FIELDS} }} }}"

DELIVERIES = """
query($endpointId: ID!, $status: WebhookDeliveryStatus, $after: String) {
  webhookDeliveries(endpointId: $endpointId, status: $status, after: $after, first: 100) {
    edges { cursor node { id eventId eventType customerId status attempts lastStatusCode
                          lastError nextAttemptAt deliveredAt } }
    pageInfo { hasNextPage endCursor }
  }
}
"""

RETRY = f"""
mutation($id: ID!) {{
  webhookDeliveryRetry(id: $id) {{ delivery {{ id status attempts }} {ERRORS} }}
}}
"""

REPLAY = f"""
mutation($endpointId: ID!, $after: ID!) {{
  webhookEndpointReplay(endpointId: $endpointId, afterEventId: $after) {{ deliveries {ERRORS} }}
}}
"""


def webhook_runtime(runtime: Runtime, **overrides: Any) -> Runtime:
    """Another process's worth of runtime on the test database, webhooks set for tests:
    loopback allowed over http, backoff in tens of milliseconds."""
    for_tests: dict[str, Any] = {
        "webhook_allow_private": True,
        "webhook_http_hosts": ["127.0.0.1"],
        "webhook_backoff_base_ms": 50,
        "webhook_poll_ms": 50,
        "webhook_timeout_s": 2.0,
    }
    settings = dataclasses.replace(runtime.settings, **{**for_tests, **overrides})
    return Runtime(settings, runtime.database, create_engine(runtime.database, settings))


@contextlib.asynccontextmanager
async def loopback_server(runtime: Runtime) -> AsyncIterator[str]:
    """A server with `webhook_runtime`'s settings, for endpoints on loopback."""
    rt = webhook_runtime(runtime)
    try:
        async with serving(rt) as url:
            yield url
    finally:
        await rt.close()


async def create_endpoint(ws: Workspace, url: str, **variables: Any) -> dict[str, Any]:
    payload = (await ws.gql(CREATE_ENDPOINT, {"url": url, **variables})).data[
        "webhookEndpointCreate"
    ]
    assert payload["userErrors"] == [], payload
    result: dict[str, Any] = payload
    return result


async def deliveries(ws: Workspace, endpoint_id: str, **variables: Any) -> list[dict[str, Any]]:
    page = (await ws.gql(DELIVERIES, {"endpointId": endpoint_id, **variables})).data
    return [edge["node"] for edge in page["webhookDeliveries"]["edges"]]


async def settled(ws: Workspace, endpoint_id: str, timeout: float = 20.0) -> list[dict[str, Any]]:
    """The endpoint's deliveries once none is PENDING (the worker records after the answer)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        found = await deliveries(ws, endpoint_id)
        if found and all(d["status"] != "PENDING" for d in found):
            return found
        if loop.time() > deadline:
            raise AssertionError(f"deliveries still pending: {found}")
        await asyncio.sleep(0.05)
