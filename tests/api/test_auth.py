"""API keys: who may call, what each role may do, and workspace isolation."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
import websockets
from sqlalchemy import text

from api.runtime import Runtime
from domain.access import Role
from tests.api.documents import CUSTOMER, CUSTOMERS, DEFINE_PROPERTY, DELETE, UPSERT
from tests.conftest import Workspace

QUERY = {"query": "{ customers { totalCount } }"}


async def post(http: httpx.AsyncClient, server: str, headers: dict[str, str]) -> httpx.Response:
    return await http.post(f"{server}/graphql", json=QUERY, headers=headers)


async def count(ws: Workspace) -> int:
    total: int = (await ws.gql(CUSTOMERS, {})).data["customers"]["totalCount"]
    return total


# ---- who may call -------------------------------------------------------------------


async def test_no_key_is_401_plain_text(http: httpx.AsyncClient, server: str) -> None:
    response = await post(http, server, {})
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("text/plain")
    assert "Authorization: Bearer" in response.text


@pytest.mark.parametrize(
    "header",
    [
        "Bearer sq_not-a-real-key",
        "Bearer",
        "Basic dXNlcjpwYXNz",
        "sq_something",
        "Bearer " + "x" * 5000,
    ],
)
async def test_wrong_key_is_401(http: httpx.AsyncClient, server: str, header: str) -> None:
    response = await post(http, server, {"Authorization": header})
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("text/plain")


async def test_a_key_of_another_form_never_passes(
    workspace: Workspace, http: httpx.AsyncClient, server: str
) -> None:
    # given a valid key, altered by one character or truncated
    key = workspace.keys[Role.ADMIN]
    for wrong in [key[:-1], key + "x", key.upper(), key[:-1] + ("A" if key[-1] != "A" else "B")]:
        response = await post(http, server, {"Authorization": f"Bearer {wrong}"})
        assert response.status_code == 401, wrong


async def test_the_bearer_scheme_is_case_insensitive(
    workspace: Workspace, http: httpx.AsyncClient, server: str
) -> None:
    key = workspace.keys[Role.READ]
    for scheme in ["Bearer", "bearer", "BEARER"]:
        response = await post(http, server, {"Authorization": f"{scheme} {key}"})
        assert response.status_code == 200, scheme


async def test_a_revoked_key_is_401(
    workspace: Workspace, http: httpx.AsyncClient, server: str, runtime: Runtime
) -> None:
    # given a key that worked
    key = workspace.keys[Role.READ]
    assert (await post(http, server, {"Authorization": f"Bearer {key}"})).status_code == 200

    # when it is revoked
    async with runtime.engine.begin() as conn:
        await conn.execute(
            text(
                "UPDATE api_key SET revoked_at = now() WHERE workspace_pk = "
                "(SELECT pk FROM workspace WHERE name = :n) AND role = 'READ'"
            ),
            {"n": workspace.name},
        )

    # then it no longer opens anything
    assert (await post(http, server, {"Authorization": f"Bearer {key}"})).status_code == 401


async def test_queries_by_get_need_a_key_too(
    workspace: Workspace, http: httpx.AsyncClient, server: str
) -> None:
    url = f"{server}/graphql"
    params = {"query": "{ customers { totalCount } }"}
    anonymous = await http.get(url, params=params)
    keyed = await http.get(
        url, params=params, headers={"Authorization": f"Bearer {workspace.keys[Role.READ]}"}
    )
    assert anonymous.status_code == 401
    assert keyed.status_code == 200
    assert keyed.json()["data"] == {"customers": {"totalCount": 0}}


async def test_the_api_explorer_opens_without_a_key(http: httpx.AsyncClient, server: str) -> None:
    # the explorer page itself holds no data; the key is typed into its headers
    response = await http.get(f"{server}/graphql", headers={"Accept": "text/html"})
    assert response.status_code == 200
    assert "graphiql" in response.text.lower()


async def test_health_needs_no_key(http: httpx.AsyncClient, server: str) -> None:
    assert (await http.get(f"{server}/healthz")).status_code == 200
    assert (await http.get(f"{server}/readyz")).status_code == 200


# ---- roles ----------------------------------------------------------------------------


async def test_read_key_queries_but_cannot_mutate(workspace: Workspace) -> None:
    # given a stored customer
    await workspace.gql(UPSERT, {"customers": [{"id": "c1", "name": "before"}]}, role=Role.WRITE)

    # when a READ key reads, then tries to upsert and to delete
    read = await workspace.gql(CUSTOMER, {"id": "c1"}, role=Role.READ)
    upsert = await workspace.gql(
        UPSERT, {"customers": [{"id": "c1", "name": "after"}, {"id": "c2"}]}, role=Role.READ
    )
    delete = await workspace.gql(DELETE, {"ids": ["c1"]}, role=Role.READ)

    # then the read works and each mutation is a top-level FORBIDDEN error
    assert read.data["customer"]["name"] == "before"
    for refused in (upsert, delete):
        assert refused.status == 200
        assert refused.body["data"] is None
        assert [e["extensions"]["code"] for e in refused.errors] == ["FORBIDDEN"]
        assert "read-only" in refused.errors[0]["message"]

    # and nothing changed
    assert (await workspace.gql(CUSTOMER, {"id": "c1"})).data["customer"]["name"] == "before"
    assert await count(workspace) == 1


async def test_write_key_mutates(workspace: Workspace) -> None:
    upsert = await workspace.gql(UPSERT, {"customers": [{"id": "c1"}]}, role=Role.WRITE)
    assert upsert.data["customersUpsert"]["userErrors"] == []
    delete = await workspace.gql(DELETE, {"ids": ["c1"]}, role=Role.WRITE)
    assert delete.data["customersDelete"]["deletedCustomerIds"] == ["c1"]


async def test_write_key_cannot_declare_properties(workspace: Workspace) -> None:
    result = await workspace.gql(
        DEFINE_PROPERTY, {"input": {"key": "plan", "type": "STRING"}}, role=Role.WRITE
    )
    assert [e["extensions"]["code"] for e in result.errors] == ["FORBIDDEN"]


# ---- isolation ------------------------------------------------------------------------


async def test_a_workspace_never_sees_another_workspaces_customers(
    workspace: Workspace, other_workspace: Workspace
) -> None:
    # given customers in workspace A only
    await workspace.gql(
        UPSERT,
        {
            "customers": [
                {
                    "id": "secret",
                    "email": "secret@a.com",
                    "name": "Secret",
                    "externalId": "ext-secret",
                }
            ]
        },
    )

    # when workspace B looks for them every way it can
    by_id = await other_workspace.gql(CUSTOMER, {"id": "secret"}, role=Role.READ)
    listed = await other_workspace.gql(CUSTOMERS, {"first": 1000}, role=Role.READ)
    searches = [
        await other_workspace.gql(CUSTOMERS, {"search": term}, role=Role.READ)
        for term in ["secret", "a.com", "ext-secret", "e"]
    ]

    # then it finds nothing
    assert by_id.data["customer"] is None
    assert listed.data["customers"]["edges"] == []
    assert listed.data["customers"]["totalCount"] == 0
    for result in searches:
        assert result.data["customers"]["totalCount"] == 0

    # and A still sees its own
    assert (await workspace.gql(CUSTOMER, {"id": "secret"})).data["customer"]["id"] == "secret"


async def test_a_cursor_from_one_workspace_reveals_nothing_in_another(
    workspace: Workspace, other_workspace: Workspace
) -> None:
    await workspace.gql(UPSERT, {"customers": [{"id": "a1"}, {"id": "a2"}]})
    await other_workspace.gql(UPSERT, {"customers": [{"id": "b1"}]})
    cursor = (await workspace.gql(CUSTOMERS, {"first": 1})).data["customers"]["pageInfo"][
        "endCursor"
    ]
    result = await other_workspace.gql(CUSTOMERS, {"first": 10, "after": cursor})
    assert [e["node"]["id"] for e in result.data["customers"]["edges"]] == ["b1"]


async def test_same_customer_id_in_two_workspaces_are_independent(
    workspace: Workspace, other_workspace: Workspace
) -> None:
    # given the same id upserted in both workspaces, with orders
    await workspace.gql(
        UPSERT, {"customers": [{"id": "c1", "name": "A", "orders": [{"id": "o1", "amount": 1}]}]}
    )
    await other_workspace.gql(
        UPSERT, {"customers": [{"id": "c1", "name": "B", "orders": [{"id": "o1", "amount": 50}]}]}
    )

    # when B updates and then deletes its c1
    await other_workspace.gql(UPSERT, {"customers": [{"id": "c1", "name": "B2"}]})
    deleted = await other_workspace.gql(DELETE, {"ids": ["c1"]})

    # then A's c1 is untouched throughout
    assert deleted.data["customersDelete"]["deletedCustomerIds"] == ["c1"]
    a = (await workspace.gql(CUSTOMER, {"id": "c1"})).data["customer"]
    assert (a["name"], a["ordersCount"], a["totalSpent"]) == ("A", 1, 1.0)
    assert (await other_workspace.gql(CUSTOMER, {"id": "c1"})).data["customer"] is None


async def test_custom_properties_are_per_workspace(
    workspace: Workspace, other_workspace: Workspace
) -> None:
    await workspace.gql(DEFINE_PROPERTY, {"input": {"key": "plan", "type": "STRING"}})
    result = await other_workspace.gql(
        UPSERT, {"customers": [{"id": "c1", "properties": {"plan": "pro"}}]}
    )
    assert [e["code"] for e in result.data["customersUpsert"]["userErrors"]] == [
        "PROPERTY_NOT_DECLARED"
    ]


async def test_a_parent_in_another_workspace_is_not_a_child_here(
    workspace: Workspace, other_workspace: Workspace
) -> None:
    await workspace.gql(UPSERT, {"customers": [{"id": "p"}]})
    await other_workspace.gql(UPSERT, {"customers": [{"id": "kid", "parentId": "p"}]})
    assert (await workspace.gql(CUSTOMER, {"id": "p"})).data["customer"]["hasChild"] is False


# ---- WebSocket connection_init --------------------------------------------------------


async def ws_connect(server: str, payload: Any) -> tuple[str, Any]:
    """Open a graphql-transport-ws connection; returns ("ack", msg) or ("closed", code)."""
    url = server.replace("http://", "ws://") + "/graphql"
    async with websockets.connect(url, subprotocols=["graphql-transport-ws"]) as socket:  # type: ignore[list-item]
        init: dict[str, Any] = {"type": "connection_init"}
        if payload is not None:
            init["payload"] = payload
        await socket.send(json.dumps(init))
        try:
            message = json.loads(await socket.recv())
        except websockets.ConnectionClosed as closed:
            return "closed", closed.rcvd.code if closed.rcvd else None
        return message["type"], message


async def test_websocket_needs_a_key_in_connection_init(workspace: Workspace, server: str) -> None:
    key = workspace.keys[Role.READ]
    assert (await ws_connect(server, {"Authorization": f"Bearer {key}"}))[0] == "connection_ack"
    assert await ws_connect(server, None) == ("closed", 4403)
    assert await ws_connect(server, {"Authorization": "Bearer sq_wrong"}) == ("closed", 4403)
    assert await ws_connect(server, {"Authorization": key}) == ("closed", 4403)


async def test_websocket_read_key_cannot_mutate(workspace: Workspace, server: str) -> None:
    # given a READ connection
    url = server.replace("http://", "ws://") + "/graphql"
    key = workspace.keys[Role.READ]
    async with websockets.connect(url, subprotocols=["graphql-transport-ws"]) as socket:  # type: ignore[list-item]
        await socket.send(
            json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {key}"}})
        )
        assert json.loads(await socket.recv())["type"] == "connection_ack"

        # when it sends a mutation as an operation
        await socket.send(
            json.dumps(
                {
                    "type": "subscribe",
                    "id": "1",
                    "payload": {
                        "query": 'mutation { customersUpsert(customers: [{id: "x"}]) '
                        "{ userErrors { code } } }"
                    },
                }
            )
        )
        message = json.loads(await socket.recv())

    # then it is refused as FORBIDDEN and nothing is stored
    errors = message["payload"] if message["type"] == "error" else message["payload"]["errors"]
    assert [e["extensions"]["code"] for e in errors] == ["FORBIDDEN"]
    assert await count(workspace) == 0
