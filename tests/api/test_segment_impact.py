"""segmentImpact: who an unsaved edit would take out of a segment and who it would bring in."""

from __future__ import annotations

from typing import Any

from tests.api.segment_documents import attach, codes, country_is, create_ok, read, upsert_ok
from tests.conftest import Workspace

IMPACT = """
query Impact($id: ID!, $predicate: JSON!, $first: Int, $after: String, $search: String) {
  segmentImpact(segmentId: $id, predicate: $predicate) {
    userErrors { field message code }
    columns
    leaving {
      count
      customers(first: $first, after: $after, search: $search) {
        totalCount edges { node { id } } pageInfo { hasNextPage endCursor }
      }
    }
    entering { count customers(first: $first) { totalCount edges { node { id } } } }
  }
}
"""

SEVEN = [
    {"id": "fr1", "country": "FR"},
    {"id": "fr2", "country": "FR"},
    {"id": "fr3", "country": "FR", "email": "three@example.com"},
    {"id": "de1", "country": "DE"},
    {"id": "de2", "country": "DE"},
    {"id": "es1", "country": "ES"},
    {"id": "none"},
]


async def impact_of(ws: Workspace, segment_id: str, predicate: Any, **more: Any) -> dict[str, Any]:
    variables = {"id": segment_id, "predicate": predicate, **more}
    result: dict[str, Any] = (await ws.gql(IMPACT, variables)).data["segmentImpact"]
    return result


def ids(side: dict[str, Any]) -> list[str]:
    return [edge["node"]["id"] for edge in side["customers"]["edges"]]


async def test_an_edit_reports_who_would_leave_and_who_would_enter(workspace: Workspace) -> None:
    # given a segment of France and Germany
    await upsert_ok(workspace, *SEVEN)
    segment = await create_ok(workspace, name="fr-de", predicate=country_is("FR", "DE"))

    # when the edit keeps France and swaps Germany for Spain
    found = await impact_of(workspace, segment["id"], country_is("FR", "ES"))

    # then the Germans would leave and the Spaniard would enter; nothing is saved
    assert found["userErrors"] == []
    assert (found["leaving"]["count"], found["entering"]["count"]) == (2, 1)
    assert ids(found["leaving"]) == ["de1", "de2"]
    assert found["leaving"]["customers"]["totalCount"] == 2
    assert ids(found["entering"]) == ["es1"]
    assert found["columns"] == ["country"]
    assert (await read(workspace, segment["id"]))["predicate"] == country_is("FR", "DE")


async def test_the_pages_of_each_side_follow_cursors_and_search(workspace: Workspace) -> None:
    # given a French segment about to become an empty one
    await upsert_ok(workspace, *SEVEN)
    segment = await create_ok(workspace, name="fr", predicate=country_is("FR"))
    nobody = {"condition": {"field": "country", "operator": "EQ", "value": "JP"}}

    # when the leavers are read two at a time, then searched
    first = await impact_of(workspace, segment["id"], nobody, first=2)
    cursor = first["leaving"]["customers"]["pageInfo"]["endCursor"]
    rest = await impact_of(workspace, segment["id"], nobody, first=2, after=cursor)
    searched = await impact_of(workspace, segment["id"], nobody, search="three@")

    # then the pages hold every leaver once, and search narrows page and count alike
    assert ids(first["leaving"]) + ids(rest["leaving"]) == ["fr1", "fr2", "fr3"]
    assert first["leaving"]["customers"]["pageInfo"]["hasNextPage"] is True
    assert rest["leaving"]["customers"]["pageInfo"]["hasNextPage"] is False
    assert ids(searched["leaving"]) == ["fr3"]
    assert searched["leaving"]["customers"]["totalCount"] == 1
    assert searched["leaving"]["count"] == 3  # the side's count is not searched
    assert found_nothing_entering(first)


def found_nothing_entering(found: dict[str, Any]) -> bool:
    return found["entering"]["count"] == 0 and ids(found["entering"]) == []


async def test_an_invalid_edit_is_a_user_error_at_its_path(workspace: Workspace) -> None:
    # given a segment
    segment = await create_ok(workspace, name="fr", predicate=country_is("FR"))
    many = {"condition": {"field": "ordersCount", "operator": "GT", "value": "many"}}
    wrong = {"and": [country_is("FR"), many]}

    # when the edit compares a number with a word
    found = await impact_of(workspace, segment["id"], wrong)

    # then the error points at that condition and no side is read
    assert codes(found) == ["VALUE_TYPE_MISMATCH"]
    assert found["userErrors"][0]["field"][:2] == ["predicate", "and[1]"]
    assert found["leaving"] is None and found["entering"] is None


async def test_an_unknown_or_uneditable_segment_is_refused(workspace: Workspace) -> None:
    # given an ACTIVE segment (used by a loyalty rule) and an id that names nothing
    active = await create_ok(workspace, name="active", predicate=country_is("FR"))
    await attach(workspace, active["id"], "LOYALTY_EARNING_RULE", "rule-1")

    # when the impact of an edit of each is asked for
    of_active = await impact_of(workspace, active["id"], country_is("DE"))
    of_nothing = await impact_of(workspace, "seg_nothing", country_is("DE"))

    # then each is a coded user error
    assert codes(of_active) == ["SEGMENT_IMMUTABLE"]
    assert codes(of_nothing) == ["NOT_FOUND"]
    assert of_nothing["userErrors"][0]["field"] == ["segmentId"]


async def test_an_edit_that_would_reference_itself_is_a_cycle(workspace: Workspace) -> None:
    # given a segment
    segment = await create_ok(workspace, name="fr", predicate=country_is("FR"))

    # when the edit refers to the segment itself
    found = await impact_of(workspace, segment["id"], {"segment": segment["id"]})

    # then it is refused as a cycle, as saving it would be
    assert codes(found) == ["SEGMENT_REFERENCE_CYCLE"]


async def test_impact_reads_only_the_callers_workspace(
    workspace: Workspace, other_workspace: Workspace
) -> None:
    # given a segment in another workspace
    theirs = await create_ok(other_workspace, name="fr", predicate=country_is("FR"))

    # when this workspace asks for its impact
    found = await impact_of(workspace, theirs["id"], country_is("DE"))

    # then it is not found here
    assert codes(found) == ["NOT_FOUND"]
