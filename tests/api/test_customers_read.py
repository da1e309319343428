"""customer(id), customers(first, after, search) and a customer's orders(first, after)."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from tests.api.documents import CUSTOMER, CUSTOMERS, DELETE, UPSERT
from tests.conftest import Workspace

ORDERS = """
query Orders($id: ID!, $first: Int, $after: String) {
  customer(id: $id) {
    orders(first: $first, after: $after) {
      totalCount
      edges { cursor node { id amount } }
      pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    }
  }
}
"""


async def seed(ws: Workspace, customers: list[dict[str, Any]]) -> None:
    result = await ws.gql(UPSERT, {"customers": customers})
    assert result.data["customersUpsert"]["userErrors"] == []


async def page(
    ws: Workspace, first: int | None = None, after: str | None = None, search: str | None = None
) -> dict[str, Any]:
    result = await ws.gql(CUSTOMERS, {"first": first, "after": after, "search": search})
    connection: dict[str, Any] = result.data["customers"]
    return connection


def ids(connection: dict[str, Any]) -> list[str]:
    return [edge["node"]["id"] for edge in connection["edges"]]


async def search_ids(ws: Workspace, term: str) -> list[str]:
    return ids(await page(ws, first=1000, search=term))


def error_codes(result: Any) -> list[str]:
    return [e.get("extensions", {}).get("code") for e in result.errors]


# ---- customer(id) -------------------------------------------------------------------


async def test_customer_by_id(workspace: Workspace) -> None:
    # given a customer
    await seed(workspace, [{"id": "cus_1", "email": "a@example.com"}])

    # when it is read by id, and an unknown id is read
    found = await workspace.gql(CUSTOMER, {"id": "cus_1"})
    missing = await workspace.gql(CUSTOMER, {"id": "cus_2"})

    # then the first comes back and the second is null, without errors
    assert found.data["customer"]["email"] == "a@example.com"
    assert missing.data["customer"] is None


async def test_customer_ids_are_exact(workspace: Workspace) -> None:
    # given ids differing only in case or surrounding spaces
    await seed(workspace, [{"id": "Abc"}, {"id": "abc"}, {"id": " abc "}])

    # then each is its own customer
    for cid in ["Abc", "abc", " abc "]:
        assert (await workspace.gql(CUSTOMER, {"id": cid})).data["customer"]["id"] == cid
    assert (await workspace.gql(CUSTOMER, {"id": "ABC"})).data["customer"] is None


# ---- customers(first, after) ----------------------------------------------------------


async def test_keyset_pages_cover_every_customer_once(workspace: Workspace) -> None:
    # given 25 customers sent in scrambled order
    all_ids = [f"cus_{n:02d}" for n in range(25)]
    await seed(workspace, [{"id": i} for i in reversed(all_ids)])

    # when they are read 10 at a time
    pages = [await page(workspace, first=10)]
    while pages[-1]["pageInfo"]["hasNextPage"]:
        pages.append(await page(workspace, first=10, after=pages[-1]["pageInfo"]["endCursor"]))

    # then the pages hold 10, 10 and 5, by id, with no duplicates and no gaps
    assert [len(p["edges"]) for p in pages] == [10, 10, 5]
    assert [i for p in pages for i in ids(p)] == all_ids
    assert {p["totalCount"] for p in pages} == {25}
    assert [p["pageInfo"]["hasPreviousPage"] for p in pages] == [False, True, True]
    for p in pages:
        assert p["pageInfo"]["startCursor"] == p["edges"][0]["cursor"]
        assert p["pageInfo"]["endCursor"] == p["edges"][-1]["cursor"]


async def test_cursors_are_stable_across_writes(workspace: Workspace) -> None:
    # given 6 customers and the cursor after the third
    await seed(workspace, [{"id": f"c{n}"} for n in range(6)])
    first_page = await page(workspace, first=3)
    cursor = first_page["pageInfo"]["endCursor"]
    second_page = await page(workspace, first=3, after=cursor)

    # when a customer sorting before the cursor is added and the cursor's own customer deleted
    await seed(workspace, [{"id": "c0a"}])
    await workspace.gql(DELETE, {"ids": ["c2"]})

    # then the same cursor still gives the same next page, with the same cursors
    again = await page(workspace, first=3, after=cursor)
    assert ids(again) == ids(second_page) == ["c3", "c4", "c5"]
    assert [e["cursor"] for e in again["edges"]] == [e["cursor"] for e in second_page["edges"]]


async def test_default_page_is_50(workspace: Workspace) -> None:
    await seed(workspace, [{"id": f"c{n:03d}"} for n in range(60)])
    connection = await page(workspace)
    assert len(connection["edges"]) == 50
    assert connection["pageInfo"]["hasNextPage"] is True
    assert connection["totalCount"] == 60


async def test_an_empty_workspace_has_an_empty_page(workspace: Workspace) -> None:
    connection = await page(workspace)
    assert connection == {
        "totalCount": 0,
        "edges": [],
        "pageInfo": {
            "hasNextPage": False,
            "hasPreviousPage": False,
            "startCursor": None,
            "endCursor": None,
        },
    }


async def test_exactly_a_full_last_page_has_no_next(workspace: Workspace) -> None:
    await seed(workspace, [{"id": f"c{n}"} for n in range(4)])
    connection = await page(workspace, first=4)
    assert len(connection["edges"]) == 4
    assert connection["pageInfo"]["hasNextPage"] is False


@pytest.mark.parametrize("first", [0, -1, 1001])
async def test_first_out_of_range_is_a_request_error(workspace: Workspace, first: int) -> None:
    result = await workspace.gql(CUSTOMERS, {"first": first})
    assert result.body["data"] is None
    assert error_codes(result) == ["BAD_USER_INPUT"]
    assert "first" in result.errors[0]["message"]


async def test_first_1000_is_allowed(workspace: Workspace) -> None:
    assert (await page(workspace, first=1000))["edges"] == []


@pytest.mark.parametrize(
    "after",
    [
        "zzz",
        "!!!",
        "",
        base64.urlsafe_b64encode(b"x:cus_1").decode(),
        base64.urlsafe_b64encode(b"\xff\xfe").decode(),
        "Yzo" * 1000,
    ],
)
async def test_bogus_after_is_a_request_error(workspace: Workspace, after: str) -> None:
    result = await workspace.gql(CUSTOMERS, {"first": 5, "after": after})
    assert result.body["data"] is None
    assert error_codes(result) == ["BAD_USER_INPUT"]
    assert "after" in result.errors[0]["message"]


# ---- search ---------------------------------------------------------------------------

PEOPLE = [
    {"id": "cus_ann", "email": "Ann.Lee@Example.com", "name": "Ann Lee", "externalId": "EXT-77"},
    {"id": "cus_bob", "email": "bob@shop.io", "name": "Bob Martin", "externalId": "crm-12"},
    {"id": "VIP-carl", "email": None, "name": "Carl", "externalId": None},
    {"id": "cus_dana", "email": "dana@shop.io", "name": "Élodie Dana", "externalId": "ext-9"},
]


@pytest.mark.parametrize(
    ("term", "expected"),
    [
        ("ann", ["cus_ann"]),  # name and id
        ("ANN.LEE@", ["cus_ann"]),  # email, other case
        ("ext-77", ["cus_ann"]),  # externalId, other case
        ("CRM", ["cus_bob"]),
        ("vip", ["VIP-carl"]),  # id, other case
        ("shop.io", ["cus_bob", "cus_dana"]),
        ("cus_", ["cus_ann", "cus_bob", "cus_dana"]),
        ("élodie", ["cus_dana"]),
        ("ÉLODIE", ["cus_dana"]),
        ("nobody", []),
    ],
)
async def test_search_matches_id_email_name_external_id(
    workspace: Workspace, term: str, expected: list[str]
) -> None:
    await seed(workspace, PEOPLE)
    connection = await page(workspace, first=100, search=term)
    assert sorted(ids(connection)) == sorted(expected)
    assert connection["totalCount"] == len(expected)


async def test_like_metacharacters_are_literal(workspace: Workspace) -> None:
    # given ids with %, _ and \ and ids that a pattern would also match
    await seed(
        workspace,
        [
            {"id": "100%off"},
            {"id": "100xoff"},
            {"id": "a_b"},
            {"id": "axb"},
            {"id": "back\\slash"},
            {"id": "backslash"},
        ],
    )

    # then each metacharacter only matches itself
    assert await search_ids(workspace, "%") == ["100%off"]
    assert await search_ids(workspace, "0%o") == ["100%off"]
    assert await search_ids(workspace, "_") == ["a_b"]
    assert await search_ids(workspace, "a_b") == ["a_b"]
    assert await search_ids(workspace, "\\") == ["back\\slash"]
    assert await search_ids(workspace, "k\\s") == ["back\\slash"]


async def test_search_is_paginated_too(workspace: Workspace) -> None:
    # given 12 matching customers among others
    await seed(
        workspace,
        [{"id": f"m{n:02d}", "name": "Match"} for n in range(12)]
        + [{"id": f"o{n:02d}", "name": "Other"} for n in range(5)],
    )

    # when the matches are read 5 at a time
    first = await page(workspace, first=5, search="match")
    second = await page(workspace, first=5, search="match", after=first["pageInfo"]["endCursor"])
    third = await page(workspace, first=5, search="match", after=second["pageInfo"]["endCursor"])

    # then every match comes once, and the count is the search's
    assert ids(first) + ids(second) + ids(third) == [f"m{n:02d}" for n in range(12)]
    assert third["pageInfo"]["hasNextPage"] is False
    assert first["totalCount"] == 12


async def test_empty_search_lists_everyone(workspace: Workspace) -> None:
    await seed(workspace, PEOPLE)
    assert len(ids(await page(workspace, search=""))) == len(PEOPLE)


# ---- orders(first, after) -------------------------------------------------------------


async def test_orders_are_paginated(workspace: Workspace) -> None:
    # given a customer with 7 orders
    orders = [{"id": f"o{n}", "amount": n} for n in range(7)]
    await seed(workspace, [{"id": "c1", "orders": orders}])

    # when they are read 3 at a time
    seen: list[str] = []
    after = None
    pages = 0
    while True:
        result = await workspace.gql(ORDERS, {"id": "c1", "first": 3, "after": after})
        orders = result.data["customer"]["orders"]
        assert orders["totalCount"] == 7
        seen += [e["node"]["id"] for e in orders["edges"]]
        pages += 1
        if not orders["pageInfo"]["hasNextPage"]:
            break
        after = orders["pageInfo"]["endCursor"]

    # then every order comes once, by id, in three pages
    assert seen == [f"o{n}" for n in range(7)]
    assert pages == 3


async def test_orders_paging_is_per_customer(workspace: Workspace) -> None:
    # given two customers with orders, read in one request
    await seed(
        workspace,
        [
            {"id": "a", "orders": [{"id": f"o{n}"} for n in range(3)]},
            {"id": "b", "orders": [{"id": f"o{n}"} for n in range(5)]},
        ],
    )
    result = await workspace.gql(
        "query { customers { edges { node { id orders(first: 2) { totalCount "
        "edges { node { id } } pageInfo { hasNextPage } } } } } }"
    )

    # then each customer's page and count are its own
    got = {
        e["node"]["id"]: (
            e["node"]["orders"]["totalCount"],
            [o["node"]["id"] for o in e["node"]["orders"]["edges"]],
            e["node"]["orders"]["pageInfo"]["hasNextPage"],
        )
        for e in result.data["customers"]["edges"]
    }
    assert got == {"a": (3, ["o0", "o1"], True), "b": (5, ["o0", "o1"], True)}


@pytest.mark.parametrize("first", [0, 1001])
async def test_orders_first_out_of_range(workspace: Workspace, first: int) -> None:
    await seed(workspace, [{"id": "c1"}])
    result = await workspace.gql(ORDERS, {"id": "c1", "first": first})
    assert error_codes(result) == ["BAD_USER_INPUT"]


async def test_orders_bogus_after(workspace: Workspace) -> None:
    await seed(workspace, [{"id": "c1"}])
    result = await workspace.gql(ORDERS, {"id": "c1", "after": "not-a-cursor"})
    assert error_codes(result) == ["BAD_USER_INPUT"]
