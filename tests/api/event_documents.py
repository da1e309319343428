"""GraphQL documents and helpers for the membership-event tests: the log, live subscriptions."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from gql import Client, GraphQLRequest
from gql.transport.websockets import WebsocketsTransport

from tests.api.segment_documents import attach, create_ok, upsert_ok
from tests.conftest import Workspace

EVENT_FIELDS = "id kind segmentId customerId occurredAt"

EVENTS = f"""
query Events($segmentId: ID, $after: String, $first: Int) {{
  segmentEvents(segmentId: $segmentId, after: $after, first: $first) {{
    totalCount
    edges {{ cursor node {{ {EVENT_FIELDS} }} }}
    pageInfo {{ hasNextPage endCursor }}
  }}
}}
"""

CHANGED = f"""
subscription Changed($segmentId: ID, $after: ID) {{
  segmentMembershipChanged(segmentId: $segmentId, after: $after) {{ {EVENT_FIELDS} }}
}}
"""

DELETE_CUSTOMERS = """
mutation Delete($ids: [ID!]!) {
  customersDelete(ids: $ids) { deletedCustomerIds userErrors { field message code } }
}
"""

ACTIVATING_USAGE = "LOYALTY_EARNING_RULE"


def in_germany() -> dict[str, Any]:
    return {"condition": {"field": "country", "operator": "IN", "values": ["DE"]}}


def ordered_since(relative: str) -> dict[str, Any]:
    return {"condition": {"field": "lastOrderAt", "operator": "GTE", "value": relative}}


async def active_segment(ws: Workspace, name: str, predicate: dict[str, Any]) -> str:
    """A segment made ACTIVE by attaching a loyalty rule; returns its id."""
    segment = await create_ok(ws, name=name, predicate=predicate)
    payload = await attach(ws, segment["id"], ACTIVATING_USAGE, f"rule-{name}")
    assert payload["userErrors"] == [] and payload["segment"]["kind"] == "ACTIVE", payload
    segment_id: str = segment["id"]
    return segment_id


async def move(ws: Workspace, customer_id: str, country: str) -> None:
    await upsert_ok(ws, {"id": customer_id, "country": country})


async def logged_events(ws: Workspace, segment_id: str | None = None) -> list[dict[str, Any]]:
    """The whole log (of one segment, or the workspace), oldest first, page by page."""
    events: list[dict[str, Any]] = []
    after = None
    while True:
        variables = {"segmentId": segment_id, "after": after, "first": 1000}
        page = (await ws.gql(EVENTS, variables)).data["segmentEvents"]
        events.extend(edge["node"] for edge in page["edges"])
        if not page["pageInfo"]["hasNextPage"]:
            return events
        after = page["pageInfo"]["endCursor"]


async def last_event_id(ws: Workspace) -> str:
    """The newest event's id, or "0" when the log is empty (a valid `after`)."""
    events = await logged_events(ws)
    return events[-1]["id"] if events else "0"


def summary(events: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(e["kind"], e["customerId"]) for e in events]


def ws_url(base_url: str) -> str:
    return base_url.replace("http://", "ws://", 1) + "/graphql"


def transport(base_url: str, key: str) -> WebsocketsTransport:
    return WebsocketsTransport(
        url=ws_url(base_url),
        init_payload={"Authorization": f"Bearer {key}"},
        subprotocols=[WebsocketsTransport.GRAPHQLWS_SUBPROTOCOL],
    )


class Subscriber:
    """A real graphql-transport-ws client (gql) subscribed in the background.

    Every event it receives, or the error that ended the subscription, lands in
    a queue the test reads with `next()`, waiting at most `timeout` seconds.
    """

    def __init__(self, base_url: str, key: str, **variables: str | None) -> None:
        self.transport = transport(base_url, key)
        self.variables = variables
        self.received: asyncio.Queue[dict[str, Any] | BaseException] = asyncio.Queue()
        self.task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        request = GraphQLRequest(CHANGED, variable_values=self.variables)
        try:
            async with Client(transport=self.transport) as session:
                async for result in session.subscribe(request):
                    await self.received.put(result["segmentMembershipChanged"])
        except Exception as exc:
            await self.received.put(exc)

    def start(self) -> Subscriber:
        self.task = asyncio.create_task(self._run())
        return self

    async def next(self, timeout: float = 15.0) -> dict[str, Any]:
        item = await asyncio.wait_for(self.received.get(), timeout)
        if isinstance(item, BaseException):
            raise item
        return item

    async def take(self, count: int, timeout: float = 15.0) -> list[dict[str, Any]]:
        return [await self.next(timeout) for _ in range(count)]

    async def failure(self, timeout: float = 15.0) -> BaseException:
        """The error that ended the subscription (events before it are skipped)."""
        while True:
            item = await asyncio.wait_for(self.received.get(), timeout)
            if isinstance(item, BaseException):
                return item

    def pending(self) -> int:
        return self.received.qsize()

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task


@contextlib.asynccontextmanager
async def subscribed(base_url: str, key: str, **variables: str | None) -> AsyncIterator[Subscriber]:
    subscriber = Subscriber(base_url, key, **variables).start()
    try:
        yield subscriber
    finally:
        await subscriber.stop()


async def eventually(
    check: Callable[[], Awaitable[bool]], timeout: float = 15.0, what: str = "condition"
) -> None:
    """Poll `check` until it holds; fail after `timeout` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await check():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)
