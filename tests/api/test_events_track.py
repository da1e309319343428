"""eventsTrack through the real HTTP stack: batches, idempotent retries, all or nothing."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from typing import Any

import pytest

from api.runtime import Runtime
from domain.access import Role
from tests.api.tracked_event_documents import (
    TRACK,
    customers,
    error_fields,
    event,
    timeline,
    track,
    track_ok,
)
from tests.conftest import Workspace
from tests.integration.dataset import clock_at

T0 = datetime(2026, 5, 1, 9, 30, tzinfo=UTC)


def at(hour: int) -> str:
    return T0.replace(hour=hour).isoformat()


def names_ids(nodes: list[dict[str, Any]]) -> list[tuple[str, str | None]]:
    return [(n["name"], n["id"]) for n in nodes]


# ---- a batch is stored ----------------------------------------------------------------


async def test_a_batch_is_stored_with_its_times_and_properties(
    workspace: Workspace, runtime: Runtime
) -> None:
    # given two customers
    await customers(workspace, "ada", "bob")

    # when three events are tracked, one without occurredAt while the clock says T0
    with clock_at(runtime, T0):
        count = await track_ok(
            workspace,
            event("ada", "signed_up", occurredAt="2026-04-30T23:00:00-02:00", id="e-1"),
            event("ada", "checkout_started", properties={"cart": 120.5, "coupon": "SPRING"}),
            event("bob", "login", occurredAt="2026-04-01T00:00:00Z"),
        )

    # then all three are stored, times in UTC, the default time the injected now
    assert count == 3
    ada = await timeline(workspace, "ada")
    assert [(n["name"], n["occurredAt"], n["id"]) for n in ada] == [
        ("checkout_started", "2026-05-01T09:30:00+00:00", None),
        ("signed_up", "2026-05-01T01:00:00+00:00", "e-1"),
    ]
    assert ada[0]["properties"] == {"cart": 120.5, "coupon": "SPRING"}
    assert ada[1]["properties"] == {}
    assert names_ids(await timeline(workspace, "bob")) == [("login", None)]


async def test_a_full_batch_of_a_thousand_is_one_call(workspace: Workspace) -> None:
    # given one customer
    await customers(workspace, "ada")

    # when 1000 events are sent at once
    batch = [event("ada", f"e{i % 7}", id=f"k{i}", occurredAt=at(i % 24)) for i in range(1000)]
    count = await track_ok(workspace, *batch)

    # then all are stored
    assert count == 1000
    assert len(await timeline(workspace, "ada")) == 1000


@pytest.mark.parametrize(("size", "code"), [(0, "TOO_FEW"), (1001, "TOO_MANY")])
async def test_a_batch_holds_one_to_a_thousand_events(
    workspace: Workspace, size: int, code: str
) -> None:
    await customers(workspace, "ada")
    payload = await track(workspace, *[event("ada", id=f"k{i}") for i in range(size)])
    assert payload["trackedCount"] == 0
    assert error_fields(payload) == [(["events"], code)]
    assert await timeline(workspace, "ada") == []


async def test_a_read_key_cannot_track(workspace: Workspace) -> None:
    await customers(workspace, "ada")
    refused = await workspace.gql(TRACK, {"events": [event("ada")]}, role=Role.READ)
    assert refused.body["data"] is None
    assert [e["extensions"]["code"] for e in refused.errors] == ["FORBIDDEN"]
    assert await timeline(workspace, "ada") == []


# ---- idempotent retries ---------------------------------------------------------------


async def test_the_same_batch_sent_twice_is_stored_once(workspace: Workspace) -> None:
    # given a batch with ids, tracked once
    await customers(workspace, "ada", "bob")
    batch = [
        event("ada", "view", id="v-1", occurredAt=at(9)),
        event("ada", "buy", id="b-1", occurredAt=at(10)),
        event("bob", "view", id="v-2", occurredAt=at(11)),
    ]
    assert await track_ok(workspace, *batch) == 3

    # when the client retries it (a lost response, say)
    retried = await track(workspace, *batch)

    # then the retry succeeds and nothing is stored twice
    assert retried == {"trackedCount": 3, "userErrors": []}
    assert names_ids(await timeline(workspace, "ada")) == [("buy", "b-1"), ("view", "v-1")]
    assert names_ids(await timeline(workspace, "bob")) == [("view", "v-2")]


async def test_a_partly_overlapping_batch_stores_only_the_new_events(workspace: Workspace) -> None:
    # given events a and b already stored
    await customers(workspace, "ada")
    await track_ok(
        workspace,
        event("ada", "a", id="a", occurredAt=at(1)),
        event("ada", "b", id="b", occurredAt=at(2)),
    )

    # when a batch repeats b and adds c and an event without id
    await track_ok(
        workspace,
        event("ada", "b", id="b", occurredAt=at(2)),
        event("ada", "c", id="c", occurredAt=at(3)),
        event("ada", "anonymous", occurredAt=at(4)),
    )

    # then a, b, c are there once each, and the id-less event too
    assert names_ids(await timeline(workspace, "ada")) == [
        ("anonymous", None),
        ("c", "c"),
        ("b", "b"),
        ("a", "a"),
    ]


async def test_an_id_repeated_inside_one_batch_is_stored_once_the_first(
    workspace: Workspace,
) -> None:
    await customers(workspace, "ada")

    # when one batch carries the id "x" three times
    count = await track_ok(
        workspace,
        event("ada", "first", id="x", occurredAt=at(1), properties={"n": 1}),
        event("ada", "other", id="y", occurredAt=at(2)),
        event("ada", "second", id="x", occurredAt=at(3), properties={"n": 2}),
        event("ada", "third", id="x", occurredAt=at(4)),
    )

    # then "x" is stored once, as first sent
    assert count == 4
    stored = await timeline(workspace, "ada")
    assert names_ids(stored) == [("other", "y"), ("first", "x")]
    assert stored[1]["properties"] == {"n": 1}


async def test_a_retry_with_other_content_keeps_what_was_stored(workspace: Workspace) -> None:
    await customers(workspace, "ada", "bob")
    await track_ok(workspace, event("ada", "buy", id="k", properties={"v": 1}, occurredAt=at(1)))
    await track_ok(workspace, event("bob", "sell", id="k", properties={"v": 2}, occurredAt=at(2)))
    stored = await timeline(workspace, "ada")
    assert [(n["name"], n["properties"]) for n in stored] == [("buy", {"v": 1})]
    assert await timeline(workspace, "bob") == []


async def test_events_without_id_are_never_deduplicated(workspace: Workspace) -> None:
    await customers(workspace, "ada")
    same = event("ada", "view", occurredAt=at(5))
    await track_ok(workspace, same, same)
    await track_ok(workspace, same)
    assert names_ids(await timeline(workspace, "ada")) == [("view", None)] * 3


async def test_concurrent_retries_store_the_batch_once(workspace: Workspace) -> None:
    # given a batch sent by two clients at the same moment
    await customers(workspace, "ada")
    batch = [event("ada", f"n{i}", id=f"c{i}", occurredAt=at(i)) for i in range(20)]

    # when both calls race
    first, second = await asyncio.gather(track(workspace, *batch), track(workspace, *batch))

    # then both succeed and each event is stored once
    assert first["userErrors"] == [] and second["userErrors"] == []
    assert sorted(n["id"] for n in await timeline(workspace, "ada")) == sorted(
        f"c{i}" for i in range(20)
    )


async def test_event_ids_are_per_workspace(
    workspace: Workspace, other_workspace: Workspace
) -> None:
    for ws in (workspace, other_workspace):
        await customers(ws, "ada")
        await track_ok(ws, event("ada", "view", id="same"))
    for ws in (workspace, other_workspace):
        assert names_ids(await timeline(ws, "ada")) == [("view", "same")]


# ---- all or nothing -----------------------------------------------------------------

SEVENTEEN_KB = {"blob": "x" * (17 * 1024)}

BAD_EVENTS = [
    ("unknown customer", {"customerId": "nobody"}, "customerId", "NOT_FOUND"),
    ("empty name", {"name": ""}, "name", "REQUIRED"),
    ("blank name", {"name": "   "}, "name", "REQUIRED"),
    ("256-character name", {"name": "n" * 256}, "name", "TOO_LONG"),
    ("NUL in the name", {"name": "a\x00b"}, "name", "INVALID"),
    ("17 KB of properties", {"properties": SEVENTEEN_KB}, "properties", "TOO_LONG"),
    ("properties a list", {"properties": [1, 2]}, "properties", "INVALID"),
    ("properties an empty list", {"properties": []}, "properties", "INVALID"),
    ("properties a string", {"properties": "cart=3"}, "properties", "INVALID"),
    ("properties false", {"properties": False}, "properties", "INVALID"),
    ("NUL inside properties", {"properties": {"k": "a\x00"}}, "properties", "INVALID"),
    ("NUL in a property key", {"properties": {"a\x00": 1}}, "properties", "INVALID"),
    ("lone surrogate in properties", {"properties": {"k": "\ud800"}}, "properties", "INVALID"),
    ("empty id", {"id": ""}, "id", "INVALID"),
    ("256-character id", {"id": "i" * 256}, "id", "TOO_LONG"),
]


@pytest.mark.parametrize(
    ("change", "field", "code"),
    [case[1:] for case in BAD_EVENTS],
    ids=[case[0] for case in BAD_EVENTS],
)
async def test_one_bad_event_refuses_the_whole_batch(
    workspace: Workspace, change: dict[str, Any], field: str, code: str
) -> None:
    # given two customers and a batch whose middle event is bad
    await customers(workspace, "ada", "bob")
    batch = [
        event("ada", "view", id="ok-1"),
        {**event("bob", "buy", id="bad"), **change},
        event("bob", "view", id="ok-2"),
    ]

    # when it is tracked (the payload built by hand: the lone surrogate is not valid UTF-8)
    body = json.dumps({"query": TRACK, "variables": {"events": batch}})
    response = await workspace.http.post(
        f"{workspace.base_url}/graphql",
        content=body,
        headers={
            "Authorization": f"Bearer {workspace.keys[Role.WRITE]}",
            "Content-Type": "application/json",
        },
    )

    # then one user error names the item and field, and nothing is stored
    assert response.status_code == 200
    payload = response.json()["data"]["eventsTrack"]
    assert payload["trackedCount"] == 0
    assert error_fields(payload) == [(["events", "1", field], code)]
    assert payload["userErrors"][0]["message"]
    assert await timeline(workspace, "ada") == [] and await timeline(workspace, "bob") == []


async def test_every_bad_event_is_reported_at_once(workspace: Workspace) -> None:
    await customers(workspace, "ada")
    payload = await track(
        workspace,
        event("ada", ""),
        event("ada", "fine"),
        event("ada", "n" * 256, properties=SEVENTEEN_KB),
        event("nobody", "fine"),
        event("nobody", " "),
        event("", "fine"),
    )
    assert error_fields(payload) == [
        (["events", "0", "name"], "REQUIRED"),
        (["events", "2", "name"], "TOO_LONG"),
        (["events", "2", "properties"], "TOO_LONG"),
        (["events", "3", "customerId"], "NOT_FOUND"),
        (["events", "4", "customerId"], "NOT_FOUND"),
        (["events", "4", "name"], "REQUIRED"),
        (["events", "5", "customerId"], "INVALID"),
    ]
    assert await timeline(workspace, "ada") == []


async def test_unknown_customers_are_each_named(
    workspace: Workspace, other_workspace: Workspace
) -> None:
    # given ada here and bob only in another workspace
    await customers(workspace, "ada")
    await customers(other_workspace, "bob")

    payload = await track(workspace, event("nobody"), event("ada"), event("bob"), event("nobody"))

    assert error_fields(payload) == [
        (["events", "0", "customerId"], "NOT_FOUND"),
        (["events", "2", "customerId"], "NOT_FOUND"),
        (["events", "3", "customerId"], "NOT_FOUND"),
    ]
    assert await timeline(workspace, "ada") == []


async def test_the_limits_themselves_are_accepted(workspace: Workspace) -> None:
    # given a name of exactly 255 characters and properties of exactly 16 KB as compact JSON
    await customers(workspace, "ada")
    properties = {"k": "é" * 10 + "x" * (16 * 1024 - len('{"k":""}') - 20)}
    assert len(json.dumps(properties, separators=(",", ":"), ensure_ascii=False).encode()) == 16384

    await track_ok(workspace, event("ada", "n" * 255, properties=properties))

    [stored] = await timeline(workspace, "ada")
    assert stored["name"] == "n" * 255 and stored["properties"] == properties


async def test_a_deleted_customer_takes_its_events_along(workspace: Workspace) -> None:
    from tests.api.documents import DELETE

    await customers(workspace, "ada")
    await track_ok(workspace, event("ada", "view", id="v"))
    deleted = (await workspace.gql(DELETE, {"ids": ["ada"]})).data["customersDelete"]
    assert deleted["userErrors"] == []

    # a customer with the same id starts afresh, and the old event id can be used again
    await customers(workspace, "ada")
    assert await timeline(workspace, "ada") == []
    await track_ok(workspace, event("ada", "view", id="v"))
    assert names_ids(await timeline(workspace, "ada")) == [("view", "v")]
