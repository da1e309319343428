"""webhookEndpointsConnection: the endpoints as a cursor connection, both ways."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from api.runtime import Runtime
from domain.access import Role
from tests.api.webhook_documents import create_endpoint, loopback_server
from tests.conftest import Workspace

PAGE = """
query($first: Int, $after: String, $last: Int, $before: String) {
  webhookEndpointsConnection(first: $first, after: $after, last: $last, before: $before) {
    totalCount
    edges { cursor node { id nodeId url } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  }
}
"""


@pytest.fixture(scope="module")
async def hooks_url(runtime: Runtime) -> AsyncIterator[str]:
    async with loopback_server(runtime) as url:
        yield url


@pytest.fixture
async def five(workspace: Workspace, hooks_url: str) -> tuple[Workspace, list[str]]:
    """Five endpoints, in the order they were created."""
    ws = Workspace(workspace.name, workspace.keys, hooks_url, workspace.http)
    ids = []
    for n in range(5):
        created = await create_endpoint(ws, f"http://127.0.0.1:9/hook{n}")
        ids.append(created["endpoint"]["id"])
    return ws, ids


async def page(ws: Workspace, **variables: Any) -> dict[str, Any]:
    result = await ws.gql(PAGE, variables)
    assert result.errors == [], result.errors
    found: dict[str, Any] = result.data["webhookEndpointsConnection"]
    return found


def ids_of(found: dict[str, Any]) -> list[str]:
    return [edge["node"]["id"] for edge in found["edges"]]


async def test_forward_pages_walk_the_endpoints_oldest_first(
    five: tuple[Workspace, list[str]],
) -> None:
    ws, ids = five
    seen: list[str] = []
    after = None
    while True:
        found = await page(ws, first=2, after=after)
        assert found["totalCount"] == 5
        seen += ids_of(found)
        assert found["pageInfo"]["hasPreviousPage"] is (after is not None)
        if not found["pageInfo"]["hasNextPage"]:
            break
        after = found["pageInfo"]["endCursor"]
    assert seen == ids
    listed = (await ws.gql("query { webhookEndpoints { id } }")).data["webhookEndpoints"]
    assert [e["id"] for e in listed] == ids  # the same order as the list field


async def test_backward_pages_walk_them_newest_first(five: tuple[Workspace, list[str]]) -> None:
    ws, ids = five
    last_two = await page(ws, last=2)
    assert ids_of(last_two) == ids[3:]
    assert last_two["pageInfo"]["hasPreviousPage"] is True
    assert last_two["pageInfo"]["hasNextPage"] is False
    before = await page(ws, last=2, before=last_two["pageInfo"]["startCursor"])
    assert ids_of(before) == ids[1:3]
    first = await page(ws, last=2, before=before["pageInfo"]["startCursor"])
    assert ids_of(first) == ids[:1]
    assert first["pageInfo"]["hasPreviousPage"] is False
    assert first["pageInfo"]["hasNextPage"] is True
    between = await page(
        ws, first=10, after=first["edges"][0]["cursor"], before=last_two["edges"][0]["cursor"]
    )
    assert ids_of(between) == ids[1:3]


async def test_another_workspaces_endpoints_are_not_listed(
    five: tuple[Workspace, list[str]], other_workspace: Workspace
) -> None:
    ws, _ = five
    assert (await page(other_workspace))["totalCount"] == 0
    assert (await page(other_workspace))["edges"] == []
    assert (await page(ws))["totalCount"] == 5


@pytest.mark.parametrize(
    "variables",
    [
        {"first": 0},
        {"last": 1001},
        {"first": 1, "last": 1},
        {"after": "not a cursor"},
        {"before": "czpzZWdfMQ=="},  # a segments cursor
    ],
)
async def test_bad_arguments_are_request_errors(
    workspace: Workspace, variables: dict[str, Any]
) -> None:
    result = await workspace.gql(PAGE, variables)
    assert [e["extensions"]["code"] for e in result.errors] == ["BAD_USER_INPUT"]


async def test_only_admin_keys_list_endpoints(workspace: Workspace) -> None:
    for role in (Role.READ, Role.WRITE):
        result = await workspace.gql(PAGE, role=role)
        assert result.errors[0]["extensions"]["code"] == "FORBIDDEN"
