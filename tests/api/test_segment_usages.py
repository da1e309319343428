"""segmentUsageAttach / Detach: recording usages, activation (once, for good), its baseline."""

from __future__ import annotations

import asyncio

import pytest

from domain.access import Role
from tests.api.segment_documents import (
    ATTACH,
    attach,
    codes,
    country_is,
    create_ok,
    delete,
    detach,
    member_count,
    member_ids,
    read,
    stats,
    update,
    upsert_ok,
)
from tests.conftest import Workspace

ACTIVATING = ["LOYALTY_EARNING_RULE", "DISTRIBUTION", "REFERRAL_TIER"]
RECORDING = ["VALIDATION_RULE", "PROMOTION", "APPROVAL_WORKFLOW", "DUNNING_POLICY", "ANALYTICS"]

PEOPLE = [
    {"id": "c1", "country": "FR"},
    {"id": "c2", "country": "FR"},
    {"id": "c3", "country": "DE"},
    {"id": "c4", "country": "ES"},
    {"id": "c5", "country": "ES"},
    {"id": "c6", "country": "IT"},
]


async def given_people(ws: Workspace) -> None:
    await upsert_ok(ws, *PEOPLE)


@pytest.mark.parametrize("kind", ACTIVATING)
async def test_an_activating_usage_turns_a_passive_segment_active(
    workspace: Workspace, kind: str
) -> None:
    await given_people(workspace)
    segment = await create_ok(workspace, name="French", predicate=country_is("FR"))

    payload = await attach(workspace, segment["id"], kind, "ref-1")

    active = payload["segment"]
    assert payload["userErrors"] == []
    assert active["kind"] == "ACTIVE" and active["editable"] is False
    assert active["activatedAt"] is not None
    assert [(u["kind"], u["reference"]) for u in active["usages"]] == [(kind, "ref-1")]
    assert active["predicate"] == segment["predicate"]
    assert await read(workspace, segment["id"]) == active


@pytest.mark.parametrize("kind", RECORDING)
async def test_other_usages_are_only_recorded(workspace: Workspace, kind: str) -> None:
    segment = await create_ok(workspace, name="French", predicate=country_is("FR"))

    payload = await attach(workspace, segment["id"], kind, "ref-1")

    recorded = payload["segment"]
    assert payload["userErrors"] == []
    assert (recorded["kind"], recorded["editable"], recorded["activatedAt"]) == (
        "PASSIVE",
        True,
        None,
    )
    assert [(u["kind"], u["reference"]) for u in recorded["usages"]] == [(kind, "ref-1")]
    edited = await update(workspace, segment["id"], predicate=country_is("DE"))
    assert edited["userErrors"] == []


async def test_activation_happens_once_and_detaching_does_not_revert_it(
    workspace: Workspace,
) -> None:
    segment = await create_ok(workspace, name="French", predicate=country_is("FR"))
    first = (await attach(workspace, segment["id"], "DISTRIBUTION", "d-1"))["segment"]

    second = (await attach(workspace, segment["id"], "REFERRAL_TIER", "t-1"))["segment"]
    await detach(workspace, segment["id"], "DISTRIBUTION", "d-1")
    detached = (await detach(workspace, segment["id"], "REFERRAL_TIER", "t-1"))["segment"]
    refused = await update(workspace, segment["id"], predicate=country_is("DE"))

    assert second["activatedAt"] == first["activatedAt"]
    assert len(second["usages"]) == 2
    assert detached["kind"] == "ACTIVE" and detached["usages"] == []
    assert detached["activatedAt"] == first["activatedAt"]
    assert codes(refused) == ["SEGMENT_IMMUTABLE"]


async def test_attaching_the_same_usage_twice_records_it_once(workspace: Workspace) -> None:
    segment = await create_ok(workspace, name="French", predicate=country_is("FR"))

    await attach(workspace, segment["id"], "PROMOTION", "p-1")
    again = await attach(workspace, segment["id"], "PROMOTION", "p-1")
    other = await attach(workspace, segment["id"], "PROMOTION", "p-2")

    assert again["userErrors"] == [] and len(again["segment"]["usages"]) == 1
    assert [u["reference"] for u in other["segment"]["usages"]] == ["p-1", "p-2"]


async def test_a_static_segment_cannot_be_activated(workspace: Workspace) -> None:
    await given_people(workspace)
    static = await create_ok(workspace, name="Picked", customerIds=["c1", "c3"])

    refused = await attach(workspace, static["id"], "LOYALTY_EARNING_RULE", "rule-1")
    after_refusal = await read(workspace, static["id"])
    recorded = await attach(workspace, static["id"], "ANALYTICS", "dash-1")

    assert refused["segment"] is None
    assert codes(refused) == ["SEGMENT_IMMUTABLE"]
    assert after_refusal == static
    assert recorded["userErrors"] == []
    assert recorded["segment"]["kind"] == "STATIC"
    assert [u["kind"] for u in recorded["segment"]["usages"]] == ["ANALYTICS"]


async def test_refused_usage_changes_change_nothing(workspace: Workspace) -> None:
    segment = await create_ok(workspace, name="French", predicate=country_is("FR"))
    used = (await attach(workspace, segment["id"], "PROMOTION", "p-1"))["segment"]

    unknown_usage = await detach(workspace, segment["id"], "PROMOTION", "p-2")
    other_kind = await detach(workspace, segment["id"], "ANALYTICS", "p-1")
    blank = await attach(workspace, segment["id"], "DISTRIBUTION", "  ")
    too_long = await attach(workspace, segment["id"], "DISTRIBUTION", "r" * 256)
    unknown_segment = await attach(workspace, "seg_nope", "DISTRIBUTION", "d-1")
    read_only = await workspace.gql(
        ATTACH,
        {"segmentId": segment["id"], "kind": "DISTRIBUTION", "reference": "d-1"},
        role=Role.READ,
    )

    assert codes(unknown_usage) == ["NOT_FOUND"] and codes(other_kind) == ["NOT_FOUND"]
    assert codes(blank) == ["INVALID"] and codes(too_long) == ["INVALID"]
    assert codes(unknown_segment) == ["NOT_FOUND"]
    assert read_only.errors[0]["extensions"]["code"] == "FORBIDDEN"
    assert await read(workspace, segment["id"]) == used


async def test_usages_of_another_workspace_cannot_be_attached(
    workspace: Workspace, other_workspace: Workspace
) -> None:
    segment = await create_ok(workspace, name="French", predicate=country_is("FR"))

    refused = await attach(other_workspace, segment["id"], "DISTRIBUTION", "d-1")

    assert codes(refused) == ["NOT_FOUND"]
    assert await read(workspace, segment["id"]) == segment


async def test_activation_records_the_baseline(workspace: Workspace) -> None:
    await given_people(workspace)
    segment = await create_ok(workspace, name="Latin", predicate=country_is("FR", "ES", "IT"))

    await attach(workspace, segment["id"], "LOYALTY_EARNING_RULE", "rule-1")

    counted = await stats(workspace, segment["id"])
    assert counted["customerCount"] == await member_count(workspace, segment["id"]) == 5
    assert counted["totalCustomers"] == 6
    assert counted["percentage"] == pytest.approx(100 * 5 / 6, abs=1e-3)
    assert await member_ids(workspace, segment["id"]) == ["c1", "c2", "c4", "c5", "c6"]


async def test_an_active_segment_in_use_cannot_be_deleted(workspace: Workspace) -> None:
    segment = await create_ok(workspace, name="French", predicate=country_is("FR"))
    active = (await attach(workspace, segment["id"], "DISTRIBUTION", "d-1"))["segment"]

    refused = await delete(workspace, segment["id"])

    assert codes(refused) == ["SEGMENT_IN_USE"]
    assert await read(workspace, segment["id"]) == active


async def test_a_predicate_change_racing_an_activation_never_breaks_the_rules(
    workspace: Workspace,
) -> None:
    # given customers, and two predicates with different member counts
    await given_people(workspace)
    before, after = country_is("FR"), country_is("DE", "ES")
    for round_ in range(6):
        segment = await create_ok(workspace, name=f"raced-{round_}", predicate=before)

        # when an edit and an activation race
        edit, activation = await asyncio.gather(
            update(workspace, segment["id"], predicate=after),
            attach(workspace, segment["id"], "DISTRIBUTION", f"d-{round_}"),
        )

        # then the activation won, and the edit was refused...
        final = await read(workspace, segment["id"])
        assert final is not None
        assert activation["userErrors"] == []
        assert final["kind"] == "ACTIVE"
        assert final["usages"][0]["kind"] == "DISTRIBUTION"
        if edit["userErrors"]:
            assert codes(edit) == ["SEGMENT_IMMUTABLE"]
            assert final["predicate"] == before
        else:
            # ...or the edit came first, and the activation saw the new predicate
            assert edit["segment"]["kind"] == "PASSIVE"
            assert final["predicate"] == after
            assert edit["segment"]["updatedAt"] <= final["activatedAt"]
        # and the baseline is the membership of the predicate it kept
        expected = 2 if final["predicate"] == before else 3
        assert (await stats(workspace, segment["id"]))["customerCount"] == expected


async def test_deleting_a_segment_racing_an_attach(workspace: Workspace) -> None:
    for round_ in range(5):
        segment = await create_ok(workspace, name=f"raced-{round_}", predicate=country_is("FR"))

        deleted, attached = await asyncio.gather(
            delete(workspace, segment["id"]),
            attach(workspace, segment["id"], "LOYALTY_EARNING_RULE", "rule-1"),
        )

        final = await read(workspace, segment["id"])
        if deleted["userErrors"]:
            assert codes(deleted) == ["SEGMENT_IN_USE"] and attached["userErrors"] == []
            assert final is not None and final["kind"] == "ACTIVE"
        else:
            assert codes(attached) == ["NOT_FOUND"] and final is None


async def test_an_active_segment_follows_an_edit_of_a_segment_it_references(
    workspace: Workspace,
) -> None:
    # given an ACTIVE segment built on a PASSIVE one
    await given_people(workspace)
    base = await create_ok(workspace, name="Base", predicate=country_is("FR"))
    active = await create_ok(workspace, name="Active", predicate={"segment": base["id"]})
    await attach(workspace, active["id"], "DISTRIBUTION", "d-1")
    assert (await stats(workspace, active["id"]))["customerCount"] == 2

    # when the referenced segment is edited
    await update(workspace, base["id"], predicate=country_is("ES", "IT"))

    # then the ACTIVE segment's own predicate is unchanged, and its stored count follows
    after = await read(workspace, active["id"])
    assert after is not None and after["predicate"] == {"segment": base["id"]}
    assert await member_ids(workspace, active["id"]) == ["c4", "c5", "c6"]
    assert (await stats(workspace, active["id"]))["customerCount"] == 3
