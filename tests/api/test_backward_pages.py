"""Cursor connections read backward: `last`/`before` beside `first`/`after`."""

from __future__ import annotations

from typing import Any

from tests.api.documents import UPSERT
from tests.api.event_documents import active_segment, in_germany, move
from tests.conftest import Workspace

ROWS = 250  # 10,000 rows: tests/integration/test_keyset_pages.py

PAGE_INFO = "pageInfo { hasNextPage hasPreviousPage startCursor endCursor }"

CUSTOMERS = f"""
query Customers($first: Int, $after: String, $last: Int, $before: String) {{
  customers(first: $first, after: $after, last: $last, before: $before) {{
    edges {{ cursor node {{ id }} }}
    {PAGE_INFO}
  }}
}}
"""

MEMBERS = f"""
query Members($id: ID!, $first: Int, $after: String, $last: Int, $before: String) {{
  segment(id: $id) {{
    members(first: $first, after: $after, last: $last, before: $before) {{
      edges {{ cursor node {{ id }} }}
      {PAGE_INFO}
    }}
  }}
}}
"""

SEGMENTS = f"""
query Segments($first: Int, $after: String, $last: Int, $before: String) {{
  segments(first: $first, after: $after, last: $last, before: $before) {{
    edges {{ cursor node {{ id }} }}
    {PAGE_INFO}
  }}
}}
"""

CREATE = """
mutation Create($input: SegmentCreateInput!) {
  segmentCreate(input: $input) { segment { id } userErrors { code } }
}
"""


async def seed_customers(ws: Workspace, n: int) -> None:
    for start in range(0, n, 1000):
        batch = [{"id": f"c{i:05d}"} for i in range(start, min(n, start + 1000))]
        result = await ws.gql(UPSERT, {"customers": batch})
        assert result.data["customersUpsert"]["userErrors"] == []


async def connection(ws: Workspace, document: str, path: list[Any], **args: Any) -> Any:
    result = await ws.gql(document, args)
    assert result.errors == [], result.errors
    data: Any = result.data
    for key in path:
        data = data[key]
    return data


def ids(conn: dict[str, Any]) -> list[str]:
    return [e["node"]["id"] for e in conn["edges"]]


async def read_forward(ws: Workspace, doc: str, path: list[Any], size: int, **extra: Any) -> Any:
    pages, after = [], None
    while True:
        page = await connection(ws, doc, path, first=size, after=after, **extra)
        pages.append(page)
        if not page["pageInfo"]["hasNextPage"]:
            return pages
        after = page["pageInfo"]["endCursor"]


async def read_backward(ws: Workspace, doc: str, path: list[Any], size: int, **extra: Any) -> Any:
    pages, before = [], None
    while True:
        page = await connection(ws, doc, path, last=size, before=before, **extra)
        pages.append(page)
        if not page["pageInfo"]["hasPreviousPage"]:
            return pages
        before = page["pageInfo"]["startCursor"]


def check_both_ways(forward: list[Any], backward: list[Any], expected: list[str]) -> None:
    # every id once, in order, both ways: the backward pages are the forward ones reversed
    assert [i for p in forward for i in ids(p)] == expected
    assert [i for p in reversed(backward) for i in ids(p)] == expected
    # the ends know they are ends, the middles know they are not
    assert forward[0]["pageInfo"]["hasPreviousPage"] is False
    assert forward[-1]["pageInfo"]["hasNextPage"] is False
    assert backward[0]["pageInfo"]["hasNextPage"] is False
    assert backward[-1]["pageInfo"]["hasPreviousPage"] is False
    for page in forward[:-1] + backward[:-1]:
        info = page["pageInfo"]
        assert info["hasNextPage"] or info["hasPreviousPage"]
    for page in forward[1:]:
        assert page["pageInfo"]["hasPreviousPage"] is True
    for page in backward[1:]:
        assert page["pageInfo"]["hasNextPage"] is True
    # cursors of either direction are the same cursors
    assert [e["cursor"] for p in forward for e in p["edges"]] == [
        e["cursor"] for p in reversed(backward) for e in p["edges"]
    ]


async def test_customers_and_members_backward_agree_with_forward(workspace: Workspace) -> None:
    # given customers and a segment of all of them
    await seed_customers(workspace, ROWS)
    expected = [f"c{i:05d}" for i in range(ROWS)]
    created = await workspace.gql(
        CREATE,
        {
            "input": {
                "name": "all",
                "predicate": {"condition": {"field": "createdAt", "operator": "EXISTS"}},
            }
        },
    )
    segment_id = created.data["segmentCreate"]["segment"]["id"]

    # when the lists are read forward with first/after and backward with last/before
    # (a page size that does not divide the list, so the last page backward is short)
    for doc, path, extra in [
        (CUSTOMERS, ["customers"], {}),
        (MEMBERS, ["segment", "members"], {"id": segment_id}),
    ]:
        forward = await read_forward(workspace, doc, path, 40, **extra)
        backward = await read_backward(workspace, doc, path, 40, **extra)

        # then they agree, with hasPreviousPage and hasNextPage right at both ends
        check_both_ways(forward, backward, expected)


async def test_a_backward_page_before_a_cursor_and_between_two(workspace: Workspace) -> None:
    # given 20 customers
    await seed_customers(workspace, 20)
    all_ = await connection(workspace, CUSTOMERS, ["customers"], first=20)
    cursors = [e["cursor"] for e in all_["edges"]]

    # when the 3 before the 10th are asked for, and those between the 5th and the 10th
    before = await connection(workspace, CUSTOMERS, ["customers"], last=3, before=cursors[9])
    between = await connection(
        workspace, CUSTOMERS, ["customers"], first=50, after=cursors[4], before=cursors[9]
    )

    # then they are the 7th to 9th, and the 6th to 9th, with both neighbours known
    assert ids(before) == ["c00006", "c00007", "c00008"]
    assert before["pageInfo"]["hasPreviousPage"] is True
    assert before["pageInfo"]["hasNextPage"] is True
    assert ids(between) == ["c00005", "c00006", "c00007", "c00008"]


async def test_segments_backward(workspace: Workspace) -> None:
    # given 7 segments
    await seed_customers(workspace, 1)
    for n in range(7):
        made = await workspace.gql(CREATE, {"input": {"name": f"s{n}", "customerIds": ["c00000"]}})
        assert made.data["segmentCreate"]["userErrors"] == []
    forward = await read_forward(workspace, SEGMENTS, ["segments"], 3)
    expected = [i for p in forward for i in ids(p)]

    # when they are read backward, then it is the same list
    backward = await read_backward(workspace, SEGMENTS, ["segments"], 3)
    check_both_ways(forward, backward, expected)
    assert len(expected) == 7


async def test_backward_arguments_have_the_forward_limits_and_codes(workspace: Workspace) -> None:
    # when `last` is out of range, `before` is not a cursor, or first and last come together
    cases = [
        {"last": 0},
        {"last": 1001},
        {"last": 5, "before": "not-a-cursor"},
        {"first": 5, "last": 5},
    ]
    for args in cases:
        result = await workspace.gql(CUSTOMERS, args)

        # then each is a request error with a code, naming the argument
        assert [e["extensions"]["code"] for e in result.errors] == ["BAD_USER_INPUT"], args
    messages = [(await workspace.gql(CUSTOMERS, a)).errors[0]["message"] for a in cases]
    assert "`last`" in messages[0] and "`before`" in messages[2]


INSTANCES = f"""
query Instances($segmentId: ID!, $first: Int, $after: String, $last: Int, $before: String) {{
  segmentInstances(
    segmentId: $segmentId, first: $first, after: $after, last: $last, before: $before
  ) {{
    edges {{ cursor node {{ id }} }}
    {PAGE_INFO}
  }}
}}
"""

INSTANCE_MEMBERS = f"""
query InstanceMembers($segmentId: ID!, $first: Int, $after: String, $last: Int,
                      $before: String) {{
  segment(id: $segmentId) {{
    instances(first: 1) {{
      edges {{
        node {{
          members(first: $first, after: $after, last: $last, before: $before) {{
            edges {{ cursor node {{ id }} }}
            {PAGE_INFO}
          }}
        }}
      }}
    }}
  }}
}}
"""

SEGMENTATION_TABLE = f"""
query Table($segmentId: ID!, $first: Int, $after: String, $last: Int, $before: String) {{
  segmentationTable(
    segmentId: $segmentId, first: $first, after: $after, last: $last, before: $before
  ) {{
    edges {{ cursor node {{ id: customerIdentity segmentInstanceId }} }}
    {PAGE_INFO}
  }}
}}
"""

TAKE = """
mutation Take($segmentId: ID!) {
  segmentSnapshotTake(segmentId: $segmentId) { instance { id } userErrors { code } }
}
"""


async def test_snapshot_lists_backward(workspace: Workspace) -> None:
    # given a static segment of 12 customers and 5 snapshots of it
    await seed_customers(workspace, 12)
    made = await workspace.gql(
        CREATE, {"input": {"name": "twelve", "customerIds": [f"c{i:05d}" for i in range(12)]}}
    )
    segment_id = made.data["segmentCreate"]["segment"]["id"]
    for _ in range(5):
        taken = await workspace.gql(TAKE, {"segmentId": segment_id})
        assert taken.data["segmentSnapshotTake"]["userErrors"] == []

    # when the instances (newest first) and the newest one's members are read both ways
    args = {"segmentId": segment_id}
    path = ["segmentInstances"]
    forward = await read_forward(workspace, INSTANCES, path, 2, **args)
    backward = await read_backward(workspace, INSTANCES, path, 2, **args)
    expected = [i for p in forward for i in ids(p)]

    # then backward is forward reversed, newest first either way
    check_both_ways(forward, backward, expected)
    assert len(expected) == 5

    members_path = ["segment", "instances", "edges", 0, "node", "members"]
    forward = await read_forward(workspace, INSTANCE_MEMBERS, members_path, 5, **args)
    backward = await read_backward(workspace, INSTANCE_MEMBERS, members_path, 5, **args)
    check_both_ways(forward, backward, [f"c{i:05d}" for i in range(12)])

    # and the segmentation table (a row per member per instance, keyed by both) too,
    # with pages that straddle one instance's rows and the next one's
    path = ["segmentationTable"]
    forward = await read_forward(workspace, SEGMENTATION_TABLE, path, 7, **args)
    backward = await read_backward(workspace, SEGMENTATION_TABLE, path, 7, **args)
    check_both_ways(forward, backward, [f"c{i:05d}" for i in range(12)] * 5)
    instances = [e["node"]["segmentInstanceId"] for p in forward for e in p["edges"]]
    assert [instances[n] for n in range(0, 60, 12)] == list(reversed(expected))


SEGMENT_EVENTS = f"""
query Events($first: Int, $after: String, $last: Int, $before: String) {{
  segmentEvents(first: $first, after: $after, last: $last, before: $before) {{
    edges {{ cursor node {{ id }} }}
    {PAGE_INFO}
  }}
}}
"""


async def test_segment_events_backward(workspace: Workspace) -> None:
    # given an ACTIVE segment and 7 customers moving into it, one at a time
    segment_id = await active_segment(workspace, "germany", in_germany())
    for i in range(7):
        await move(workspace, f"c{i:05d}", "DE")

    # when the log is read both ways
    forward = await read_forward(workspace, SEGMENT_EVENTS, ["segmentEvents"], 3)
    backward = await read_backward(workspace, SEGMENT_EVENTS, ["segmentEvents"], 3)

    # then backward is forward reversed, oldest first either way
    expected = [i for p in forward for i in ids(p)]
    check_both_ways(forward, backward, expected)
    assert len(expected) == 7 and segment_id

    # and a `before` that is not an event id keeps the list's own error
    bad = await workspace.gql(SEGMENT_EVENTS, {"last": 2, "before": "x"})
    assert bad.errors[0]["extensions"]["userErrors"][0]["field"] == ["before"]
