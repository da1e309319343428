"""Bad input of every kind: each is refused with a clear answer and changes nothing."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import httpx
import pytest

from api.runtime import Runtime
from domain.access import Role
from tests.api.documents import CUSTOMER, CUSTOMERS, DEFINE_PROPERTY, UPSERT
from tests.conftest import Workspace, serving

SMALL_BODY_LIMIT = 2_000


async def upsert(ws: Workspace, *customers: dict[str, Any]) -> dict[str, Any]:
    payload: dict[str, Any] = (await ws.gql(UPSERT, {"customers": list(customers)})).data[
        "customersUpsert"
    ]
    return payload


def codes(payload: dict[str, Any]) -> list[tuple[list[str] | None, str]]:
    return [(e["field"], e["code"]) for e in payload["userErrors"]]


async def count(ws: Workspace) -> int:
    total: int = (await ws.gql(CUSTOMERS, {})).data["customers"]["totalCount"]
    return total


async def raw_post(
    ws: Workspace, body: bytes, content_type: str = "application/json"
) -> httpx.Response:
    return await ws.http.post(
        f"{ws.base_url}/graphql",
        content=body,
        headers={"Authorization": f"Bearer {ws.keys[Role.ADMIN]}", "Content-Type": content_type},
    )


def top_level_codes(body: dict[str, Any]) -> list[str]:
    return [e.get("extensions", {}).get("code") for e in body.get("errors", [])]


# ---- ids -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("bad_id", "code"),
    [
        ("", "INVALID"),
        ("   ", "INVALID"),
        ("x" * 256, "TOO_LONG"),
        ("a\x00b", "INVALID"),
        ("a\x01b", "INVALID"),
        ("line\nbreak", "INVALID"),
        ("tab\there", "INVALID"),
        ("del\x7f", "INVALID"),
    ],
)
async def test_malformed_customer_ids_are_refused(
    workspace: Workspace, bad_id: str, code: str
) -> None:
    payload = await upsert(workspace, {"id": "fine"}, {"id": bad_id})
    assert payload["customers"] == []
    assert codes(payload) == [(["customers", "1", "id"], code)]
    assert await count(workspace) == 0


@pytest.mark.parametrize("bad_id", ["", " ", "r" * 256, "r\x00"])
async def test_malformed_record_ids_are_refused(workspace: Workspace, bad_id: str) -> None:
    payload = await upsert(workspace, {"id": "c1", "orders": [{"id": bad_id, "amount": 1}]})
    assert [f for f, _ in codes(payload)] == [["customers", "0", "orders", "0", "id"]]
    assert await count(workspace) == 0


async def test_malformed_parent_id_is_refused(workspace: Workspace) -> None:
    payload = await upsert(workspace, {"id": "c1", "parentId": "p" * 256})
    assert codes(payload) == [(["customers", "0", "parentId"], "TOO_LONG")]


async def test_the_longest_id_and_unusual_characters_are_fine(workspace: Workspace) -> None:
    ids = ["x" * 255, "émile@例え.jp", "with space", "'; DROP TABLE customer; --", "🙂"]
    payload = await upsert(workspace, *({"id": i} for i in ids))
    assert payload["userErrors"] == []
    for customer_id in ids:
        found = await workspace.gql(CUSTOMER, {"id": customer_id})
        assert found.data["customer"]["id"] == customer_id


async def test_lone_surrogates_are_refused_not_a_fault(workspace: Workspace) -> None:
    # JSON can spell a lone UTF-16 surrogate ("\ud800"), which PostgreSQL cannot store
    body = json.dumps(
        {"query": UPSERT, "variables": {"customers": [{"id": "ok", "name": "x\\ud800"}]}}
    ).replace("\\\\ud800", "\\ud800")
    response = await raw_post(workspace, body.encode())
    payload = response.json()["data"]["customersUpsert"]
    assert codes(payload) == [(["customers", "0", "name"], "INVALID")]

    body = json.dumps({"query": UPSERT, "variables": {"customers": [{"id": "ID"}]}}).replace(
        '"ID"', '"\\ud800"'
    )
    payload = (await raw_post(workspace, body.encode())).json()["data"]["customersUpsert"]
    assert codes(payload) == [(["customers", "0", "id"], "INVALID")]


async def test_unstorable_ids_and_search_terms_find_nothing(workspace: Workspace) -> None:
    # given a customer
    await upsert(workspace, {"id": "ab"})

    # when looked up with a NUL in the id or the search term
    by_id = await workspace.gql(CUSTOMER, {"id": "a\x00b"})
    searched = await workspace.gql(CUSTOMERS, {"search": "a\x00"})
    long_id = await workspace.gql(CUSTOMER, {"id": "x" * 10_000})

    # then nothing is found, and nothing fails
    assert by_id.data["customer"] is None
    assert searched.data["customers"]["totalCount"] == 0
    assert long_id.data["customer"] is None


# ---- batch size ------------------------------------------------------------------------


async def test_1001_customers_are_refused_and_nothing_is_stored(workspace: Workspace) -> None:
    payload = await upsert(workspace, *({"id": f"c{n}"} for n in range(1001)))
    assert payload["customers"] == []
    assert codes(payload) == [(["customers"], "TOO_MANY")]
    assert "1001" in payload["userErrors"][0]["message"]
    assert await count(workspace) == 0


async def test_too_many_records_for_one_customer(workspace: Workspace) -> None:
    payload = await upsert(
        workspace, {"id": "c1", "orders": [{"id": f"o{n}"} for n in range(1001)]}
    )
    assert codes(payload) == [(["customers", "0", "orders"], "TOO_MANY")]


# ---- codes and enumerations ----------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value", "code"),
    [
        ("country", "XX", "INVALID_COUNTRY"),
        ("country", "fr", "INVALID_COUNTRY"),
        ("country", "FRA", "INVALID_COUNTRY"),
        ("country", "", "INVALID_COUNTRY"),
        ("currency", "EURO", "INVALID_CURRENCY"),
        ("currency", "eur", "INVALID_CURRENCY"),
        ("currency", "XYZ", "INVALID_CURRENCY"),
        ("language", "xx", "INVALID_LANGUAGE"),
        ("language", "fra", "INVALID_LANGUAGE"),
        ("paymentMethodType", "PAYPAL", "INVALID_ENUM_VALUE"),
        ("paymentMethodType", "card", "INVALID_ENUM_VALUE"),
    ],
)
async def test_unknown_codes_are_refused(
    workspace: Workspace, field: str, value: str, code: str
) -> None:
    payload = await upsert(workspace, {"id": "c1", field: value})
    assert codes(payload) == [(["customers", "0", field], code)]
    assert await count(workspace) == 0


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("country", "FR"),
        ("currency", "EUR"),
        ("language", "fr"),
        ("paymentMethodType", "DIRECT_DEBIT"),
    ],
)
async def test_valid_codes_are_accepted(workspace: Workspace, field: str, value: str) -> None:
    payload = await upsert(workspace, {"id": "c1", field: value})
    assert payload["customers"][0][field] == value


@pytest.mark.parametrize(
    ("scope", "record", "field", "code"),
    [
        ("subscriptions", {"status": "active"}, "status", "INVALID_ENUM_VALUE"),
        ("invoices", {"status": "LOST"}, "status", "INVALID_ENUM_VALUE"),
        ("orders", {"currency": "EU"}, "currency", "INVALID_CURRENCY"),
        ("orders", {"amount": 1e16}, "amount", "INVALID"),
        ("wallets", {"currency": "BTC"}, "currency", "INVALID_CURRENCY"),
        ("verifications", {"kind": "DNA"}, "kind", "INVALID_ENUM_VALUE"),
    ],
)
async def test_bad_record_fields_are_refused(
    workspace: Workspace, scope: str, record: dict[str, Any], field: str, code: str
) -> None:
    payload = await upsert(workspace, {"id": "c1", scope: [{"id": "r1", **record}]})
    assert codes(payload) == [(["customers", "0", scope, "0", field], code)]


# ---- property types --------------------------------------------------------------------


async def test_wrong_property_types_are_refused(workspace: Workspace) -> None:
    # given NUMBER and BOOLEAN properties
    for key, type_ in [("seats", "NUMBER"), ("vip", "BOOLEAN")]:
        result = await workspace.gql(DEFINE_PROPERTY, {"input": {"key": key, "type": type_}})
        assert result.data["customPropertyDefine"]["userErrors"] == []

    # when a batch writes strings into both, on different items
    payload = await upsert(
        workspace,
        {"id": "a", "properties": {"seats": "3"}},
        {"id": "b", "properties": {"vip": "yes"}},
    )

    # then both are reported, each at its item, and nothing is stored
    assert codes(payload) == [
        (["customers", "0", "properties", "seats"], "PROPERTY_TYPE_MISMATCH"),
        (["customers", "1", "properties", "vip"], "PROPERTY_TYPE_MISMATCH"),
    ]
    assert await count(workspace) == 0


# ---- sizes -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "limit"),
    [("email", 320), ("name", 255), ("externalId", 255), ("city", 255), ("taxId", 64)],
)
async def test_oversized_strings_are_refused(workspace: Workspace, field: str, limit: int) -> None:
    fits = await upsert(workspace, {"id": "c1", field: "x" * limit})
    assert fits["userErrors"] == []
    too_long = await upsert(workspace, {"id": "c1", field: "y" * (limit + 1)})
    assert codes(too_long) == [(["customers", "0", field], "TOO_LONG")]
    stored = (await workspace.gql(CUSTOMER, {"id": "c1"})).data["customer"]
    assert stored[field] == "x" * limit


async def test_nul_characters_in_text_are_refused(workspace: Workspace) -> None:
    payload = await upsert(workspace, {"id": "c1", "name": "a\x00b"})
    assert codes(payload) == [(["customers", "0", "name"], "INVALID")]


# ---- GraphQL documents -----------------------------------------------------------------


DEEP = """
{ customers { edges { node {
    segments { members { edges { node {
      segments { members { edges { node {
        segments { members { totalCount } }
      } } } }
    } } } }
} } } }
"""


async def test_a_document_nested_too_deep_is_refused(workspace: Workspace) -> None:
    # customers > edges > node > segments > members > ... is 14 levels: over the 12 allowed
    result = await workspace.gql(DEEP)
    assert result.body["data"] is None
    assert "depth" in result.errors[0]["message"]
    assert top_level_codes(result.body) == ["BAD_REQUEST"]


async def test_the_explorer_introspection_query_is_within_limits(workspace: Workspace) -> None:
    from graphql import get_introspection_query

    result = await workspace.gql(get_introspection_query(descriptions=True), role=Role.READ)
    assert result.data["__schema"]["queryType"]["name"] == "Query"


async def test_a_huge_document_is_refused(workspace: Workspace) -> None:
    query = "{ customers { " + "totalCount " * 25_000 + "} }"
    result = await workspace.gql(query)
    assert result.body["data"] is None
    assert "tokens" in result.errors[0]["message"]
    assert top_level_codes(result.body) == ["BAD_REQUEST"]


async def test_too_many_aliases_are_refused(workspace: Workspace) -> None:
    query = "{ " + " ".join(f"a{n}: customers {{ totalCount }}" for n in range(51)) + " }"
    result = await workspace.gql(query)
    assert "aliases" in result.errors[0]["message"]
    assert top_level_codes(result.body) == ["BAD_REQUEST"]


@pytest.mark.parametrize(
    "query",
    [
        "{ customers( ",
        "{ nope }",
        "{ customers(first: 3000000000) { totalCount } }",
        '{ customer(id: "x") { nope } }',
        "query { customers { edges { node { ...A } } } } "
        "fragment A on Customer { id ...B } fragment B on Customer { ...A }",
    ],
)
async def test_malformed_documents_are_request_errors(workspace: Workspace, query: str) -> None:
    result = await workspace.gql(query)
    assert result.status == 200
    assert result.body["data"] is None
    assert top_level_codes(result.body) == ["BAD_REQUEST"]


async def test_bad_variable_values_are_request_errors(workspace: Workspace) -> None:
    result = await workspace.gql(UPSERT, {"customers": [{"id": "c1", "createdAt": "yesterday"}]})
    assert result.body["data"] is None
    assert top_level_codes(result.body) == ["BAD_REQUEST"]
    assert await count(workspace) == 0


# ---- HTTP bodies -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [b"{not json", b"", b'"just a string"', b"42", b"null", b'{"query": "\xff"}', b"[]"],
)
async def test_invalid_json_bodies_are_400(workspace: Workspace, body: bytes) -> None:
    response = await raw_post(workspace, body)
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("text/plain")


async def test_other_content_types_are_400(workspace: Workspace) -> None:
    response = await raw_post(workspace, b"{ customers { totalCount } }", "text/plain")
    assert response.status_code == 400


async def test_a_body_without_a_query_is_400(workspace: Workspace) -> None:
    assert (await raw_post(workspace, b"{}")).status_code == 400
    assert (await raw_post(workspace, b'{"query": 5}')).status_code == 400
    assert (
        await raw_post(workspace, b'{"query": "{ customers { totalCount } }", "variables": "x"}')
    ).status_code == 400


@pytest.fixture
async def small_server(runtime: Runtime) -> AsyncIterator[str]:
    """The app again, on its own port, with a 2 kB body limit."""
    limited = Runtime(
        replace(runtime.settings, max_request_bytes=SMALL_BODY_LIMIT),
        runtime.database,
        runtime.engine,
    )
    async with serving(limited) as url:
        yield url


async def test_a_body_over_the_limit_is_413(workspace: Workspace, small_server: str) -> None:
    headers = {"Authorization": f"Bearer {workspace.keys[Role.ADMIN]}"}
    small = {"query": UPSERT, "variables": {"customers": [{"id": "c1"}]}}
    big = {"query": UPSERT, "variables": {"customers": [{"id": f"c{n}"} for n in range(300)]}}

    # a body under the limit passes
    ok = await workspace.http.post(f"{small_server}/graphql", json=small, headers=headers)
    assert ok.status_code == 200

    # one over it, declared by Content-Length, is refused before it is read
    refused = await workspace.http.post(f"{small_server}/graphql", json=big, headers=headers)
    assert refused.status_code == 413

    # and so is one streamed without a Content-Length
    async def chunks() -> AsyncIterator[bytes]:
        data = json.dumps(big).encode()
        for start in range(0, len(data), 500):
            yield data[start : start + 500]

    streamed = await workspace.http.post(
        f"{small_server}/graphql",
        content=chunks(),
        headers=headers | {"Content-Type": "application/json"},
    )
    assert streamed.status_code == 413

    # and nothing from the refused bodies was stored
    assert await count(workspace) == 1


# ---- health ----------------------------------------------------------------------------


async def test_health_endpoints(http: httpx.AsyncClient, server: str) -> None:
    healthz = await http.get(f"{server}/healthz")
    readyz = await http.get(f"{server}/readyz")
    assert (healthz.status_code, healthz.text) == (200, "ok")
    assert (readyz.status_code, readyz.json()["ready"]) == (200, True)
