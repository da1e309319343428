"""Nested fields are loaded per level, not per parent: statements bounded by depth."""

from __future__ import annotations

from typing import Any

from api.runtime import Runtime
from domain.access import Role
from persistence.database import counting_statements
from tests.api.segment_documents import (
    attach,
    country_is,
    create_ok,
    refresh_everything_due,
    upsert_ok,
)
from tests.api.snapshot_documents import take
from tests.api.tracked_event_documents import event, track_ok
from tests.conftest import Workspace

TYPENAME = "{ __typename }"
# depth 6: customers > edges > node > segments > stats > customerCount
CUSTOMERS_WITH_SEGMENTS = """
{ customers(first: 100) { edges { node {
    id
    segments { id name stats { customerCount } }
    invoices { id total }
} } } }
"""
CUSTOMERS_DEPTH = 6
# depth 6: segments > edges > node > members > edges > node (> id)
SEGMENTS_WITH_MEMBERS = """
{ segments(first: 20) { edges { node {
    id
    members(first: 3) { totalCount edges { node { id invoices { id } } } }
} } } }
"""
SEGMENTS_DEPTH = 7


def customer(n: int) -> dict[str, Any]:
    return {
        "id": f"c{n:03d}",
        "country": ["FR", "DE", "ES"][n % 3],
        "invoices": [{"id": f"i{n}", "total": n, "currency": "EUR"}],
    }


async def given_customers_and_segments(ws: Workspace, runtime: Runtime) -> None:
    await upsert_ok(ws, *(customer(n) for n in range(100)))
    for code in ("FR", "DE", "ES"):
        await create_ok(ws, name=f"in {code}", predicate=country_is(code))
    await create_ok(ws, name="west", predicate=country_is("FR", "ES"))
    await refresh_everything_due(runtime)


async def statements_of(
    ws: Workspace, runtime: Runtime, document: str, segment_id: str | None = None
) -> tuple[int, Any]:
    """SQL statements the document runs, beyond the key lookup every request makes."""
    variables = {"segmentId": segment_id} if segment_id else None
    await ws.gql(document, variables, role=Role.READ)  # definitions loaded and cached
    with counting_statements(runtime.engine) as baseline:
        await ws.gql(TYPENAME, role=Role.READ)
    with counting_statements(runtime.engine) as seen:
        result = await ws.gql(document, variables, role=Role.READ)
    return len(seen) - len(baseline), result.data


async def test_customers_with_segments_invoices_and_counts_take_at_most_depth_plus_one(
    workspace: Workspace, runtime: Runtime
) -> None:
    await given_customers_and_segments(workspace, runtime)

    statements, data = await statements_of(workspace, runtime, CUSTOMERS_WITH_SEGMENTS)

    nodes = [e["node"] for e in data["customers"]["edges"]]
    assert len(nodes) == 100
    by_id = {n["id"]: n for n in nodes}
    assert sorted(s["name"] for s in by_id["c000"]["segments"]) == ["in FR", "west"]
    assert sorted(s["name"] for s in by_id["c001"]["segments"]) == ["in DE"]
    counts = {s["name"]: s["stats"]["customerCount"] for n in nodes for s in n["segments"]}
    assert counts == {"in FR": 34, "in DE": 33, "in ES": 33, "west": 67}
    assert by_id["c007"]["invoices"] == [{"id": "i7", "total": 7.0}]
    assert statements <= CUSTOMERS_DEPTH + 1, statements


async def test_segments_with_member_pages_and_counts_take_at_most_depth_plus_one(
    workspace: Workspace, runtime: Runtime
) -> None:
    await given_customers_and_segments(workspace, runtime)

    statements, data = await statements_of(workspace, runtime, SEGMENTS_WITH_MEMBERS)

    members = {e["node"]["id"]: e["node"]["members"] for e in data["segments"]["edges"]}
    assert sorted(m["totalCount"] for m in members.values()) == [33, 33, 34, 67]
    for page in members.values():
        assert [len(e["node"]["invoices"]) for e in page["edges"]] == [1, 1, 1]
    assert statements <= SEGMENTS_DEPTH + 1, statements


EVENTS_DEPTH = 5  # segmentEvents > edges > node > customer > id
EVENTS_WITH_CUSTOMERS = """
query Events($segmentId: ID!) { segmentEvents(segmentId: $segmentId, first: 100) {
  edges { node { kind customer { id country } } }
} }
"""


async def test_the_customers_of_a_page_of_events_are_read_in_one_statement(
    workspace: Workspace, runtime: Runtime
) -> None:
    await upsert_ok(workspace, *(customer(n) for n in range(30)))
    segment = await create_ok(workspace, name="fr", predicate=country_is("FR"))
    await attach(workspace, segment["id"], "LOYALTY_EARNING_RULE", "rule-1")  # ACTIVE
    await upsert_ok(workspace, *({"id": f"c{n:03d}", "country": "FR"} for n in range(30)))

    one, data = await statements_of(workspace, runtime, EVENTS_WITH_CUSTOMERS, segment["id"])

    nodes = [e["node"] for e in data["segmentEvents"]["edges"]]
    assert len(nodes) == 20  # the 20 that were not French yet entered
    assert all(n["kind"] == "ENTERED" and n["customer"]["country"] == "FR" for n in nodes)
    assert one <= EVENTS_DEPTH + 1, one  # not one statement per event


# depth 7: customers > edges > node > events > edges > node > name
CUSTOMERS_WITH_EVENTS = """
{ customers(first: 100) { edges { node {
    id
    invoiceCount: value(field: "invoices")
    events(first: 2) { totalCount edges { node { name } } }
} } } }
"""
EVENTS_OF_CUSTOMERS_DEPTH = 7


async def test_customers_events_and_related_counts_take_at_most_depth_plus_one(
    workspace: Workspace, runtime: Runtime
) -> None:
    await upsert_ok(workspace, *(customer(n) for n in range(100)))
    await track_ok(
        workspace, *(event(f"c{n:03d}", f"e{k}") for n in range(0, 100, 2) for k in range(3))
    )

    statements, data = await statements_of(workspace, runtime, CUSTOMERS_WITH_EVENTS)

    by_id = {e["node"]["id"]: e["node"] for e in data["customers"]["edges"]}
    assert len(by_id) == 100
    assert by_id["c000"]["invoiceCount"] == 1
    assert by_id["c000"]["events"]["totalCount"] == 3
    assert len(by_id["c000"]["events"]["edges"]) == 2
    assert by_id["c001"]["events"] == {"totalCount": 0, "edges": []}
    assert statements <= EVENTS_OF_CUSTOMERS_DEPTH + 1, statements


# depth 10: segments > edges > node > instances > edges > node > members > edges > node > id
SEGMENTS_WITH_COSTS_AND_INSTANCES = """
{ segments(first: 20) { edges { node {
    id
    evaluationCost { estimatedRows usesIndex }
    instances(first: 2) { totalCount edges { node {
        id members(first: 3) { totalCount edges { node { id } } }
    } } }
} } } }
"""
INSTANCES_DEPTH = 10


async def test_segments_costs_instances_and_their_members_take_at_most_depth_plus_one(
    workspace: Workspace, runtime: Runtime
) -> None:
    await given_customers_and_segments(workspace, runtime)
    listed = await workspace.gql("{ segments(first: 20) { edges { node { id name } } } }")
    segment_ids = {e["node"]["name"]: e["node"]["id"] for e in listed.data["segments"]["edges"]}
    for segment_id in segment_ids.values():
        await take(workspace, segment_id)
        await take(workspace, segment_id)

    statements, data = await statements_of(workspace, runtime, SEGMENTS_WITH_COSTS_AND_INSTANCES)

    nodes = {e["node"]["id"]: e["node"] for e in data["segments"]["edges"]}
    assert len(nodes) == 4
    for node in nodes.values():
        assert node["evaluationCost"]["estimatedRows"] >= 1
        assert node["instances"]["totalCount"] == 2
        for instance in node["instances"]["edges"]:
            assert len(instance["node"]["members"]["edges"]) == 3
    west = nodes[segment_ids["west"]]["instances"]["edges"][0]["node"]["members"]
    assert west["totalCount"] == 67
    assert statements <= INSTANCES_DEPTH + 1, statements


# depth 5: segmentInstances > edges > node > diff > enteredCount
DIFFS = """
query Diffs($segmentId: ID!, $other: ID!) {
  segmentInstances(segmentId: $segmentId, first: 10) { edges { node {
    id diff(otherInstanceId: $other, first: 1) { entered left enteredCount leftCount }
  } } }
}
"""
DIFFS_DEPTH = 5


async def test_the_diffs_of_a_page_of_instances_take_at_most_depth_plus_one(
    workspace: Workspace, runtime: Runtime
) -> None:
    await upsert_ok(workspace, *({"id": f"c{n}", "country": "DE"} for n in range(6)))
    segment = await create_ok(workspace, name="fr", predicate=country_is("FR"))
    first = await take(workspace, segment["id"])  # nobody
    for n in range(1, 5):  # each instance one more French customer
        await upsert_ok(workspace, {"id": f"c{n}", "country": "FR"})
        await take(workspace, segment["id"])
    variables = {"segmentId": segment["id"], "other": first["id"]}

    await workspace.gql(DIFFS, variables, role=Role.READ)
    with counting_statements(runtime.engine) as baseline:
        await workspace.gql(TYPENAME, role=Role.READ)
    with counting_statements(runtime.engine) as seen:
        result = await workspace.gql(DIFFS, variables, role=Role.READ)

    diffs = [e["node"]["diff"] for e in result.data["segmentInstances"]["edges"]]
    assert [d["enteredCount"] for d in diffs] == [4, 3, 2, 1, 0]  # newest first
    assert [d["entered"] for d in diffs] == [["c1"], ["c1"], ["c1"], ["c1"], []]
    assert all(d["left"] == [] and d["leftCount"] == 0 for d in diffs)
    statements = len(seen) - len(baseline)
    assert statements <= DIFFS_DEPTH + 1, statements
