"""Global object identification: nodeId on every Node type, node(id:) and nodes(ids:)."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from api.runtime import Runtime
from persistence.database import counting_statements
from tests.api.documents import UPSERT
from tests.conftest import Workspace

USER_ERRORS = "userErrors { field message code }"

SETUP_CUSTOMER = f"""
mutation {{
  customersUpsert(customers: [{{id: "cus_1", email: "a@example.com"}}]) {{
    customers {{ id nodeId }} {USER_ERRORS}
  }}
}}
"""

SETUP_SEGMENT = f"""
mutation {{
  segmentCreate(input: {{name: "Everyone", customerIds: ["cus_1"]}}) {{
    segment {{ id nodeId }} {USER_ERRORS}
  }}
}}
"""

SETUP_INSTANCE = f"""
mutation Take($segmentId: ID!) {{
  segmentSnapshotTake(segmentId: $segmentId) {{ instance {{ id nodeId }} {USER_ERRORS} }}
}}
"""

SETUP_PROPERTY = f"""
mutation {{
  customPropertyDefine(input: {{key: "plan", type: STRING}}) {{
    property {{ key nodeId }} {USER_ERRORS}
  }}
}}
"""

NODE = """
query Node($id: ID!) {
  node(id: $id) {
    __typename nodeId
    ... on Customer { id email }
    ... on Segment { id name }
    ... on SegmentInstance { id segmentId }
    ... on CustomProperty { key type }
  }
}
"""

NODES = """
query Nodes($ids: [ID!]!) { nodes(ids: $ids) { __typename nodeId } }
"""

CUSTOMERS_NODE_IDS = "query { customers(first: 10) { edges { node { id nodeId } } } }"


def payload(result: Any, field: str) -> dict[str, Any]:
    data: dict[str, Any] = result.data[field]
    assert data["userErrors"] == []
    return data


async def one_of_each(ws: Workspace) -> dict[str, dict[str, Any]]:
    """A customer, a static segment of it, a snapshot of that, a custom property."""
    customer = payload(await ws.gql(SETUP_CUSTOMER), "customersUpsert")["customers"][0]
    segment = payload(await ws.gql(SETUP_SEGMENT), "segmentCreate")["segment"]
    taken = await ws.gql(SETUP_INSTANCE, {"segmentId": segment["id"]})
    instance = payload(taken, "segmentSnapshotTake")["instance"]
    prop = payload(await ws.gql(SETUP_PROPERTY), "customPropertyDefine")["property"]
    return {
        "Customer": customer,
        "Segment": segment,
        "SegmentInstance": instance,
        "CustomProperty": prop,
    }


async def node(ws: Workspace, node_id: str) -> Any:
    result = await ws.gql(NODE, {"id": node_id})
    assert result.errors == [], result.errors
    return result.data["node"]


async def test_every_node_type_round_trips(workspace: Workspace) -> None:
    # given one object of each Node type
    objects = await one_of_each(workspace)

    for type_name, obj in objects.items():
        # when it is read back by its nodeId
        found = await node(workspace, obj["nodeId"])

        # then it is the same object, under its own type, keeping its own id or key
        assert found["__typename"] == type_name
        assert found["nodeId"] == obj["nodeId"]
        assert found.get("id", found.get("key")) == obj.get("id", obj.get("key"))
    assert (await node(workspace, objects["Customer"]["nodeId"]))["email"] == "a@example.com"


async def test_customer_id_stays_the_clients_key(workspace: Workspace) -> None:
    # given a customer
    objects = await one_of_each(workspace)

    # when the customers are listed
    result = await workspace.gql(CUSTOMERS_NODE_IDS)

    # then `id` is still the client's key and `nodeId` the same global id as elsewhere
    [edge] = result.data["customers"]["edges"]
    assert edge["node"] == {"id": "cus_1", "nodeId": objects["Customer"]["nodeId"]}
    assert edge["node"]["nodeId"] != "cus_1"


async def test_another_workspaces_ids_give_null(
    workspace: Workspace, other_workspace: Workspace
) -> None:
    # given the same objects, under the same keys, in two workspaces
    mine = await one_of_each(workspace)
    theirs = await one_of_each(other_workspace)

    for type_name in mine:
        # then the global ids differ, and the other workspace's give nothing here
        assert mine[type_name]["nodeId"] != theirs[type_name]["nodeId"]
        assert await node(workspace, theirs[type_name]["nodeId"]) is None


def _b64(raw: str) -> str:
    return base64.urlsafe_b64encode(raw.encode()).decode()


@pytest.mark.parametrize(
    "malformed",
    [
        "",
        "cus_1",
        "!!!not base64!!!",
        _b64("Customer"),
        _b64("Customer:x:cus_1"),
        _b64("Order:1:ord_1"),
        _b64("Customer:1:"),
        _b64("Customer:1:" + "x" * 300),
        _b64("Customer:1:a\x00b"),
        base64.urlsafe_b64encode(b"\xff\xfe").decode(),
    ],
)
async def test_malformed_ids_give_null(workspace: Workspace, malformed: str) -> None:
    # given a customer, so that the workspace is not empty
    await one_of_each(workspace)

    # when something that is not a global id of ours is asked for, then it is null
    assert await node(workspace, malformed) is None


async def test_a_deleted_objects_id_gives_null(workspace: Workspace) -> None:
    # given a customer and a segment, read back by nodeId, then deleted
    objects = await one_of_each(workspace)
    segment_id = objects["Segment"]["id"]
    deleted = await workspace.gql(
        f'mutation {{ segmentDelete(id: "{segment_id}") {{ deletedSegmentId {USER_ERRORS} }} }}'
    )
    assert deleted.data["segmentDelete"]["userErrors"] == []
    gone = await workspace.gql(
        f'mutation {{ customersDelete(ids: ["cus_1"]) {{ deletedCustomerIds {USER_ERRORS} }} }}'
    )
    assert gone.data["customersDelete"]["deletedCustomerIds"] == ["cus_1"]

    # then their global ids give null
    assert await node(workspace, objects["Segment"]["nodeId"]) is None
    assert await node(workspace, objects["Customer"]["nodeId"]) is None


async def test_nodes_keeps_order_and_nulls(
    workspace: Workspace, other_workspace: Workspace
) -> None:
    # given objects here and one in another workspace
    mine = await one_of_each(workspace)
    theirs = await one_of_each(other_workspace)
    ids = [
        mine["Segment"]["nodeId"],
        "garbage",
        theirs["Customer"]["nodeId"],
        mine["Customer"]["nodeId"],
    ]

    # when they are asked for together
    result = await workspace.gql(NODES, {"ids": ids})

    # then each place holds its object or null, in the order asked
    assert result.errors == []
    assert result.data["nodes"] == [
        {"__typename": "Segment", "nodeId": ids[0]},
        None,
        None,
        {"__typename": "Customer", "nodeId": ids[3]},
    ]


async def test_nodes_refuses_too_many_ids(workspace: Workspace) -> None:
    # when more than 100 ids are asked for at once
    result = await workspace.gql(NODES, {"ids": ["x"] * 101})

    # then it is a request error with a code
    assert [e["extensions"]["code"] for e in result.errors] == ["BAD_USER_INPUT"]


ALL_NODE_IDS = """
query {
  customers(first: 30) { edges { node { nodeId } } }
  segments(first: 30) {
    edges { node { nodeId instances(first: 30) { edges { node { nodeId } } } } }
  }
}
"""


async def statements_of_nodes(ws: Workspace, runtime: Runtime, ids: list[str]) -> int:
    """SQL statements `nodes(ids:)` runs, beyond those of a request that reads nothing."""
    with counting_statements(runtime.engine) as baseline:
        await ws.gql("{ __typename }")
    with counting_statements(runtime.engine) as seen:
        result = await ws.gql(NODES, {"ids": ids})
    assert result.errors == [], result.errors
    assert [n["nodeId"] for n in result.data["nodes"]] == ids  # every one found, in order
    return len(seen) - len(baseline)


async def test_nodes_reads_once_per_type_not_once_per_id(
    workspace: Workspace, runtime: Runtime
) -> None:
    # given 25 more customers, 4 more segments and 3 more snapshots beside one of each type
    objects = await one_of_each(workspace)
    customers = [{"id": f"more_{n:02d}"} for n in range(25)]
    upserted = await workspace.gql(UPSERT, {"customers": customers})
    assert upserted.data["customersUpsert"]["userErrors"] == []
    for n in range(4):
        made = await workspace.gql(SETUP_SEGMENT.replace('"Everyone"', f'"Everyone {n}"'))
        payload(made, "segmentCreate")
    for _ in range(3):
        taken = await workspace.gql(SETUP_INSTANCE, {"segmentId": objects["Segment"]["id"]})
        payload(taken, "segmentSnapshotTake")
    listed = await workspace.gql(ALL_NODE_IDS)
    data = listed.data
    many = [e["node"]["nodeId"] for e in data["customers"]["edges"]]
    for segment in data["segments"]["edges"]:
        many.append(segment["node"]["nodeId"])
        many += [e["node"]["nodeId"] for e in segment["node"]["instances"]["edges"]]
    many.append(objects["CustomProperty"]["nodeId"])
    few = [o["nodeId"] for o in objects.values()]
    assert len(many) == 26 + 5 + 4 + 1, len(many)

    # when nodes(ids:) asks for one of each type, then for all 36 (one id twice)
    one_each = await statements_of_nodes(workspace, runtime, few)
    all_of_them = await statements_of_nodes(workspace, runtime, [*many, many[0]])

    # then both cost the same few statements: one read per type (a segment's usages
    # are a second), however many ids of that type are asked for
    assert all_of_them == one_each, (one_each, all_of_them)
    assert all_of_them <= len(few) + 1, all_of_them
