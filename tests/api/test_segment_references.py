"""Segment references `{"segment": "seg_..."}`: live membership, cycles, unknown ids, deletion."""

from __future__ import annotations

import asyncio

from tests.api.documents import DELETE
from tests.api.segment_documents import (
    CUSTOMER_SEGMENTS,
    PREVIEW,
    attach,
    codes,
    country_is,
    create,
    create_ok,
    delete,
    is_member,
    member_ids,
    read,
    segment_names,
    segment_ref,
    update,
    upsert_ok,
)
from tests.conftest import Workspace

PEOPLE = [
    {"id": "c1", "country": "FR", "email": "c1@example.com"},
    {"id": "c2", "country": "FR"},
    {"id": "c3", "country": "DE", "email": "c3@example.com"},
    {"id": "c4", "country": "ES", "email": "c4@example.com"},
]

HAS_EMAIL = {"condition": {"field": "email", "operator": "EXISTS"}}


async def given_people(ws: Workspace) -> None:
    await upsert_ok(ws, *PEOPLE)


async def test_a_reference_is_the_referenced_segments_live_membership(
    workspace: Workspace,
) -> None:
    # given "Reachable French" = French AND has an email
    await given_people(workspace)
    french = await create_ok(workspace, name="French", predicate=country_is("FR"))
    predicate = {"and": [segment_ref(french["id"]), HAS_EMAIL]}
    reachable = await create_ok(workspace, name="Reachable French", predicate=predicate)
    assert reachable["predicate"] == predicate
    assert french["id"] in reachable["predicateText"]
    assert await member_ids(workspace, reachable["id"]) == ["c1"]

    # when the referenced segment's predicate, then the data, change
    await update(workspace, french["id"], predicate=country_is("FR", "DE"))
    after_edit = await member_ids(workspace, reachable["id"])
    await upsert_ok(workspace, {"id": "c2", "email": "c2@example.com"})

    # then the referencing segment follows at once, in every read
    assert after_edit == ["c1", "c3"]
    assert await member_ids(workspace, reachable["id"]) == ["c1", "c2", "c3"]
    assert await is_member(workspace, reachable["id"], "c2") is True
    customer = (await workspace.gql(CUSTOMER_SEGMENTS, {"id": "c2"})).data["customer"]
    assert sorted(s["name"] for s in customer["segments"]) == ["French", "Reachable French"]


async def test_static_and_active_segments_may_be_referenced(workspace: Workspace) -> None:
    await given_people(workspace)
    static = await create_ok(workspace, name="Picked", customerIds=["c1", "c3"])
    active = await create_ok(workspace, name="Latin", predicate=country_is("FR", "ES"))
    await attach(workspace, active["id"], "DISTRIBUTION", "d-1")

    picked_not_latin = await create_ok(
        workspace,
        name="Picked, not Latin",
        predicate={"and": [segment_ref(static["id"]), {"not": segment_ref(active["id"])}]},
    )
    either = await create_ok(
        workspace,
        name="Either",
        predicate={"or": [segment_ref(static["id"]), segment_ref(active["id"])]},
    )

    assert await member_ids(workspace, picked_not_latin["id"]) == ["c3"]
    assert await member_ids(workspace, either["id"]) == ["c1", "c2", "c3", "c4"]
    await workspace.gql(DELETE, {"ids": ["c3"]})
    assert await member_ids(workspace, picked_not_latin["id"]) == []
    assert await is_member(workspace, either["id"], "c3") is False


async def test_chains_of_references_resolve_and_carry_time_relativity(
    workspace: Workspace,
) -> None:
    await given_people(workspace)
    recent = {"condition": {"field": "createdAt", "operator": "GTE", "value": "now-30d"}}
    base = await create_ok(workspace, name="Recent", predicate=recent)
    middle = await create_ok(
        workspace,
        name="Recent French",
        predicate={"and": [segment_ref(base["id"]), country_is("FR")]},
    )
    top = await create_ok(
        workspace, name="Top", predicate={"and": [segment_ref(middle["id"]), HAS_EMAIL]}
    )

    assert await member_ids(workspace, top["id"]) == ["c1"]
    assert (middle["timeRelative"], top["timeRelative"]) == (True, True)


async def test_frozen_copy_of_a_referencing_segment(workspace: Workspace) -> None:
    await given_people(workspace)
    french = await create_ok(workspace, name="French", predicate=country_is("FR"))
    reachable = await create_ok(
        workspace, name="Reachable", predicate={"and": [segment_ref(french["id"]), HAS_EMAIL]}
    )

    frozen = await create_ok(workspace, name="Frozen", fromSegmentId=reachable["id"])
    static = await create_ok(
        workspace, name="Static", predicate=segment_ref(french["id"]), static=True
    )

    assert await member_ids(workspace, frozen["id"]) == ["c1"]
    assert await member_ids(workspace, static["id"]) == ["c1", "c2"]


async def test_cycles_are_refused_and_change_nothing(workspace: Workspace) -> None:
    # given a -> b -> c
    c = await create_ok(workspace, name="c", predicate=country_is("FR"))
    b = await create_ok(workspace, name="b", predicate=segment_ref(c["id"]))
    a = await create_ok(workspace, name="a", predicate=segment_ref(b["id"]))

    # when a reference would close a loop, of any length
    itself = await update(workspace, a["id"], predicate={"or": [segment_ref(a["id"]), HAS_EMAIL]})
    two = await update(workspace, b["id"], name="b2", predicate=segment_ref(a["id"]))
    three = await update(
        workspace, c["id"], predicate={"and": [country_is("FR"), {"not": segment_ref(a["id"])}]}
    )

    # then each is refused, naming the loop, and nothing changed
    for payload in (itself, two, three):
        assert payload["segment"] is None
        assert codes(payload) == ["SEGMENT_REFERENCE_CYCLE"]
        assert payload["userErrors"][0]["field"] == ["input", "predicate"]
    assert " -> ".join([c["id"], a["id"], b["id"], c["id"]]) in three["userErrors"][0]["message"]
    assert [await read(workspace, s["id"]) for s in (a, b, c)] == [a, b, c]
    assert await member_ids(workspace, a["id"]) == []


async def test_unknown_segments_are_refused_everywhere(
    workspace: Workspace, other_workspace: Workspace
) -> None:
    await given_people(workspace)
    theirs = await create_ok(other_workspace, name="Theirs", predicate=country_is("FR"))
    mine = await create_ok(workspace, name="Mine", predicate=country_is("FR"))

    created = await create(workspace, name="Ghostly", predicate=segment_ref("seg_nope"))
    static = await create(workspace, name="Ghostly", predicate=segment_ref("seg_nope"), static=True)
    foreign = await create(workspace, name="Foreign", predicate=segment_ref(theirs["id"]))
    updated = await update(
        workspace, mine["id"], predicate={"and": [country_is("FR"), segment_ref("seg_nope")]}
    )
    preview = (await workspace.gql(PREVIEW, {"predicate": segment_ref("seg_nope")})).data[
        "segmentPreview"
    ]

    for payload in (created, static, foreign, updated, preview):
        assert [e["code"] for e in payload["userErrors"]] == ["UNKNOWN_SEGMENT"], payload
    assert "seg_nope" in created["userErrors"][0]["message"]
    assert await segment_names(workspace) == ["Mine"]
    assert await read(workspace, mine["id"]) == mine


async def test_a_referenced_segment_cannot_be_deleted(workspace: Workspace) -> None:
    await given_people(workspace)
    french = await create_ok(workspace, name="French", predicate=country_is("FR"))
    first = await create_ok(workspace, name="First", predicate=segment_ref(french["id"]))
    second = await create_ok(workspace, name="Second", predicate={"not": segment_ref(french["id"])})

    refused = await delete(workspace, french["id"])
    members_after_refusal = await member_ids(workspace, french["id"])
    await update(workspace, first["id"], predicate=country_is("DE"))
    still_refused = await delete(workspace, french["id"])
    await delete(workspace, second["id"])
    deleted = await delete(workspace, french["id"])

    assert codes(refused) == ["SEGMENT_IN_USE"]
    assert first["id"] in refused["userErrors"][0]["message"]
    assert members_after_refusal == ["c1", "c2"]
    assert codes(still_refused) == ["SEGMENT_IN_USE"]
    assert second["id"] in still_refused["userErrors"][0]["message"]
    assert deleted["deletedSegmentId"] == french["id"]
    assert await segment_names(workspace) == ["First"]


async def test_concurrent_references_never_close_a_cycle(workspace: Workspace) -> None:
    await given_people(workspace)
    for round_ in range(5):
        a = await create_ok(workspace, name=f"a{round_}", predicate=country_is("FR"))
        b = await create_ok(workspace, name=f"b{round_}", predicate=country_is("DE"))

        to_b, to_a = await asyncio.gather(
            update(workspace, a["id"], predicate=segment_ref(b["id"])),
            update(workspace, b["id"], predicate=segment_ref(a["id"])),
        )

        assert sorted(codes(to_b) + codes(to_a)) == ["SEGMENT_REFERENCE_CYCLE"]
        for segment in (a, b):
            await member_ids(workspace, segment["id"])
        customer = await workspace.gql(CUSTOMER_SEGMENTS, {"id": "c1"})
        assert customer.errors == []


async def test_deleting_a_segment_racing_a_new_reference_to_it(workspace: Workspace) -> None:
    await given_people(workspace)
    for round_ in range(5):
        target = await create_ok(workspace, name=f"target{round_}", predicate=country_is("FR"))
        other = await create_ok(workspace, name=f"other{round_}", predicate=country_is("DE"))

        deleted, referenced = await asyncio.gather(
            delete(workspace, target["id"]),
            update(workspace, other["id"], predicate=segment_ref(target["id"])),
        )

        if deleted["userErrors"]:
            assert codes(deleted) == ["SEGMENT_IN_USE"] and referenced["userErrors"] == []
            assert await member_ids(workspace, other["id"]) == ["c1", "c2"]
        else:
            assert codes(referenced) == ["UNKNOWN_SEGMENT"]
            assert await read(workspace, other["id"]) == other
        assert (await workspace.gql(CUSTOMER_SEGMENTS, {"id": "c1"})).errors == []
