"""GraphQL documents and small helpers shared by the segment API tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from api.runtime import Runtime
from api.services.stats_refresher import refresh_stale_stats
from tests.api.documents import UPSERT
from tests.conftest import Workspace

SEGMENT_FIELDS = """
  id name description kind editable predicate predicateText timeRelative
  createdAt updatedAt activatedAt
  usages { kind reference attachedAt }
"""

USER_ERRORS = "userErrors { field message code }"

CREATE = f"""
mutation Create($input: SegmentCreateInput!) {{
  segmentCreate(input: $input) {{ segment {{ {SEGMENT_FIELDS} }} {USER_ERRORS} }}
}}
"""

UPDATE = f"""
mutation Update($id: ID!, $input: SegmentUpdateInput!) {{
  segmentUpdate(id: $id, input: $input) {{ segment {{ {SEGMENT_FIELDS} }} {USER_ERRORS} }}
}}
"""

DELETE_SEGMENT = f"""
mutation Delete($id: ID!) {{
  segmentDelete(id: $id) {{ deletedSegmentId {USER_ERRORS} }}
}}
"""

ATTACH = f"""
mutation Attach($segmentId: ID!, $kind: SegmentUsageKind!, $reference: String!) {{
  segmentUsageAttach(segmentId: $segmentId, kind: $kind, reference: $reference) {{
    segment {{ {SEGMENT_FIELDS} }} {USER_ERRORS}
  }}
}}
"""

DETACH = f"""
mutation Detach($segmentId: ID!, $kind: SegmentUsageKind!, $reference: String!) {{
  segmentUsageDetach(segmentId: $segmentId, kind: $kind, reference: $reference) {{
    segment {{ {SEGMENT_FIELDS} }} {USER_ERRORS}
  }}
}}
"""

SEGMENT = f"""
query Segment($id: ID!) {{ segment(id: $id) {{ {SEGMENT_FIELDS} }} }}
"""

SEGMENTS = """
query Segments($first: Int, $after: String, $search: String, $kind: SegmentKind) {
  segments(first: $first, after: $after, search: $search, kind: $kind) {
    totalCount
    edges { cursor node { id name kind } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  }
}
"""

SEGMENT_COUNT = "query { segments(first: 1000) { totalCount edges { node { id name } } } }"

MEMBERS = """
query Members($id: ID!, $first: Int, $after: String, $search: String) {
  segment(id: $id) {
    members(first: $first, after: $after, search: $search) {
      totalCount
      columns
      edges { cursor node { id } }
      pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    }
  }
}
"""

STATS = """
query Stats($id: ID!) {
  segment(id: $id) { kind stats { customerCount totalCustomers percentage computedAt } }
}
"""

COST = """
query Cost($id: ID!) {
  segment(id: $id) {
    evaluationCost { plannerCost estimatedRows usesIndex lastDurationMs slow hints }
  }
}
"""

MEMBERSHIP = """
query Membership($segmentId: ID!, $customerId: ID!) {
  segmentMembership(segmentId: $segmentId, customerId: $customerId) { isMember evaluatedAt }
}
"""

CUSTOMER_SEGMENTS = """
query CustomerSegments($id: ID!) { customer(id: $id) { id segments { id name kind } } }
"""

CUSTOMERS_IN_SEGMENT = """
query InSegment($segmentId: ID!, $first: Int, $after: String) {
  customers(segmentId: $segmentId, first: $first, after: $after) {
    totalCount
    edges { node { id } }
    pageInfo { hasNextPage endCursor }
  }
}
"""

PREVIEW = """
query Preview($predicate: JSON!, $first: Int, $after: String) {
  segmentPreview(predicate: $predicate, first: $first, after: $after) {
    totalCount
    userErrors { field message code }
    members { edges { node { id } } pageInfo { hasNextPage endCursor } }
  }
}
"""


class FakeClock:
    """A clock the test moves by hand (install it as `runtime.clock`, restore it after)."""

    def __init__(self) -> None:
        self.now = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> datetime:
        self.now += timedelta(seconds=seconds)
        return self.now


def country_is(*codes: str) -> dict[str, Any]:
    return {"condition": {"field": "country", "operator": "IN", "values": list(codes)}}


def segment_ref(segment_id: str) -> dict[str, Any]:
    return {"segment": segment_id}


async def create(ws: Workspace, **fields: Any) -> dict[str, Any]:
    """segmentCreate's payload for `fields` (name defaults to a fresh one)."""
    fields.setdefault("name", "segment")
    payload: dict[str, Any] = (await ws.gql(CREATE, {"input": fields})).data["segmentCreate"]
    return payload


async def create_ok(ws: Workspace, **fields: Any) -> dict[str, Any]:
    payload = await create(ws, **fields)
    assert payload["userErrors"] == [], payload
    segment: dict[str, Any] = payload["segment"]
    return segment


async def update(ws: Workspace, segment_id: str, **fields: Any) -> dict[str, Any]:
    result = await ws.gql(UPDATE, {"id": segment_id, "input": fields})
    payload: dict[str, Any] = result.data["segmentUpdate"]
    return payload


async def attach(ws: Workspace, segment_id: str, kind: str, reference: str) -> dict[str, Any]:
    variables = {"segmentId": segment_id, "kind": kind, "reference": reference}
    payload: dict[str, Any] = (await ws.gql(ATTACH, variables)).data["segmentUsageAttach"]
    return payload


async def detach(ws: Workspace, segment_id: str, kind: str, reference: str) -> dict[str, Any]:
    variables = {"segmentId": segment_id, "kind": kind, "reference": reference}
    payload: dict[str, Any] = (await ws.gql(DETACH, variables)).data["segmentUsageDetach"]
    return payload


async def delete(ws: Workspace, segment_id: str) -> dict[str, Any]:
    payload: dict[str, Any] = (await ws.gql(DELETE_SEGMENT, {"id": segment_id})).data[
        "segmentDelete"
    ]
    return payload


async def read(ws: Workspace, segment_id: str) -> dict[str, Any] | None:
    segment: dict[str, Any] | None = (await ws.gql(SEGMENT, {"id": segment_id})).data["segment"]
    return segment


async def segment_names(ws: Workspace) -> list[str]:
    data = (await ws.gql(SEGMENT_COUNT)).data["segments"]
    assert data["totalCount"] == len(data["edges"])
    return sorted(edge["node"]["name"] for edge in data["edges"])


async def upsert_ok(ws: Workspace, *customers: dict[str, Any]) -> None:
    payload = (await ws.gql(UPSERT, {"customers": list(customers)})).data["customersUpsert"]
    assert payload["userErrors"] == [], payload


async def member_ids(ws: Workspace, segment_id: str, page: int = 1000) -> list[str]:
    """Every member, following the cursors page by page."""
    ids: list[str] = []
    after = None
    while True:
        variables = {"id": segment_id, "first": page, "after": after}
        members = (await ws.gql(MEMBERS, variables)).data["segment"]["members"]
        ids.extend(edge["node"]["id"] for edge in members["edges"])
        if not members["pageInfo"]["hasNextPage"]:
            return ids
        after = members["pageInfo"]["endCursor"]


async def member_count(ws: Workspace, segment_id: str) -> int:
    members = (await ws.gql(MEMBERS, {"id": segment_id, "first": 1})).data["segment"]["members"]
    total: int = members["totalCount"]
    return total


async def stats(ws: Workspace, segment_id: str) -> dict[str, Any]:
    result: dict[str, Any] = (await ws.gql(STATS, {"id": segment_id})).data["segment"]["stats"]
    return result


async def is_member(ws: Workspace, segment_id: str, customer_id: str) -> bool:
    variables = {"segmentId": segment_id, "customerId": customer_id}
    inside: bool = (await ws.gql(MEMBERSHIP, variables)).data["segmentMembership"]["isMember"]
    return inside


def codes(payload: dict[str, Any]) -> list[str]:
    return [error["code"] for error in payload["userErrors"]]


async def refresh_everything_due(runtime: Runtime) -> None:
    """Run stats refresher passes until none is due (other tests' segments share the database)."""
    for _ in range(200):
        if await refresh_stale_stats(runtime) == 0:
            return
    raise AssertionError("the refresher never caught up")
