"""Behavioural predicates: EVENTS conditions and `last: N`, the SQL against the reference.

Data goes in the product's own way (customersUpsert, then eventsTrack, in
list order, which is the storage order `last` breaks id-less ties by).
Membership comes from `segmentPreview` over HTTP at an injected clock and
must equal tests/reference.py's answer (and, for the table cases, the
answer worked out by hand). Then the live side: tracking an event moves an
ACTIVE segment, and the sweeper notices when a time window closes.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api.runtime import Runtime
from api.services.membership import sweep
from domain.fields import FieldCatalog
from domain.predicate_parser import parse_predicate
from tests.api.event_documents import active_segment, logged_events
from tests.api.segment_documents import read
from tests.api.tracked_event_documents import customers, event, track, track_ok
from tests.conftest import Workspace, new_workspace
from tests.integration.dataset import NOW, clock_at, ingest, preview, preview_ids, stored
from tests.integration.event_dataset import (
    CHECKOUT,
    CLOCKS,
    HAND,
    predicates,
    random_customers,
)
from tests.integration.predicate_json import Case, all_of, case, cond, negate, rel
from tests.reference import Record, members

CATALOG = FieldCatalog.for_workspace(())
HAND_STORED = stored(HAND)
RANDOM = random_customers()
RANDOM_STORED = stored(RANDOM)


async def load(
    runtime: Runtime, server: str, http: httpx.AsyncClient, data: list[Record]
) -> Workspace:
    """A workspace holding `data`: customers and their records, then their events."""
    ws = await new_workspace(runtime, server, http)
    await ingest(ws, runtime, [{k: v for k, v in c.items() if k != "events"} for c in data], ())
    batch = []
    for customer in data:
        for e in customer.get("events", []):
            extra: dict[str, Any] = {"id": e["id"]} if e["id"] is not None else {}
            batch.append(
                event(
                    customer["id"],
                    e["name"],
                    occurredAt=e["occurredAt"].isoformat(),
                    properties=e["properties"],
                    **extra,
                )
            )
    for start in range(0, len(batch), 1000):
        await track_ok(ws, *batch[start : start + 1000])
    return ws


@pytest.fixture(scope="module")
async def hand(runtime: Runtime, server: str, module_http: httpx.AsyncClient) -> Workspace:
    return await load(runtime, server, module_http, HAND)


@pytest.fixture(scope="module")
async def randomised(runtime: Runtime, server: str, module_http: httpx.AsyncClient) -> Workspace:
    return await load(runtime, server, module_http, RANDOM)


async def check(
    ws: Workspace, runtime: Runtime, spec: Case, data: list[Record], now: datetime
) -> None:
    node = parse_predicate(spec.predicate, CATALOG)
    with clock_at(runtime, now):
        got = await preview_ids(ws, spec.predicate)
    assert members(node, data, now) == spec.expected, "the reference disagrees with the hand"
    assert got == spec.expected


# ---- "in the last 7 days": windows that move with the clock ------------------------------

CHECKOUT_IS = cond("name", "EQ", CHECKOUT)
TWICE_IN_7_DAYS = rel(
    "EVENTS",
    "COUNT",
    all_of(CHECKOUT_IS, cond("occurredAt", "GTE", "now-7d")),
    count=("GTE", 2),
)
WINDOW_CASES = [
    (NOW, "ann ben cy"),  # ben's b1 sits exactly on now-7d: GTE takes it
    (NOW + timedelta(days=1), "ann cy"),  # b1 left the window
    (NOW + timedelta(days=5), "cy"),  # cy's two at now-7d, exactly
    (NOW + timedelta(days=5, seconds=1), ""),
]


@pytest.mark.parametrize(("now", "expected"), WINDOW_CASES, ids=["now", "+1d", "+5d", "+5d1s"])
async def test_a_count_window_moves_with_the_clock(
    hand: Workspace, runtime: Runtime, now: datetime, expected: str
) -> None:
    await check(hand, runtime, case("window", TWICE_IN_7_DAYS, expected), HAND_STORED, now)


# ---- event properties: typed by the operand ---------------------------------------------


def cart(operator: str, value: Any = None, quantifier: str = "ANY", **extra: Any) -> dict[str, Any]:
    condition = (
        cond("properties.cart", operator)
        if value is None
        else cond("properties.cart", operator, value)
    )
    return rel("EVENTS", quantifier, condition, **extra)


PROPERTY_CASES = [
    case('a number matches 5 and 5.0, not "5"', cart("EQ", 5), "ann ben"),
    case("a string matches only the string", cart("EQ", "5"), "ann"),
    case("GT skips strings and booleans", cart("GT", 4), "ann ben eve"),
    case("NEQ 5: a mistyped value is no value", cart("NEQ", 5), "eve"),
    case("a boolean matches only true", cart("EQ", True), "ben"),
    case('the string "true" is not true', cart("EQ", "true"), ""),
    case("EXISTS: any JSON type, not null", cart("EXISTS"), "ann ben cy eve"),
    case("NOT_EXISTS: absent or null", cart("NOT_EXISTS"), "ann ben cy"),
    case("ALL EXISTS", cart("EXISTS", quantifier="ALL"), "eve"),
    case('ALL GT 5: "6" is no number', cart("GT", 5, quantifier="ALL"), ""),
    case("COUNT of numbers above 5", cart("GT", 5, "COUNT", count=("EQ", 2)), "eve"),
    case("not any cart 5", negate(cart("EQ", 5)), "cy dee eve"),
    case("BETWEEN numbers", cart("BETWEEN", [5, 6]), "ann ben eve"),
    case("IN strings", cart("IN", ["5", "6"]), "ann eve"),
    case("MATCHES strings only", cart("MATCHES", "[0-9]+"), "ann eve"),
    case("lists and objects are no number", cart("LT", 100, quantifier="ALL"), ""),
    case(
        "name is case-sensitive unless asked",
        rel("EVENTS", "COUNT", cond("name", "EQ", CHECKOUT, ci=True), count=("GTE", 3)),
        "ben cy",
    ),
]


@pytest.mark.parametrize("spec", PROPERTY_CASES, ids=[c.name for c in PROPERTY_CASES])
async def test_event_properties_take_their_type_from_the_operand(
    hand: Workspace, runtime: Runtime, spec: Case
) -> None:
    await check(hand, runtime, spec, HAND_STORED, NOW)


# ---- last: N -----------------------------------------------------------------------

PAID = cond("status", "EQ", "PAID")
NO_ISSUE_TIME = cond("issuedAt", "NOT_EXISTS")
PLACED = cond("placedAt", "EXISTS")
INV, ORD, EVT = "INVOICES", "ORDERS", "EVENTS"


def cart_is(value: Any) -> dict[str, Any]:
    return cond("properties.cart", "EQ", value)


def id_is(value: str) -> dict[str, Any]:
    return cond("id", "EQ", value)


LAST_CASES = [
    case("invoices: ties by id, newest first", rel(INV, "ALL", PAID, last=1), "ben"),
    case("invoices: ids by code point", rel(INV, "ANY", id_is("a"), last=1), "ben"),
    case(
        "invoices: last 2 see the tie",
        rel(INV, "COUNT", PAID, count=("EQ", 1), last=2),
        "ann ben dee",
    ),
    case("invoices: no time comes last", rel(INV, "ANY", NO_ISSUE_TIME, last=3), "dee"),
    case("invoices: last 4 reach it", rel(INV, "ANY", NO_ISSUE_TIME, last=4), "ann dee"),
    case("invoices: only missing times, by id", rel(INV, "ANY", id_is("i2"), last=1), "ann dee"),
    case(
        "orders: the tie goes to o2",
        rel(ORD, "ALL", cond("status", "EQ", "PLACED"), last=1),
        "ann dee",
    ),
    case("orders: last 2 have times", rel(ORD, "ALL", PLACED, last=2), "ann"),
    case("orders: last 3 do not", rel(ORD, "ALL", PLACED, last=3), ""),
    case(
        "events: newest is the login", rel(EVT, "ANY", cond("name", "EQ", "login"), last=1), "ann"
    ),
    case("events: ties by id", rel(EVT, "ANY", cart_is(6), last=1), "eve"),
    case("events: e-a second", rel(EVT, "ANY", cart_is("6"), last=1), ""),
    case("events: last 2 reach e-a", rel(EVT, "ANY", cart_is("6"), last=2), "eve"),
    case("events: no id comes last", rel(EVT, "ANY", cart_is(6.5), last=2), ""),
    case("events: last 3 reach it", rel(EVT, "ANY", cart_is(6.5), last=3), "eve"),
    case(
        "events: the newest is recent",
        rel(EVT, "ALL", cond("occurredAt", "GTE", "now-2d"), last=1),
        "ann cy eve",
    ),
    case(
        "events: last 2 checkouts", rel(EVT, "COUNT", CHECKOUT_IS, count=("EQ", 2), last=2), "ben"
    ),
]


@pytest.mark.parametrize("spec", LAST_CASES, ids=[c.name for c in LAST_CASES])
async def test_last_takes_the_newest_records_first(
    hand: Workspace, runtime: Runtime, spec: Case
) -> None:
    await check(hand, runtime, spec, HAND_STORED, NOW)


@pytest.mark.parametrize(
    ("scope", "last"),
    [("INVOICES", 0), ("INVOICES", 101), ("ORDERS", "3"), ("EVENTS", 2.5), ("EVENTS", True),
     ("WALLETS", 1)],
)  # fmt: skip
async def test_last_out_of_range_or_on_wallets_is_refused(
    hand: Workspace, scope: str, last: object
) -> None:
    result = await preview(hand, {"related": {"scope": scope, "quantifier": "ANY", "last": last}})
    assert [(e["field"][-1], e["code"]) for e in result.errors] == [("last", "INVALID_LAST")]


# ---- generated cases ----------------------------------------------------------------


@settings(
    max_examples=80,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(predicate=predicates(), clock=st.sampled_from(CLOCKS))
async def test_generated_predicates_agree_with_the_reference(
    randomised: Workspace, runtime: Runtime, predicate: dict[str, Any], clock: datetime
) -> None:
    node = parse_predicate(predicate, CATALOG)
    with clock_at(runtime, clock):
        got = await preview_ids(randomised, predicate)
    assert got == members(node, RANDOM_STORED, clock), predicate


# ---- live: tracking moves ACTIVE segments, the sweeper closes windows -----------------

T = datetime.fromisoformat("2026-07-01T12:00:00+00:00")


async def test_the_second_checkout_enters_and_eight_days_later_the_sweeper_lets_go(
    workspace: Workspace, runtime: Runtime
) -> None:
    # given an ACTIVE segment "checkout_started at least twice in the last 7 days"
    with clock_at(runtime, T):
        await customers(workspace, "ada", "bob")
        segment_id = await active_segment(workspace, "checkout twice", TWICE_IN_7_DAYS)
        segment = await read(workspace, segment_id)
        assert segment is not None and segment["timeRelative"] is True

        # when ada starts a checkout, then bob one, then ada a second one
        await track_ok(
            workspace, event("ada", CHECKOUT, occurredAt=(T - timedelta(days=2)).isoformat())
        )
        await track_ok(workspace, event("bob", CHECKOUT), event("bob", "login"))
        assert await logged_events(workspace, segment_id) == []
        await track_ok(workspace, event("ada", CHECKOUT))

        # then ada entered, on the second event
        log = await logged_events(workspace, segment_id)
        assert [(e["kind"], e["customerId"]) for e in log] == [("ENTERED", "ada")]
        # and a refused batch changes nothing
        refused = await track(workspace, event("bob", CHECKOUT), event("nobody", CHECKOUT))
        assert refused["userErrors"]
        assert len(await logged_events(workspace, segment_id)) == 1

    # when eight days pass with no data change and the sweeper runs
    with clock_at(runtime, T + timedelta(days=8)):
        await sweep(runtime)

        # then ada left
        log = await logged_events(workspace, segment_id)
        assert [(e["kind"], e["customerId"]) for e in log] == [("ENTERED", "ada"), ("LEFT", "ada")]
        assert log[-1]["occurredAt"].startswith("2026-07-09")


async def test_last_without_relative_times_is_not_time_relative(
    workspace: Workspace, runtime: Runtime
) -> None:
    predicate = rel("EVENTS", "ALL", CHECKOUT_IS, last=3)
    segment_id = await active_segment(workspace, "last three checkouts", predicate)
    segment = await read(workspace, segment_id)
    assert segment is not None and segment["timeRelative"] is False
