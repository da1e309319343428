"""customers(where:) pages from a statement planned once per predicate and definitions.

The second request with the same predicate reuses the first one's compiled statement
with its own cursor; a change of definitions (a segment the predicate names) plans again;
a count-only selection reads no page.
"""

from __future__ import annotations

from typing import Any

from api.runtime import Runtime
from persistence.database import counting_statements
from tests.api.segment_documents import country_is, create_ok, segment_ref, update, upsert_ok
from tests.conftest import Workspace

PAGE = """
query Page($where: JSON!, $first: Int, $after: String) {
  customers(first: $first, after: $after, where: $where) {
    edges { node { id hasChild } }
    pageInfo { hasNextPage endCursor }
  }
}
"""
COUNT = "query Count($where: JSON!) { customers(where: $where) { totalCount } }"


def customers() -> list[dict[str, Any]]:
    found = [{"id": f"c{n:02d}", "country": ["FR", "DE", "ES"][n % 3]} for n in range(12)]
    found[4]["parentId"] = "c00"  # c00 has a child
    return found


async def all_pages(ws: Workspace, where: dict[str, Any], first: int = 2) -> list[str]:
    ids: list[str] = []
    after = None
    while True:
        result = await ws.gql(PAGE, {"where": where, "first": first, "after": after})
        assert result.errors == [], result.errors
        connection = result.data["customers"]
        ids += [edge["node"]["id"] for edge in connection["edges"]]
        if not connection["pageInfo"]["hasNextPage"]:
            return ids
        after = connection["pageInfo"]["endCursor"]


async def test_one_plan_serves_every_page_of_a_predicate(workspace: Workspace) -> None:
    # given customers in three countries
    await upsert_ok(workspace, *customers())

    # when the same predicate is read page by page, twice
    first = await all_pages(workspace, country_is("FR"))
    again = await all_pages(workspace, country_is("FR"))

    # then each page continues from its own cursor
    assert first == again == ["c00", "c03", "c06", "c09"]
    assert await all_pages(workspace, country_is("DE"), first=3) == ["c01", "c04", "c07", "c10"]


async def test_has_child_is_read_for_the_page_rows(workspace: Workspace) -> None:
    await upsert_ok(workspace, *customers())

    result = await workspace.gql(PAGE, {"where": country_is("FR", "DE"), "first": 3})

    nodes = [edge["node"] for edge in result.data["customers"]["edges"]]
    assert nodes == [
        {"id": "c00", "hasChild": True},
        {"id": "c01", "hasChild": False},
        {"id": "c03", "hasChild": False},
    ]


async def test_a_changed_segment_plans_its_readers_again(workspace: Workspace) -> None:
    # given a page planned for a predicate naming a segment of French customers
    await upsert_ok(workspace, *customers())
    segment = await create_ok(workspace, name="home", predicate=country_is("FR"))
    assert await all_pages(workspace, segment_ref(segment["id"])) == ["c00", "c03", "c06", "c09"]

    # when the segment's predicate changes
    payload = await update(workspace, segment["id"], predicate=country_is("ES"))
    assert payload["userErrors"] == []

    # then the same predicate reads the new definition
    assert await all_pages(workspace, segment_ref(segment["id"])) == ["c02", "c05", "c08", "c11"]


async def test_a_count_alone_reads_no_page(workspace: Workspace, runtime: Runtime) -> None:
    await upsert_ok(workspace, *customers())
    where = {"where": country_is("FR")}
    await workspace.gql(COUNT, where)  # definitions loaded, the key's lastUsedAt written

    with counting_statements(runtime.engine) as seen:
        result = await workspace.gql(COUNT, where)

    assert result.data == {"customers": {"totalCount": 4}}
    pages = [s for s in seen if "LIMIT" in s.upper()]
    assert pages == []
    assert any("count(*)" in s for s in seen)
