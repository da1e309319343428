"""Reading segments: segment, segments, members, Customer.segments, customers(segmentId:),
segmentMembership."""

from __future__ import annotations

from typing import Any

from domain.access import Role
from tests.api.documents import DELETE
from tests.api.segment_documents import (
    CUSTOMER_SEGMENTS,
    CUSTOMERS_IN_SEGMENT,
    MEMBERS,
    MEMBERSHIP,
    SEGMENT,
    SEGMENTS,
    attach,
    country_is,
    create_ok,
    delete,
    is_member,
    member_ids,
    read,
    stats,
    upsert_ok,
)
from tests.conftest import Workspace

PEOPLE = [
    {"id": "c1", "country": "FR", "name": "Ana Lopez", "email": "ana@example.com"},
    {"id": "c2", "country": "FR", "name": "Bob Martin", "email": "bob@example.com"},
    {"id": "c3", "country": "DE", "name": "Cleo Weber"},
    {"id": "c4", "country": "FR", "name": "Dan Petit"},
    {"id": "c5", "country": "FR", "name": "Eve Martin"},
    {"id": "c6", "country": "ES"},
    {"id": "c7"},
]

PRICEY = {"condition": {"field": "totalSpent", "operator": "GT", "value": 10}}


async def given_people(ws: Workspace) -> None:
    await upsert_ok(ws, *PEOPLE)


async def segments_page(ws: Workspace, **variables: Any) -> dict[str, Any]:
    page: dict[str, Any] = (await ws.gql(SEGMENTS, variables)).data["segments"]
    return page


async def customer_segment_names(ws: Workspace, customer_id: str) -> list[str]:
    customer = (await ws.gql(CUSTOMER_SEGMENTS, {"id": customer_id})).data["customer"]
    return sorted(s["name"] for s in customer["segments"])


# ---- segment, segments ----------------------------------------------------


async def test_segment_by_id_is_scoped_to_the_workspace(
    workspace: Workspace, other_workspace: Workspace
) -> None:
    segment = await create_ok(workspace, name="French", predicate=country_is("FR"))

    mine = await workspace.gql(SEGMENT, {"id": segment["id"]}, role=Role.READ)
    theirs = await other_workspace.gql(SEGMENT, {"id": segment["id"]})
    unknown = await workspace.gql(SEGMENT, {"id": "seg_nope"})

    assert mine.data["segment"] == segment
    assert theirs.data["segment"] is None
    assert unknown.data["segment"] is None


async def test_segments_are_paginated_by_keyset_oldest_first(
    workspace: Workspace, other_workspace: Workspace
) -> None:
    created = [
        (await create_ok(workspace, name=f"Segment {n}", predicate=country_is("FR")))["id"]
        for n in range(5)
    ]
    await create_ok(other_workspace, name="Not mine", predicate=country_is("FR"))

    seen: list[str] = []
    after = None
    pages = []
    while True:
        page = await segments_page(workspace, first=2, after=after)
        pages.append(page)
        seen.extend(edge["node"]["id"] for edge in page["edges"])
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]

    assert seen == sorted(created) == created
    assert [len(p["edges"]) for p in pages] == [2, 2, 1]
    assert {p["totalCount"] for p in pages} == {5}
    assert [p["pageInfo"]["hasPreviousPage"] for p in pages] == [False, True, True]
    assert pages[1]["pageInfo"]["startCursor"] == pages[1]["edges"][0]["cursor"]
    again = await segments_page(workspace, first=2, after=pages[0]["pageInfo"]["endCursor"])
    assert again == pages[1]


async def test_segments_filter_by_name_and_kind(workspace: Workspace) -> None:
    await given_people(workspace)
    french = await create_ok(workspace, name="French buyers", predicate=country_is("FR"))
    await create_ok(workspace, name="Germans", predicate=country_is("DE"))
    await create_ok(workspace, name="100%_static", customerIds=["c1"])
    await attach(workspace, french["id"], "DISTRIBUTION", "d-1")

    by_name = await segments_page(workspace, search="FRENCH")
    by_literal = await segments_page(workspace, search="%_")
    wildcard_free = await segments_page(workspace, search="_")
    active = await segments_page(workspace, kind="ACTIVE")
    passive = await segments_page(workspace, kind="PASSIVE")
    static = await segments_page(workspace, kind="STATIC", search="static")
    nothing = await segments_page(workspace, kind="STATIC", search="French")

    def names(page: dict[str, Any]) -> list[str]:
        return [edge["node"]["name"] for edge in page["edges"]]

    assert names(by_name) == ["French buyers"] and by_name["totalCount"] == 1
    assert names(by_literal) == ["100%_static"]
    assert names(wildcard_free) == ["100%_static"]
    assert names(active) == ["French buyers"] and active["totalCount"] == 1
    assert names(passive) == ["Germans"]
    assert names(static) == ["100%_static"]
    assert nothing == {
        "totalCount": 0,
        "edges": [],
        "pageInfo": {
            "hasNextPage": False,
            "hasPreviousPage": False,
            "startCursor": None,
            "endCursor": None,
        },
    }


async def test_bad_segment_cursors_and_sizes_are_request_errors(workspace: Workspace) -> None:
    bad_cursor = await workspace.gql(SEGMENTS, {"after": "not-a-cursor"})
    too_many = await workspace.gql(SEGMENTS, {"first": 1001})
    customer_cursor = await workspace.gql(SEGMENTS, {"after": "YzpjMQ=="})

    assert bad_cursor.errors[0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert too_many.errors[0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert customer_cursor.errors


# ---- members --------------------------------------------------------------


async def test_members_are_paginated_with_a_count_and_columns(workspace: Workspace) -> None:
    await given_people(workspace)
    segment = await create_ok(
        workspace, name="French", predicate={"or": [country_is("FR"), PRICEY]}
    )

    first = (await workspace.gql(MEMBERS, {"id": segment["id"], "first": 3})).data["segment"]
    after = first["members"]["pageInfo"]["endCursor"]
    second = await workspace.gql(MEMBERS, {"id": segment["id"], "first": 3, "after": after})
    rest = second.data["segment"]["members"]

    assert [e["node"]["id"] for e in first["members"]["edges"]] == ["c1", "c2", "c4"]
    assert [e["node"]["id"] for e in rest["edges"]] == ["c5"]
    assert first["members"]["totalCount"] == rest["totalCount"] == 4
    assert first["members"]["pageInfo"]["hasNextPage"] is True
    assert rest["pageInfo"] == {
        "hasNextPage": False,
        "hasPreviousPage": True,
        "startCursor": rest["edges"][0]["cursor"],
        "endCursor": rest["edges"][0]["cursor"],
    }
    assert sorted(first["members"]["columns"]) == ["country", "totalSpent"]
    assert await member_ids(workspace, segment["id"], page=1) == ["c1", "c2", "c4", "c5"]


async def test_members_search_narrows_the_page_and_the_count(workspace: Workspace) -> None:
    await given_people(workspace)
    segment = await create_ok(workspace, name="French", predicate=country_is("FR"))

    result = await workspace.gql(MEMBERS, {"id": segment["id"], "search": "martin"})

    members = result.data["segment"]["members"]
    assert [e["node"]["id"] for e in members["edges"]] == ["c2", "c5"]
    assert members["totalCount"] == 2


async def test_static_members_have_no_columns_and_drop_deleted_customers(
    workspace: Workspace,
) -> None:
    await given_people(workspace)
    static = await create_ok(workspace, name="Picked", customerIds=["c1", "c3", "c7"])

    deleted = await workspace.gql(DELETE, {"ids": ["c3"]})
    await upsert_ok(workspace, {"id": "c3", "country": "DE"})

    assert deleted.data["customersDelete"]["deletedCustomerIds"] == ["c3"]
    members = (await workspace.gql(MEMBERS, {"id": static["id"]})).data["segment"]["members"]
    assert [e["node"]["id"] for e in members["edges"]] == ["c1", "c7"]
    assert members["totalCount"] == 2 and members["columns"] == []
    assert (await stats(workspace, static["id"]))["customerCount"] == 2
    assert await is_member(workspace, static["id"], "c3") is False
    assert "Picked" not in await customer_segment_names(workspace, "c3")


# ---- one customer's view ----------------------------------------------------


async def test_customer_segments_lists_every_kind_it_is_in(workspace: Workspace) -> None:
    await given_people(workspace)
    await create_ok(workspace, name="French", predicate=country_is("FR"))
    await create_ok(workspace, name="Picked", customerIds=["c1", "c3"])
    active = await create_ok(workspace, name="Latin", predicate=country_is("FR", "ES"))
    await attach(workspace, active["id"], "REFERRAL_TIER", "t-1")
    await create_ok(workspace, name="Nobody", predicate=country_is("JP"))

    assert await customer_segment_names(workspace, "c1") == ["French", "Latin", "Picked"]
    assert await customer_segment_names(workspace, "c3") == ["Picked"]
    assert await customer_segment_names(workspace, "c6") == ["Latin"]
    assert await customer_segment_names(workspace, "c7") == []


async def test_customers_filtered_by_segment_match_its_members(workspace: Workspace) -> None:
    await given_people(workspace)
    segment = await create_ok(workspace, name="French", predicate=country_is("FR"))

    page = await workspace.gql(CUSTOMERS_IN_SEGMENT, {"segmentId": segment["id"], "first": 2})
    connection = page.data["customers"]
    rest = await workspace.gql(
        CUSTOMERS_IN_SEGMENT,
        {"segmentId": segment["id"], "after": connection["pageInfo"]["endCursor"]},
    )

    ids = [e["node"]["id"] for e in connection["edges"]]
    ids += [e["node"]["id"] for e in rest.data["customers"]["edges"]]
    assert ids == await member_ids(workspace, segment["id"]) == ["c1", "c2", "c4", "c5"]
    assert connection["totalCount"] == 4


async def test_customers_of_an_unknown_segment_is_an_error(
    workspace: Workspace, other_workspace: Workspace
) -> None:
    theirs = await create_ok(other_workspace, name="Theirs", predicate=country_is("FR"))

    unknown = await workspace.gql(CUSTOMERS_IN_SEGMENT, {"segmentId": "seg_nope"})
    foreign = await workspace.gql(CUSTOMERS_IN_SEGMENT, {"segmentId": theirs["id"]})

    assert unknown.errors[0]["extensions"]["code"] == "NOT_FOUND"
    assert foreign.errors[0]["extensions"]["code"] == "NOT_FOUND"


async def test_membership_is_checked_live(workspace: Workspace) -> None:
    await given_people(workspace)
    segment = await create_ok(workspace, name="French", predicate=country_is("FR"))

    before = await workspace.gql(
        MEMBERSHIP, {"segmentId": segment["id"], "customerId": "c3"}, role=Role.READ
    )
    await upsert_ok(workspace, {"id": "c3", "country": "FR"})
    after = await is_member(workspace, segment["id"], "c3")

    check = before.data["segmentMembership"]
    assert check["isMember"] is False and check["evaluatedAt"].endswith(("Z", "+00:00"))
    assert after is True
    assert await is_member(workspace, segment["id"], "c1") is True
    assert await is_member(workspace, segment["id"], "ghost") is False


async def test_membership_of_an_unknown_segment_is_an_error(
    workspace: Workspace, other_workspace: Workspace
) -> None:
    await given_people(workspace)
    theirs = await create_ok(other_workspace, name="Theirs", predicate=country_is("FR"))

    unknown = await workspace.gql(MEMBERSHIP, {"segmentId": "seg_nope", "customerId": "c1"})
    foreign = await workspace.gql(MEMBERSHIP, {"segmentId": theirs["id"], "customerId": "c1"})

    assert unknown.errors[0]["extensions"]["code"] == "NOT_FOUND"
    assert foreign.errors[0]["extensions"]["code"] == "NOT_FOUND"


async def test_a_deleted_segment_disappears_from_every_read(workspace: Workspace) -> None:
    await given_people(workspace)
    segment = await create_ok(workspace, name="French", predicate=country_is("FR"))

    await delete(workspace, segment["id"])

    assert await read(workspace, segment["id"]) is None
    assert (await segments_page(workspace))["totalCount"] == 0
    assert await customer_segment_names(workspace, "c1") == []
