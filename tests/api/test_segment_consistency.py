"""Every way of asking "who is in this segment" gives one answer, whatever the data did.

After random upserts and deletes, for a PASSIVE segment, a PASSIVE one referencing
it, an ACTIVE one referencing a STATIC one, and that STATIC one: members (every
page), members.totalCount, stats.customerCount (past the cache bound),
segmentMembership for each customer, Customer.segments, customers(segmentId:),
and segmentPreview of the same predicate agree, with each other and with the
predicate read by hand.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api.runtime import Runtime
from tests.api.documents import DELETE
from tests.api.segment_documents import (
    CUSTOMERS_IN_SEGMENT,
    PREVIEW,
    FakeClock,
    attach,
    create_ok,
    member_ids,
    refresh_everything_due,
    stats,
    upsert_ok,
)
from tests.conftest import Workspace, new_workspace

POOL = [f"c{n}" for n in range(8)]
STATIC_IDS = ["c0", "c1", "c2", "c3"]

ALL_SEGMENTS = """
query { customers(first: 1000) { edges { node { id segments { id } } } } }
"""

Customer = dict[str, Any]


def _spent(customer: Customer) -> float:
    return float(customer.get("spent") or 0)


PASSIVE = {
    "or": [
        {
            "and": [
                {"condition": {"field": "country", "operator": "IN", "values": ["FR", "DE"]}},
                {"condition": {"field": "email", "operator": "EXISTS"}},
            ]
        },
        {"condition": {"field": "totalSpent", "operator": "GT", "value": 100}},
    ]
}


def passive_by_hand(c: Customer) -> bool:
    return (c.get("country") in ("FR", "DE") and c.get("email") is not None) or _spent(c) > 100


def referencing(passive_id: str) -> dict[str, Any]:
    not_german = {"not": {"condition": {"field": "country", "operator": "EQ", "value": "DE"}}}
    return {"and": [{"segment": passive_id}, not_german]}


def referencing_by_hand(c: Customer) -> bool:
    return passive_by_hand(c) and c.get("country") != "DE"


def active(static_id: str) -> dict[str, Any]:
    spain = {"condition": {"field": "country", "operator": "EQ", "value": "ES"}}
    return {"or": [spain, {"segment": static_id}]}


@dataclass
class World:
    """The workspace, its segments, and what the test believes the data is."""

    ws: Workspace
    customers: dict[str, Customer]
    static_members: set[str]
    segments: dict[str, tuple[str, dict[str, Any], Callable[[Customer, str], bool]]] = field(
        default_factory=dict
    )


customer_writes = st.fixed_dictionaries(
    {
        "op": st.just("upsert"),
        "id": st.sampled_from(POOL),
        "country": st.sampled_from(["FR", "DE", "ES", None]),
        "email": st.sampled_from([None, "x@example.com"]),
        "spent": st.sampled_from([None, 30, 150]),
    }
)
customer_deletes = st.fixed_dictionaries({"op": st.just("delete"), "id": st.sampled_from(POOL)})
operations = st.lists(st.one_of(customer_writes, customer_deletes), min_size=1, max_size=6)


@pytest.fixture
def clock(runtime: Runtime) -> Iterator[FakeClock]:
    original = runtime.clock
    fake = FakeClock()
    runtime.clock = fake
    yield fake
    runtime.clock = original


def as_input(op: dict[str, Any]) -> dict[str, Any]:
    body: dict[str, Any] = {"id": op["id"], "country": op["country"], "email": op["email"]}
    if op["spent"] is not None:
        body["orders"] = [{"id": "o1", "amount": op["spent"]}]
    return body


async def given_world(ws: Workspace) -> World:
    start = {cid: {"country": "FR", "email": None, "spent": None} for cid in POOL[:6]}
    await upsert_ok(ws, *[{"id": cid, "country": "FR"} for cid in start])
    world = World(ws, start, set(STATIC_IDS))
    passive = await create_ok(ws, name="Passive", predicate=PASSIVE)
    ref = await create_ok(ws, name="Referencing", predicate=referencing(passive["id"]))
    static = await create_ok(ws, name="Static", customerIds=STATIC_IDS)
    act = await create_ok(ws, name="Active", predicate=active(static["id"]))
    await attach(ws, act["id"], "REFERRAL_TIER", "tier-1")
    world.segments = {
        "Passive": (passive["id"], PASSIVE, lambda c, cid: passive_by_hand(c)),
        "Referencing": (
            ref["id"],
            referencing(passive["id"]),
            lambda c, cid: referencing_by_hand(c),
        ),
        "Static": (
            static["id"],
            {"segment": static["id"]},
            lambda c, cid: cid in world.static_members,
        ),
        "Active": (
            act["id"],
            active(static["id"]),
            lambda c, cid: c.get("country") == "ES" or cid in world.static_members,
        ),
    }
    for segment_id, _, _ in world.segments.values():
        await stats(ws, segment_id)  # cache a first count, to be outdated by what follows
    return world


async def apply(world: World, op: dict[str, Any]) -> None:
    if op["op"] == "delete":
        await world.ws.gql(DELETE, {"ids": [op["id"]]})
        world.customers.pop(op["id"], None)
        world.static_members.discard(op["id"])  # a re-created customer is someone new
        return
    await upsert_ok(world.ws, as_input(op))
    old = world.customers.get(op["id"], {})
    spent = op["spent"] if op["spent"] is not None else old.get("spent")
    world.customers[op["id"]] = {"country": op["country"], "email": op["email"], "spent": spent}


async def every_page(ws: Workspace, query: str, variables: dict[str, Any], path: str) -> set[str]:
    ids: set[str] = set()
    after = None
    while True:
        result = await ws.gql(query, {**variables, "first": 3, "after": after})
        connection = result.data
        for key in path.split("."):
            connection = connection[key]
        ids.update(edge["node"]["id"] for edge in connection["edges"])
        if not connection["pageInfo"]["hasNextPage"]:
            return ids
        after = connection["pageInfo"]["endCursor"]


async def memberships(world: World) -> dict[tuple[str, str], bool]:
    """segmentMembership for every (segment, customer id in the pool), in one request."""
    pairs = [(sid, cid) for sid, _, _ in world.segments.values() for cid in POOL]
    fields = " ".join(
        f'm{n}: segmentMembership(segmentId: "{sid}", customerId: "{cid}") {{ isMember }}'
        for n, (sid, cid) in enumerate(pairs)
    )
    data = (await world.ws.gql(f"query {{ {fields} }}")).data
    return {pair: data[f"m{n}"]["isMember"] for n, pair in enumerate(pairs)}


async def check_agreement(world: World, clock: FakeClock, runtime: Runtime) -> None:
    ws = world.ws
    checks = await memberships(world)
    listed = (await ws.gql(ALL_SEGMENTS)).data["customers"]["edges"]
    in_segments = {e["node"]["id"]: {s["id"] for s in e["node"]["segments"]} for e in listed}
    assert set(in_segments) == set(world.customers)
    # stats are the refresher's: let time pass and run its passes until nothing is due
    clock.advance(runtime.settings.stats_max_age_s + 1)
    await refresh_everything_due(runtime)
    for name, (segment_id, predicate, by_hand) in world.segments.items():
        expected = {cid for cid, c in world.customers.items() if by_hand(c, cid)}
        members = await member_ids(ws, segment_id, page=3)
        assert len(members) == len(set(members)), name
        assert set(members) == expected, name
        counted = await stats(ws, segment_id)
        assert counted["customerCount"] == len(expected), name
        assert counted["totalCustomers"] == len(world.customers), name
        total = await ws.gql(CUSTOMERS_IN_SEGMENT, {"segmentId": segment_id, "first": 1})
        assert total.data["customers"]["totalCount"] == len(expected), name
        by_filter = await every_page(
            ws, CUSTOMERS_IN_SEGMENT, {"segmentId": segment_id}, "customers"
        )
        assert by_filter == expected, name
        preview = await every_page(ws, PREVIEW, {"predicate": predicate}, "segmentPreview.members")
        assert preview == expected, name
        assert {cid for cid in POOL if checks[(segment_id, cid)]} == expected, name
        assert {cid for cid, ids in in_segments.items() if segment_id in ids} == expected, name


@settings(
    max_examples=8,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(ops=operations)
async def test_every_read_of_membership_agrees_after_random_changes(
    runtime: Runtime,
    server: str,
    http: httpx.AsyncClient,
    clock: FakeClock,
    ops: list[dict[str, Any]],
) -> None:
    # given a fresh workspace with the four kinds of segment
    world = await given_world(await new_workspace(runtime, server, http))

    # when customers are written and deleted at random
    for op in ops:
        clock.advance(1)
        await apply(world, op)

    # then every read agrees, with each other and with the predicates read by hand
    await check_agreement(world, clock, runtime)
