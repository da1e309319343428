"""Webhook endpoints and API keys as Node: refetched by node(id:)/nodes(ids:) with an
ADMIN key only, never across workspaces, a deleted endpoint gone, a revoked key kept."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from api.runtime import Runtime
from api.types.node import global_id, parse_global_id
from domain.access import Role
from tests.api.webhook_documents import DELETE_ENDPOINT, create_endpoint, loopback_server
from tests.conftest import Workspace

NODE = """
query Node($id: ID!) {
  node(id: $id) {
    __typename nodeId
    ... on WebhookEndpoint { id url enabled }
    ... on ApiKey { id role revokedAt }
  }
}
"""

NODES = "query Nodes($ids: [ID!]!) { nodes(ids: $ids) { __typename nodeId } }"

KEYS = "query { apiKeys { id nodeId role revokedAt } }"

REVOKE = "mutation($id: ID!) { apiKeyRevoke(id: $id) { apiKey { id } userErrors { code } } }"


@pytest.fixture(scope="module")
async def hooks_url(runtime: Runtime) -> AsyncIterator[str]:
    async with loopback_server(runtime) as url:
        yield url


def through(ws: Workspace, url: str) -> Workspace:
    return Workspace(ws.name, ws.keys, url, ws.http)


async def one_of_each(ws: Workspace) -> dict[str, dict[str, Any]]:
    """An endpoint, and the workspace's READ key as apiKeys lists it."""
    created = await create_endpoint(ws, "http://127.0.0.1:9/hook")
    endpoint_id = created["endpoint"]["id"]
    listed = (await ws.gql("query { webhookEndpoints { id nodeId } }")).data
    [endpoint] = [e for e in listed["webhookEndpoints"] if e["id"] == endpoint_id]
    [key] = [k for k in (await ws.gql(KEYS)).data["apiKeys"] if k["role"] == "READ"]
    return {"WebhookEndpoint": endpoint, "ApiKey": key}


async def node(ws: Workspace, node_id: str, role: Role = Role.ADMIN) -> Any:
    result = await ws.gql(NODE, {"id": node_id}, role=role)
    assert result.errors == [], result.errors
    return result.data["node"]


async def test_endpoints_and_keys_round_trip(workspace: Workspace, hooks_url: str) -> None:
    # given an endpoint and a key
    ws = through(workspace, hooks_url)
    objects = await one_of_each(ws)

    for type_name, obj in objects.items():
        # when each is read back by its nodeId with an ADMIN key
        found = await node(ws, obj["nodeId"])

        # then it is the same object under its own type, keeping its own id
        assert found["__typename"] == type_name
        assert found["nodeId"] == obj["nodeId"] != obj["id"]
        assert found["id"] == obj["id"]
    assert (await node(ws, objects["WebhookEndpoint"]["nodeId"]))["url"] == (
        "http://127.0.0.1:9/hook"
    )


async def test_read_and_write_keys_get_null(workspace: Workspace, hooks_url: str) -> None:
    # given an endpoint and a key, which only ADMIN keys may list
    ws = through(workspace, hooks_url)
    objects = await one_of_each(ws)
    ids = [o["nodeId"] for o in objects.values()]

    for role in (Role.READ, Role.WRITE):
        # then a lesser key gets null for them, not an error and not the object
        for node_id in ids:
            assert await node(ws, node_id, role) is None
        result = await ws.gql(NODES, {"ids": ids}, role=role)
        assert result.errors == []
        assert result.data["nodes"] == [None, None]


async def test_another_workspaces_ids_give_null(
    workspace: Workspace, other_workspace: Workspace, hooks_url: str
) -> None:
    # given an endpoint and keys in two workspaces
    mine = await one_of_each(through(workspace, hooks_url))
    theirs = await one_of_each(through(other_workspace, hooks_url))

    for type_name in mine:
        # then the other workspace's global ids give nothing here, even to an ADMIN key
        assert mine[type_name]["nodeId"] != theirs[type_name]["nodeId"]
        assert await node(workspace, theirs[type_name]["nodeId"]) is None


async def test_a_deleted_endpoint_is_null_and_a_revoked_key_is_kept(
    workspace: Workspace, hooks_url: str
) -> None:
    # given an endpoint deleted and a key revoked
    ws = through(workspace, hooks_url)
    objects = await one_of_each(ws)
    endpoint, key = objects["WebhookEndpoint"], objects["ApiKey"]
    deleted = (await ws.gql(DELETE_ENDPOINT, {"id": endpoint["id"]})).data
    assert deleted["webhookEndpointDelete"]["userErrors"] == []
    revoked = (await ws.gql(REVOKE, {"id": key["id"]})).data["apiKeyRevoke"]
    assert revoked["userErrors"] == []

    # then the endpoint's global id gives null; the key, still listed by apiKeys, shows
    # when it was revoked
    assert await node(ws, endpoint["nodeId"]) is None
    found = await node(ws, key["nodeId"])
    assert found["id"] == key["id"]
    assert found["revokedAt"] is not None


async def test_ids_of_the_right_shape_but_unknown_give_null(workspace: Workspace) -> None:
    # given global ids, in this workspace, of an endpoint and keys it does not hold
    [key] = [k for k in (await workspace.gql(KEYS)).data["apiKeys"] if k["role"] == "READ"]
    parsed = parse_global_id(key["nodeId"])
    assert parsed is not None and parsed.key == key["id"]
    unknown = [
        ("ApiKey", "key_999999999"),
        ("ApiKey", "key_x"),
        ("ApiKey", "key_\u00b2"),  # a digit to str.isdigit, not to int()
        ("ApiKey", "key_" + "9" * 40),  # past a bigint
        ("ApiKey", "7"),
        ("WebhookEndpoint", "whe_nope"),
    ]
    for type_name, own_key in unknown:
        # then each is null, never an error
        assert await node(workspace, global_id(type_name, parsed.workspace_pk, own_key)) is None
