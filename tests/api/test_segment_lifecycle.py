"""segmentCreate, segmentUpdate, segmentDelete: kinds, lifecycle rules, refusals."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import text

from api.runtime import Runtime
from domain.access import Role
from tests.api.documents import DELETE
from tests.api.segment_documents import (
    CREATE,
    attach,
    codes,
    country_is,
    create,
    create_ok,
    delete,
    detach,
    member_ids,
    read,
    segment_names,
    update,
    upsert_ok,
)
from tests.conftest import Workspace

PEOPLE = [
    {"id": "c1", "country": "FR"},
    {"id": "c2", "country": "FR"},
    {"id": "c3", "country": "DE"},
    {"id": "c4", "country": "ES"},
]

PRICEY = {"condition": {"field": "totalSpent", "operator": "GTE", "value": 100.5}}


async def given_people(ws: Workspace) -> None:
    await upsert_ok(ws, *PEOPLE)


# ---- creating -----------------------------------------------------------


async def test_a_predicate_makes_a_passive_segment(workspace: Workspace) -> None:
    await given_people(workspace)

    segment = await create_ok(
        workspace, name="French", description="From France", predicate=country_is("FR")
    )

    assert segment["id"].startswith("seg_") and len(segment["id"]) == 30
    assert segment["kind"] == "PASSIVE"
    assert segment["editable"] is True
    assert segment["predicate"] == country_is("FR")
    assert segment["predicateText"]
    assert segment["description"] == "From France"
    assert segment["activatedAt"] is None and segment["usages"] == []
    assert await read(workspace, segment["id"]) == segment
    assert await member_ids(workspace, segment["id"]) == ["c1", "c2"]


async def test_customer_ids_make_a_static_segment(workspace: Workspace) -> None:
    await given_people(workspace)

    segment = await create_ok(workspace, name="Picked", customerIds=["c4", "c1", "c4"])

    assert segment["kind"] == "STATIC"
    assert segment["editable"] is False
    assert segment["predicate"] is None and segment["predicateText"] is None
    assert await member_ids(workspace, segment["id"]) == ["c1", "c4"]


async def test_unknown_customer_ids_are_named_and_nothing_is_created(
    workspace: Workspace,
) -> None:
    await given_people(workspace)

    payload = await create(workspace, name="Picked", customerIds=["c1", "ghost-1", "ghost-2"])

    assert payload["segment"] is None
    assert codes(payload) == ["NOT_FOUND"]
    assert payload["userErrors"][0]["field"] == ["input", "customerIds"]
    assert "ghost-1" in payload["userErrors"][0]["message"]
    assert "ghost-2" in payload["userErrors"][0]["message"]
    assert await segment_names(workspace) == []


async def test_customers_of_another_workspace_are_unknown(
    workspace: Workspace, other_workspace: Workspace
) -> None:
    await given_people(other_workspace)

    payload = await create(workspace, name="Theirs", customerIds=["c1"])

    assert codes(payload) == ["NOT_FOUND"]
    assert await segment_names(workspace) == []


async def test_static_size_limits(workspace: Workspace) -> None:
    await given_people(workspace)

    empty = await create(workspace, name="Empty", customerIds=[])
    huge = await create(workspace, name="Huge", customerIds=[f"x{n}" for n in range(20_001)])
    at_limit = await create(workspace, name="Max", customerIds=[f"x{n}" for n in range(20_000)])

    assert codes(empty) == ["TOO_FEW"]
    assert codes(huge) == ["SEGMENT_TOO_LARGE"]
    assert huge["userErrors"][0]["field"] == ["input", "customerIds"]
    # 20,000 is within the limit: these are refused only because they do not exist
    assert codes(at_limit) == ["NOT_FOUND"]
    assert "and 19980 more" in at_limit["userErrors"][0]["message"]
    assert await segment_names(workspace) == []


async def test_exactly_one_source(workspace: Workspace) -> None:
    await given_people(workspace)
    source = await create_ok(workspace, name="Source", predicate=country_is("FR"))

    cases: list[dict[str, Any]] = [
        {},
        {"predicate": country_is("FR"), "customerIds": ["c1"]},
        {"customerIds": ["c1"], "fromSegmentId": source["id"]},
        {"predicate": country_is("FR"), "fromSegmentId": source["id"]},
        {"customerIds": ["c1"], "static": True},
    ]
    for case in cases:
        payload = await create(workspace, name="Twice", **case)
        assert payload["segment"] is None, case
        assert codes(payload) == ["INVALID"], case

    assert await segment_names(workspace) == ["Source"]


async def test_static_from_a_predicate_freezes_its_current_members(workspace: Workspace) -> None:
    await given_people(workspace)

    frozen = await create_ok(workspace, name="Frozen", predicate=country_is("FR"), static=True)
    await upsert_ok(workspace, {"id": "c5", "country": "FR"}, {"id": "c1", "country": "DE"})

    assert frozen["kind"] == "STATIC" and frozen["predicate"] is None
    assert await member_ids(workspace, frozen["id"]) == ["c1", "c2"]


async def test_static_from_another_segment_freezes_its_members(workspace: Workspace) -> None:
    await given_people(workspace)
    source = await create_ok(workspace, name="Source", predicate=country_is("FR", "DE"))

    frozen = await create_ok(workspace, name="Frozen", fromSegmentId=source["id"])
    await upsert_ok(workspace, {"id": "c4", "country": "FR"})

    assert frozen["kind"] == "STATIC"
    assert await member_ids(workspace, frozen["id"]) == ["c1", "c2", "c3"]
    assert await member_ids(workspace, source["id"]) == ["c1", "c2", "c3", "c4"]
    refrozen = await create_ok(workspace, name="Refrozen", fromSegmentId=frozen["id"])
    assert await member_ids(workspace, refrozen["id"]) == ["c1", "c2", "c3"]


async def test_static_from_unknown_segment_or_empty_selection_creates_nothing(
    workspace: Workspace,
) -> None:
    await given_people(workspace)

    unknown = await create(workspace, name="Frozen", fromSegmentId="seg_nope")
    empty = await create(workspace, name="Nobody", predicate=country_is("JP"), static=True)

    assert codes(unknown) == ["NOT_FOUND"]
    assert unknown["userErrors"][0]["field"] == ["input", "fromSegmentId"]
    assert codes(empty) == ["TOO_FEW"]
    assert await segment_names(workspace) == []


async def given_many_french(runtime: Runtime, ws: Workspace, count: int) -> None:
    """Bulk setup straight in SQL: 20,000 upserts through HTTP would dominate the suite."""
    async with runtime.engine.begin() as conn:
        workspace_pk = (
            await conn.execute(text("SELECT pk FROM workspace WHERE name = :n"), {"n": ws.name})
        ).scalar_one()
        await conn.execute(
            text(
                "INSERT INTO customer (workspace_pk, id, country) "
                "SELECT :pk, 'm' || lpad(n::text, 5, '0'), 'FR' FROM generate_series(1, :count) n"
            ),
            {"pk": workspace_pk, "count": count},
        )


async def test_static_segments_hold_at_most_20000(runtime: Runtime, workspace: Workspace) -> None:
    await given_many_french(runtime, workspace, 20_001)
    everyone = await create_ok(workspace, name="Everyone", predicate=country_is("FR"))

    by_predicate = await create(workspace, name="Big", predicate=country_is("FR"), static=True)
    by_segment = await create(workspace, name="Big", fromSegmentId=everyone["id"])

    assert codes(by_predicate) == ["SEGMENT_TOO_LARGE"]
    assert by_predicate["userErrors"][0]["field"] == ["input", "predicate"]
    assert codes(by_segment) == ["SEGMENT_TOO_LARGE"]
    assert await segment_names(workspace) == ["Everyone"]


async def test_names_are_checked_and_unique_per_workspace(
    workspace: Workspace, other_workspace: Workspace
) -> None:
    await create_ok(workspace, name="Taken", predicate=country_is("FR"))

    taken = await create(workspace, name="Taken", predicate=country_is("DE"))
    padded = await create(workspace, name="  Taken ", predicate=country_is("DE"))
    blank = await create(workspace, name="   ", predicate=country_is("DE"))
    long = await create(workspace, name="x" * 201, predicate=country_is("DE"))
    elsewhere = await create(other_workspace, name="Taken", predicate=country_is("DE"))

    assert codes(taken) == ["NAME_TAKEN"] and taken["userErrors"][0]["field"] == ["input", "name"]
    assert codes(padded) == ["NAME_TAKEN"]
    assert codes(blank) == ["REQUIRED"]
    assert codes(long) == ["TOO_LONG"]
    assert elsewhere["userErrors"] == []
    assert await segment_names(workspace) == ["Taken"]


async def test_concurrent_creates_with_one_name_make_one_segment(workspace: Workspace) -> None:
    for round_ in range(8):
        payloads = await asyncio.gather(
            *[create(workspace, name=f"Race {round_}", predicate=PRICEY) for _ in range(5)]
        )

        assert sorted(len(p["userErrors"]) for p in payloads) == [0, 1, 1, 1, 1]
        assert {c for p in payloads for c in codes(p)} == {"NAME_TAKEN"}
    assert await segment_names(workspace) == [f"Race {n}" for n in range(8)]


async def test_static_segments_made_while_their_customers_are_deleted(
    workspace: Workspace,
) -> None:
    for round_ in range(3):
        # given 1000 customers
        ids = [f"r{round_}-{n:04d}" for n in range(1000)]
        await upsert_ok(workspace, *[{"id": cid, "country": "FR"} for cid in ids])

        # when they are deleted while static segments are made of them
        deleted, by_ids, by_predicate = await asyncio.gather(
            workspace.gql(DELETE, {"ids": ids}),
            create(workspace, name=f"ids {round_}", customerIds=ids),
            create(workspace, name=f"frozen {round_}", predicate=country_is("FR"), static=True),
        )

        # then each create either made its segment or was refused, never failed
        assert len(deleted.data["customersDelete"]["deletedCustomerIds"]) == 1000
        assert codes(by_ids) in ([], ["NOT_FOUND"])
        assert codes(by_predicate) in ([], ["TOO_FEW"])
        for payload in (by_ids, by_predicate):
            if payload["segment"] is not None:
                assert await member_ids(workspace, payload["segment"]["id"]) == []
    names = await segment_names(workspace)
    assert all(name.startswith(("ids", "frozen")) for name in names)


async def test_invalid_predicates_create_nothing(workspace: Workspace) -> None:
    payload = await create(
        workspace,
        name="Bad",
        predicate={"condition": {"field": "properties.plan", "operator": "EQ", "value": "x"}},
    )

    assert payload["segment"] is None
    assert codes(payload) == ["UNKNOWN_FIELD"]
    assert await segment_names(workspace) == []


async def test_read_keys_cannot_create(workspace: Workspace) -> None:
    result = await workspace.gql(
        CREATE, {"input": {"name": "x", "predicate": country_is("FR")}}, role=Role.READ
    )

    assert result.errors and result.errors[0]["extensions"]["code"] == "FORBIDDEN"
    assert await segment_names(workspace) == []


# ---- updating -----------------------------------------------------------


async def test_a_passive_segment_takes_a_new_name_description_and_predicate(
    workspace: Workspace,
) -> None:
    await given_people(workspace)
    segment = await create_ok(workspace, name="French", predicate=country_is("FR"))

    payload = await update(
        workspace,
        segment["id"],
        name="Iberian",
        description="ES only",
        predicate=country_is("ES"),
    )

    updated = payload["segment"]
    assert payload["userErrors"] == []
    assert (updated["name"], updated["description"], updated["kind"]) == (
        "Iberian",
        "ES only",
        "PASSIVE",
    )
    assert updated["predicate"] == country_is("ES")
    assert updated["predicateText"] != segment["predicateText"]
    assert updated["createdAt"] == segment["createdAt"]
    assert updated["updatedAt"] >= segment["updatedAt"]
    assert await read(workspace, segment["id"]) == updated
    assert await member_ids(workspace, segment["id"]) == ["c4"]


async def test_description_null_clears_and_omitted_fields_stay(workspace: Workspace) -> None:
    segment = await create_ok(workspace, name="French", description="d", predicate=country_is("FR"))

    renamed = (await update(workspace, segment["id"], name="Francophone"))["segment"]
    cleared = (await update(workspace, segment["id"], description=None))["segment"]

    assert (renamed["description"], renamed["predicate"]) == ("d", country_is("FR"))
    assert (cleared["name"], cleared["description"]) == ("Francophone", None)


async def test_a_static_segment_refuses_a_predicate_but_takes_a_name(
    workspace: Workspace,
) -> None:
    await given_people(workspace)
    segment = await create_ok(workspace, name="Picked", customerIds=["c1", "c3"])

    refused = await update(workspace, segment["id"], name="Other", predicate=country_is("FR"))
    unchanged = await read(workspace, segment["id"])
    renamed = await update(workspace, segment["id"], name="Renamed", description="kept")

    assert refused["segment"] is None
    assert codes(refused) == ["SEGMENT_IMMUTABLE"]
    assert refused["userErrors"][0]["field"] == ["input", "predicate"]
    assert unchanged == segment
    assert await member_ids(workspace, segment["id"]) == ["c1", "c3"]
    assert renamed["userErrors"] == []
    assert (renamed["segment"]["name"], renamed["segment"]["description"]) == ("Renamed", "kept")


async def test_an_active_segment_refuses_a_new_predicate_but_takes_its_own_back(
    workspace: Workspace,
) -> None:
    await given_people(workspace)
    segment = await create_ok(
        workspace,
        name="Pricey French",
        predicate={"and": [country_is("FR"), PRICEY]},
    )
    active = (await attach(workspace, segment["id"], "DISTRIBUTION", "d-1"))["segment"]

    refused = await update(workspace, segment["id"], predicate=country_is("DE"))
    after_refusal = await read(workspace, segment["id"])
    same = await update(workspace, segment["id"], name="Renamed", predicate=active["predicate"])

    assert codes(refused) == ["SEGMENT_IMMUTABLE"]
    assert after_refusal == active
    assert same["userErrors"] == []
    assert same["segment"]["name"] == "Renamed"
    assert same["segment"]["kind"] == "ACTIVE" and same["segment"]["editable"] is False
    assert same["segment"]["predicate"] == active["predicate"]
    assert same["segment"]["predicateText"] == active["predicateText"]


async def test_any_spelling_of_an_active_segments_own_predicate_is_accepted(
    workspace: Workspace,
) -> None:
    sent = {
        "and": [
            {"condition": {"field": "createdAt", "operator": "GTE", "value": "2026-01-01"}},
            {"condition": {"field": "email", "operator": "MATCHES", "value": ".*@a\\.com"}},
            {"related": {"scope": "INVOICES", "quantifier": "ANY", "last": 2}},
        ]
    }
    segment = await create_ok(workspace, name="Spelled", predicate=sent)
    await attach(workspace, segment["id"], "REFERRAL_TIER", "t-1")

    as_sent = await update(workspace, segment["id"], predicate=sent)
    as_read = await update(workspace, segment["id"], predicate=segment["predicate"])

    assert segment["predicate"] != sent  # the stored form is canonical (instants in full)
    assert as_sent["userErrors"] == [] and as_read["userErrors"] == []
    assert as_read["segment"]["predicate"] == segment["predicate"]


async def test_refused_updates_change_nothing(workspace: Workspace) -> None:
    await create_ok(workspace, name="Other", predicate=country_is("DE"))
    segment = await create_ok(workspace, name="French", predicate=country_is("FR"))

    taken = await update(workspace, segment["id"], name="Other", predicate=country_is("ES"))
    invalid = await update(
        workspace,
        segment["id"],
        name="New name",
        predicate={"condition": {"field": "nope", "operator": "EQ", "value": 1}},
    )
    too_long = await update(workspace, segment["id"], description="x" * 2001)
    unknown = await update(workspace, "seg_unknown", name="x")

    assert codes(taken) == ["NAME_TAKEN"]
    assert codes(invalid) == ["UNKNOWN_FIELD"]
    assert codes(too_long) == ["TOO_LONG"]
    assert codes(unknown) == ["NOT_FOUND"]
    assert await read(workspace, segment["id"]) == segment
    assert await segment_names(workspace) == ["French", "Other"]


async def test_segments_of_another_workspace_cannot_be_changed(
    workspace: Workspace, other_workspace: Workspace
) -> None:
    segment = await create_ok(workspace, name="Mine", predicate=country_is("FR"))

    updated = await update(other_workspace, segment["id"], name="Stolen")
    deleted = await delete(other_workspace, segment["id"])

    assert codes(updated) == ["NOT_FOUND"]
    assert codes(deleted) == ["NOT_FOUND"]
    assert await read(workspace, segment["id"]) == segment
    assert await read(other_workspace, segment["id"]) is None


async def test_two_concurrent_updates_leave_one_consistent_predicate(
    workspace: Workspace,
) -> None:
    # given two predicates, and how each is stored and rendered on its own
    await given_people(workspace)
    first = {"and": [country_is("FR"), PRICEY]}
    second = {"or": [country_is("DE"), {"not": PRICEY}]}
    probe_a = await create_ok(workspace, name="probe-a", predicate=first)
    probe_b = await create_ok(workspace, name="probe-b", predicate=second)
    outcomes = {
        "a": (probe_a["predicate"], probe_a["predicateText"]),
        "b": (probe_b["predicate"], probe_b["predicateText"]),
    }

    for round_ in range(5):
        # when two edits of one segment race
        segment = await create_ok(workspace, name=f"raced-{round_}", predicate=country_is("ES"))
        results = await asyncio.gather(
            update(workspace, segment["id"], name=f"r{round_}-a", predicate=first),
            update(workspace, segment["id"], name=f"r{round_}-b", predicate=second),
        )

        # then both applied, one after the other: the segment is the last one, whole
        assert [r["userErrors"] for r in results] == [[], []]
        final = await read(workspace, segment["id"])
        assert final is not None
        won = final["name"][-1]
        assert (final["predicate"], final["predicateText"]) == outcomes[won]
        probe = probe_a if won == "a" else probe_b
        assert await member_ids(workspace, segment["id"]) == await member_ids(
            workspace, probe["id"]
        )


# ---- deleting -----------------------------------------------------------


async def test_delete_is_permanent(workspace: Workspace) -> None:
    await given_people(workspace)
    segment = await create_ok(workspace, name="French", predicate=country_is("FR"))

    payload = await delete(workspace, segment["id"])
    again = await delete(workspace, segment["id"])
    recreated = await create(workspace, name="French", predicate=country_is("FR"))

    assert payload == {"deletedSegmentId": segment["id"], "userErrors": []}
    assert await read(workspace, segment["id"]) is None
    assert codes(again) == ["NOT_FOUND"]
    assert recreated["userErrors"] == []
    assert recreated["segment"]["id"] != segment["id"]


async def test_delete_is_refused_while_used_and_changes_nothing(workspace: Workspace) -> None:
    await given_people(workspace)
    static = await create_ok(workspace, name="Picked", customerIds=["c1"])
    used = (await attach(workspace, static["id"], "ANALYTICS", "dash-1"))["segment"]

    refused = await delete(workspace, static["id"])
    after_refusal = await read(workspace, static["id"])
    members_after_refusal = await member_ids(workspace, static["id"])
    await detach(workspace, static["id"], "ANALYTICS", "dash-1")
    deleted = await delete(workspace, static["id"])

    assert codes(refused) == ["SEGMENT_IN_USE"]
    assert refused["deletedSegmentId"] is None
    assert "dash-1" in refused["userErrors"][0]["message"]
    assert after_refusal == used
    assert members_after_refusal == ["c1"]
    assert deleted["deletedSegmentId"] == static["id"]
    assert await read(workspace, static["id"]) is None


async def test_an_active_segment_without_usages_can_be_deleted(workspace: Workspace) -> None:
    segment = await create_ok(workspace, name="French", predicate=country_is("FR"))
    await attach(workspace, segment["id"], "LOYALTY_EARNING_RULE", "rule-1")

    refused = await delete(workspace, segment["id"])
    detached = (await detach(workspace, segment["id"], "LOYALTY_EARNING_RULE", "rule-1"))["segment"]
    deleted = await delete(workspace, segment["id"])

    assert codes(refused) == ["SEGMENT_IN_USE"]
    assert detached["kind"] == "ACTIVE"
    assert deleted["userErrors"] == []
    assert await segment_names(workspace) == []
