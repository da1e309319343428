"""segmentationTable: one flat row per member per instance, identified by id or email."""

from __future__ import annotations

from datetime import timedelta

from api.runtime import Runtime
from domain.access import Role
from tests.api.documents import DELETE
from tests.api.segment_documents import country_is, create_ok, delete, update, upsert_ok
from tests.api.snapshot_documents import (
    START,
    FakeClock,
    clock_fixture,  # noqa: F401  (the clock fixture)
    identities,
    instant,
    run_scheduler,
    schedule,
    table,
    take,
)
from tests.conftest import Workspace

PEOPLE = [
    {"id": "c1", "country": "FR", "email": "zed@example.com"},
    {"id": "c2", "country": "FR", "email": "amy@example.com"},
    {"id": "c3", "country": "FR"},  # no email
    {"id": "c4", "country": "DE", "email": "dan@example.com"},
]


async def given_french_segment(ws: Workspace) -> str:
    await upsert_ok(ws, *PEOPLE)
    segment = await create_ok(ws, name="French", predicate=country_is("FR"))
    return str(segment["id"])


async def test_a_row_per_member_carries_the_instance_and_segment(
    runtime: Runtime, workspace: Workspace, clock: FakeClock
) -> None:
    segment_id = await given_french_segment(workspace)
    await schedule(workspace, segment_id, "ONCE_A_WEEK")
    clock.advance(hours=1)
    await run_scheduler(runtime)
    instance_id = f"{segment_id}_{START:%Y_%m_%d}"

    page = await table(workspace, instanceId=instance_id, first=10)

    assert page["totalCount"] == 3
    assert page["pageInfo"]["hasNextPage"] is False
    rows = [edge["node"] for edge in page["edges"]]
    assert [r["customerIdentity"] for r in rows] == ["c1", "c2", "c3"]
    assert rows[0] == {
        "customerIdentity": "c1",
        "instanceCreatedDate": rows[0]["instanceCreatedDate"],
        "schedule": "ONCE_A_WEEK",
        "segmentBy": "CUSTOMER_ID",
        "segmentCreatedDate": rows[0]["segmentCreatedDate"],
        "segmentId": segment_id,
        "segmentInstanceId": instance_id,
        "segmentName": "French",
    }
    assert instant(rows[0]["instanceCreatedDate"]) == START + timedelta(hours=1)
    assert instant(rows[0]["segmentCreatedDate"]) == START


async def test_segment_by_email_identifies_members_by_their_email(
    workspace: Workspace, clock: FakeClock
) -> None:
    segment_id = await given_french_segment(workspace)
    by_id = await take(workspace, segment_id)

    payload = await schedule(workspace, segment_id, None, "EMAIL")
    clock.advance(hours=1)
    by_email = await take(workspace, segment_id)

    assert payload["segment"]["segmentBy"] == "EMAIL"
    assert by_email["segmentBy"] == "EMAIL"
    assert await identities(workspace, instanceId=by_id["id"]) == ["c1", "c2", "c3"]
    # rows keep their id order; a member without an email has an empty identity
    assert await identities(workspace, instanceId=by_email["id"]) == [
        "zed@example.com",
        "amy@example.com",
        "",
    ]
    rows = (await table(workspace, instanceId=by_email["id"], first=1))["edges"]
    assert rows[0]["node"]["segmentBy"] == "EMAIL"


async def test_email_identities_are_the_emails_at_snapshot_time(
    workspace: Workspace, clock: FakeClock
) -> None:
    segment_id = await given_french_segment(workspace)
    await schedule(workspace, segment_id, None, "EMAIL")
    instance = await take(workspace, segment_id)

    await upsert_ok(workspace, {"id": "c1", "email": "new@example.com"})

    assert await identities(workspace, instanceId=instance["id"]) == [
        "zed@example.com",
        "amy@example.com",
        "",
    ]


async def test_rows_of_every_instance_of_a_segment_page_by_cursor(
    workspace: Workspace, clock: FakeClock
) -> None:
    segment_id = await given_french_segment(workspace)
    first = await take(workspace, segment_id)
    await upsert_ok(workspace, {"id": "c4", "country": "FR"})
    clock.advance(hours=1)
    second = await take(workspace, segment_id)

    seen: list[tuple[str, str]] = []
    after = None
    for _ in range(10):
        page = await table(workspace, segmentId=segment_id, first=3, after=after)
        seen += [
            (e["node"]["segmentInstanceId"], e["node"]["customerIdentity"]) for e in page["edges"]
        ]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]

    assert page["totalCount"] == 7
    assert seen == [(first["id"], c) for c in ("c1", "c2", "c3")] + [
        (second["id"], c) for c in ("c1", "c2", "c3", "c4")
    ]


async def test_rows_stay_when_customers_change_or_are_deleted(
    workspace: Workspace, clock: FakeClock
) -> None:
    segment_id = await given_french_segment(workspace)
    instance = await take(workspace, segment_id)

    await upsert_ok(workspace, {"id": "c1", "country": "DE"})
    await workspace.gql(DELETE, {"ids": ["c2", "c3"]})
    await update(workspace, segment_id, name="Renamed")

    page = await table(workspace, instanceId=instance["id"], first=10)
    assert page["totalCount"] == 3
    assert [e["node"]["customerIdentity"] for e in page["edges"]] == ["c1", "c2", "c3"]
    assert {e["node"]["segmentName"] for e in page["edges"]} == {"French"}


async def test_rows_go_with_their_segment(workspace: Workspace, clock: FakeClock) -> None:
    segment_id = await given_french_segment(workspace)
    instance = await take(workspace, segment_id)

    await delete(workspace, segment_id)

    assert await table(workspace, instanceId=instance["id"]) == {
        "totalCount": 0,
        "edges": [],
        "pageInfo": {"hasNextPage": False, "endCursor": None},
    }
    assert await identities(workspace, segmentId=segment_id) == []


async def test_rows_are_private_to_the_workspace(
    workspace: Workspace, other_workspace: Workspace, clock: FakeClock
) -> None:
    segment_id = await given_french_segment(workspace)
    instance = await take(workspace, segment_id)

    by_instance = await table(other_workspace, instanceId=instance["id"])
    by_segment = await table(other_workspace, segmentId=segment_id)
    everything = await table(other_workspace)
    readable = await workspace.gql(
        "query($i: ID) { segmentationTable(instanceId: $i) { totalCount } }",
        {"i": instance["id"]},
        role=Role.READ,
    )

    assert by_instance["totalCount"] == by_segment["totalCount"] == everything["totalCount"] == 0
    assert readable.data["segmentationTable"]["totalCount"] == 3
