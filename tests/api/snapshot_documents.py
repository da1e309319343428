"""GraphQL documents and helpers shared by the snapshot, segmentation-table and export tests."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from api.runtime import Runtime
from api.services.snapshots import run_due
from tests.conftest import Workspace

USER_ERRORS = "userErrors { field message code }"

INSTANCE_FIELDS = """
  id segmentId segmentName createdAt schedule segmentBy
  numOfCustomers numOfOrders totalRevenue
"""

SCHEDULE_SET = f"""
mutation Schedule($segmentId: ID!, $schedule: SnapshotSchedule, $segmentBy: SegmentBy) {{
  segmentScheduleSet(segmentId: $segmentId, schedule: $schedule, segmentBy: $segmentBy) {{
    segment {{ id schedule segmentBy }}
    {USER_ERRORS}
  }}
}}
"""

SNAPSHOT_TAKE = f"""
mutation Take($segmentId: ID!) {{
  segmentSnapshotTake(segmentId: $segmentId) {{ instance {{ {INSTANCE_FIELDS} }} {USER_ERRORS} }}
}}
"""

INSTANCES = f"""
query Instances($segmentId: ID!, $first: Int, $after: String) {{
  segmentInstances(segmentId: $segmentId, first: $first, after: $after) {{
    totalCount
    edges {{ cursor node {{ {INSTANCE_FIELDS} }} }}
    pageInfo {{ hasNextPage hasPreviousPage startCursor endCursor }}
  }}
}}
"""

INSTANCE_MEMBERS = """
query InstanceMembers($segmentId: ID!, $first: Int, $after: String) {
  segmentInstances(segmentId: $segmentId, first: 1) {
    edges { node { id members(first: $first, after: $after) {
      totalCount
      edges { cursor node { id email country } }
      pageInfo { hasNextPage endCursor }
    } } }
  }
}
"""

DIFF = """
query Diff($segmentId: ID!, $other: ID!) {
  segmentInstances(segmentId: $segmentId, first: 1) {
    edges { node { id diff(otherInstanceId: $other) { entered left enteredCount leftCount } } }
  }
}
"""

SEGMENTATION_TABLE = """
query Table($segmentId: ID, $instanceId: ID, $first: Int, $after: String) {
  segmentationTable(segmentId: $segmentId, instanceId: $instanceId, first: $first, after: $after) {
    totalCount
    edges { cursor node {
      customerIdentity instanceCreatedDate schedule segmentBy segmentCreatedDate
      segmentId segmentInstanceId segmentName
    } }
    pageInfo { hasNextPage endCursor }
  }
}
"""

START = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


class FakeClock:
    """A clock the test moves by hand; the service and the scheduler read it."""

    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


@pytest.fixture(name="clock")
def clock_fixture(runtime: Runtime) -> Iterator[FakeClock]:
    """Import into a test module to give its tests a `clock` fixture."""
    original = runtime.clock
    fake = FakeClock()
    runtime.clock = fake
    yield fake
    runtime.clock = original


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def instant(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def day_id(segment_id: str, moment: datetime, index: int = 1) -> str:
    base = f"{segment_id}_{moment:%Y_%m_%d}"
    return base if index == 1 else f"{base}_{index}"


async def run_scheduler(runtime: Runtime) -> None:
    """Run the scheduler until nothing is due (other tests' segments share the database)."""
    for _ in range(100):
        if await run_due(runtime) == 0:
            return
    raise AssertionError("the scheduler never caught up")


async def schedule(
    ws: Workspace, segment_id: str, schedule: str | None, segment_by: str | None = None
) -> dict[str, Any]:
    variables = {"segmentId": segment_id, "schedule": schedule, "segmentBy": segment_by}
    payload: dict[str, Any] = (await ws.gql(SCHEDULE_SET, variables)).data["segmentScheduleSet"]
    return payload


async def take(ws: Workspace, segment_id: str) -> dict[str, Any]:
    payload = (await ws.gql(SNAPSHOT_TAKE, {"segmentId": segment_id})).data["segmentSnapshotTake"]
    assert payload["userErrors"] == [], payload
    instance: dict[str, Any] = payload["instance"]
    return instance


async def instances(ws: Workspace, segment_id: str) -> list[dict[str, Any]]:
    """Every instance of the segment, newest first."""
    data = (await ws.gql(INSTANCES, {"segmentId": segment_id, "first": 1000})).data
    return [edge["node"] for edge in data["segmentInstances"]["edges"]]


async def table(ws: Workspace, **variables: Any) -> dict[str, Any]:
    page: dict[str, Any] = (await ws.gql(SEGMENTATION_TABLE, variables)).data["segmentationTable"]
    return page


async def identities(ws: Workspace, **variables: Any) -> list[str]:
    page = await table(ws, first=1000, **variables)
    return [edge["node"]["customerIdentity"] for edge in page["edges"]]
