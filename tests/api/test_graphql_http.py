"""GraphQL over HTTP: application/graphql-response+json and its statuses, GET for queries only."""

from __future__ import annotations

from typing import Any

import httpx

from domain.access import Role
from tests.conftest import Workspace

NEW = "application/graphql-response+json"
QUERY = "query { customers(first: 1) { totalCount } }"
MUTATION = 'mutation { customersUpsert(customers: [{id: "by-get"}]) { userErrors { code } } }'


async def post(ws: Workspace, query: str, accept: str | None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {ws.keys[Role.ADMIN]}"}
    if accept is not None:
        headers["Accept"] = accept
    return await ws.http.post(f"{ws.base_url}/graphql", json={"query": query}, headers=headers)


async def get(ws: Workspace, query: str, accept: str = NEW) -> httpx.Response:
    return await ws.http.get(
        f"{ws.base_url}/graphql",
        params={"query": query},
        headers={"Authorization": f"Bearer {ws.keys[Role.ADMIN]}", "Accept": accept},
    )


def body(response: httpx.Response) -> Any:
    return response.json()


async def test_the_new_media_type_is_served_when_accepted(workspace: Workspace) -> None:
    # when a query is sent accepting the new media type (before JSON, as graphql-http does)
    response = await post(workspace, QUERY, f"{NEW}, application/json;q=0.9")

    # then it comes back in it, as usual otherwise
    assert response.status_code == 200
    assert response.headers["content-type"].startswith(NEW)
    assert body(response)["data"] == {"customers": {"totalCount": 0}}  # beside extensions.cost


async def test_a_result_with_data_is_the_same_body_in_either_media_type(
    workspace: Workspace,
) -> None:
    # given a customer whose name is not ASCII (json's encoder would escape it)
    upsert = (
        'mutation { customersUpsert(customers: [{id: "c1", name: "Zoë"}]) { userErrors { code } } }'
    )
    assert body(await post(workspace, upsert, None))["data"]["customersUpsert"]["userErrors"] == []
    query = "{ customers(first: 5) { edges { node { id name } } } }"

    # when the same query is asked for in each media type
    new = await post(workspace, query, NEW)
    legacy = await post(workspace, query, "application/json")

    # then only the media type differs: the body is served as the view encoded it
    assert new.headers["content-type"].startswith(NEW)
    assert new.status_code == legacy.status_code == 200
    assert new.content == legacy.content
    assert "Zoë".encode() in new.content


async def test_documents_that_do_not_parse_or_validate_are_400_without_data(
    workspace: Workspace,
) -> None:
    for document in ["{ customers(first: 1) {", "{ noSuchField }"]:
        # when a broken document is sent accepting the new media type
        response = await post(workspace, document, NEW)

        # then it is a 400 with errors and no data entry
        assert response.status_code == 400, document
        assert response.headers["content-type"].startswith(NEW)
        assert "data" not in body(response) and body(response)["errors"]


async def test_field_errors_keep_200_and_data(workspace: Workspace) -> None:
    # when a valid document fails while executing (an argument out of range)
    response = await post(workspace, "{ customers(first: 0) { totalCount } }", NEW)

    # then execution began: 200, a data entry, the error with its code
    assert response.status_code == 200
    assert "data" in body(response)
    assert body(response)["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_json_clients_see_no_change(workspace: Workspace) -> None:
    for accept in [None, "application/json", "*/*"]:
        # when a broken document is sent by a client asking for JSON (or anything)
        response = await post(workspace, "{ noSuchField }", accept)

        # then it is JSON, 200, with data null beside the errors, as before
        assert response.status_code == 200, accept
        assert response.headers["content-type"].startswith("application/json")
        assert body(response)["data"] is None and body(response)["errors"]


async def test_queries_may_be_sent_by_get(workspace: Workspace) -> None:
    # when a query is sent by GET
    response = await get(workspace, QUERY)

    # then it runs
    assert response.status_code == 200
    assert body(response)["data"] == {"customers": {"totalCount": 0}}


async def test_a_mutation_sent_by_get_is_refused_with_405(workspace: Workspace) -> None:
    # when a mutation is sent by GET
    response = await get(workspace, MUTATION)

    # then it is refused with 405 and a plain message, and nothing was written
    assert response.status_code == 405
    assert "POST" in response.text
    after = await post(workspace, '{ customer(id: "by-get") { id } }', "application/json")
    assert body(after)["data"] == {"customer": None}


SUBSCRIPTION = 'subscription { segmentMembershipChanged(segmentId: "seg_none") { type } }'


async def test_a_subscription_sent_over_http_is_a_400_that_names_the_websocket(
    workspace: Workspace,
) -> None:
    # when a subscription is sent by POST, as either media type, and by GET
    sent = [
        await post(workspace, SUBSCRIPTION, "application/json"),
        await post(workspace, SUBSCRIPTION, NEW),
        await get(workspace, SUBSCRIPTION),
    ]

    # then each is refused with 400 and a plain message pointing at the WebSocket, not
    # run as a query (which answered 500, "Internal server error")
    for response in sent:
        assert response.status_code == 400, response.text
        assert "WebSocket" in response.text
