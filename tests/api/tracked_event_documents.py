"""GraphQL documents and small helpers for the tracked-event tests (issue 7)."""

from __future__ import annotations

from typing import Any

from tests.api.documents import UPSERT
from tests.conftest import Workspace

USER_ERRORS = "userErrors { field message code }"

TRACK = f"""
mutation Track($events: [EventInput!]!) {{
  eventsTrack(events: $events) {{ trackedCount {USER_ERRORS} }}
}}
"""

TIMELINE = """
query Timeline($id: ID!, $first: Int, $after: String, $name: String) {
  customer(id: $id) {
    events(first: $first, after: $after, name: $name) {
      totalCount
      edges { cursor node { id name occurredAt properties } }
      pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    }
  }
}
"""

SEGMENT_FIELDS = """
query { segmentFields { path type operators scope custom suggestedValues } }
"""


def event(customer_id: str, name: str = "checkout_started", **fields: Any) -> dict[str, Any]:
    """An EventInput; `fields` in their camelCase API names (occurredAt, properties, id)."""
    return {"customerId": customer_id, "name": name, **fields}


async def customers(ws: Workspace, *ids: str, **fields: Any) -> None:
    """Upsert customers with these ids (and the same `fields` each)."""
    batch = [{"id": customer_id, **fields} for customer_id in ids]
    payload = (await ws.gql(UPSERT, {"customers": batch})).data["customersUpsert"]
    assert payload["userErrors"] == [], payload


async def track(ws: Workspace, *events: dict[str, Any]) -> dict[str, Any]:
    payload: dict[str, Any] = (await ws.gql(TRACK, {"events": list(events)})).data["eventsTrack"]
    return payload


async def track_ok(ws: Workspace, *events: dict[str, Any]) -> int:
    payload = await track(ws, *events)
    assert payload["userErrors"] == [], payload
    count: int = payload["trackedCount"]
    return count


async def timeline_page(ws: Workspace, customer_id: str, **args: Any) -> dict[str, Any]:
    """One page of Customer.events (args: first, after, name)."""
    customer = (await ws.gql(TIMELINE, {"id": customer_id, **args})).data["customer"]
    assert customer is not None, customer_id
    page: dict[str, Any] = customer["events"]
    return page


async def timeline(
    ws: Workspace, customer_id: str, name: str | None = None
) -> list[dict[str, Any]]:
    """Every event of the customer, newest first, following the cursors."""
    nodes: list[dict[str, Any]] = []
    after = None
    while True:
        page = await timeline_page(ws, customer_id, first=1000, after=after, name=name)
        nodes.extend(edge["node"] for edge in page["edges"])
        if not page["pageInfo"]["hasNextPage"]:
            return nodes
        after = page["pageInfo"]["endCursor"]


def error_fields(payload: dict[str, Any]) -> list[tuple[list[str], str]]:
    """(field path, code) of each user error, in order."""
    return [(error["field"], error["code"]) for error in payload["userErrors"]]
