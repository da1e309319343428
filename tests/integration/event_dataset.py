"""Data and predicate strategies for the behavioural predicate tests (EVENTS, `last: N`).

HAND: five customers worked out by hand in the tests' comments. random_customers():
a seeded dataset with ties in time, missing times and event properties of every
JSON type. The hypothesis strategies draw predicates over EVENTS (and `last` on
INVOICES and ORDERS) from the same small pools, so conditions hit and miss often.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from hypothesis import strategies as st

from tests.integration.dataset import NOW
from tests.reference import Record

Json = dict[str, Any]


def ago(days: float = 0, hours: float = 0, seconds: float = 0) -> datetime:
    return NOW - timedelta(days=days, hours=hours, seconds=seconds)


def ev(name: str, when: datetime, id: str | None = None, **properties: Any) -> Record:
    return {"id": id, "name": name, "occurredAt": when, "properties": properties}


FEB1 = datetime.fromisoformat("2026-02-01T00:00:00+00:00")
FEB20 = datetime.fromisoformat("2026-02-20T00:00:00+00:00")
JAN1 = datetime.fromisoformat("2026-01-01T00:00:00+00:00")
CHECKOUT = "checkout_started"


def inv(id: str, status: str, issued: datetime | None) -> Record:
    invoice: Record = {"id": id, "status": status, "total": Decimal("10")}
    if issued is not None:
        invoice["issuedAt"] = issued
    return invoice


def order(id: str, status: str, placed: datetime | None) -> Record:
    record: Record = {"id": id, "status": status, "amount": Decimal("5")}
    if placed is not None:
        record["placedAt"] = placed
    return record


HAND: list[Record] = [
    {
        "id": "ann",
        "events": [
            ev(CHECKOUT, ago(days=1), "a1", cart=5),
            ev(CHECKOUT, ago(days=3), "a2", cart="5"),
            ev("login", ago(hours=1), "a3"),
        ],
        # newest first: i2 (ties i1 on time, higher id), i1, i10, i3 (no time)
        "invoices": [
            inv("i1", "PAID", FEB1),
            inv("i2", "OPEN", FEB1),
            inv("i3", "PAID", None),
            inv("i10", "PAID", JAN1),
        ],
        # newest first: o2 (ties o1), o1, o3 (no time)
        "orders": [
            order("o1", "CANCELED", FEB20),
            order("o2", "PLACED", FEB20),
            order("o3", "FULFILLED", None),
        ],
    },
    {
        "id": "ben",
        "events": [
            ev(CHECKOUT, ago(days=7), "b1", cart=5.0),  # exactly on a now-7d boundary
            ev(CHECKOUT, ago(days=8), "b2", cart=True),
            ev(CHECKOUT, ago(days=6), "b3", cart=None),
        ],
        # "a" sorts after "B" by code point (not by a locale's collation): "a" is newest
        "invoices": [inv("B", "OPEN", FEB1), inv("a", "PAID", FEB1)],
    },
    {
        "id": "cy",
        "events": [
            ev(CHECKOUT, ago(days=2), None, cart=[5]),
            ev(CHECKOUT, ago(days=2), "c1", cart={"v": 5}),
            ev("Checkout_Started", ago(days=1)),
        ],
    },
    {
        "id": "dee",
        # no events; invoices and orders without times: ties broken by id alone
        "invoices": [inv("i2", "OPEN", None), inv("i1", "PAID", None)],
        "orders": [order("o2", "PLACED", None), order("o1", "CANCELED", None)],
    },
    {
        "id": "eve",
        # all at one instant: newest first e-b, e-a, then the one without id
        "events": [
            ev("view", ago(hours=1), "e-b", cart=6),
            ev("view", ago(hours=1), "e-a", cart="6"),
            ev("view", ago(hours=1), None, cart=6.5),
        ],
    },
]

# --- the random dataset -----------------------------------------------------------

EVENT_NAMES = [CHECKOUT, "login", "Checkout_Started", "view"]
EVENT_TIMES = [
    ago(days=8), ago(days=7), ago(days=7, seconds=-1), ago(days=3), ago(days=1), ago(hours=1),
    NOW, NOW + timedelta(days=1),
]  # fmt: skip
PROPERTY_VALUES: list[Any] = ["5", 5, 5.0, 2.5, "a", "A", "", True, False, [5], {"v": 5}, 0, -1]
RECORD_TIMES = [JAN1, FEB1, FEB20, None]
CLOCKS = [NOW, NOW + timedelta(days=1), NOW + timedelta(days=4), NOW + timedelta(days=7)]


def random_customers(seed: int = 7, count: int = 30) -> list[Record]:
    rng = random.Random(seed)
    serial = 0
    customers: list[Record] = []
    for n in range(count):
        events = []
        for _ in range(rng.randrange(6)):
            serial += 1
            properties: dict[str, Any] = {}
            for key in ("k1", "k2"):
                roll = rng.random()
                if roll < 0.6:
                    properties[key] = rng.choice(PROPERTY_VALUES)
                elif roll < 0.7:
                    properties[key] = None  # stored as JSON null: no value
            event_id = None if rng.random() < 0.3 else f"{rng.choice('aBéz')}{serial:03d}"
            when = rng.choice(EVENT_TIMES)
            events.append(ev(rng.choice(EVENT_NAMES), when, event_id, **properties))
        invoice_ids = rng.sample(["i1", "i2", "i10", "I3", "é"], rng.randrange(5))
        order_ids = rng.sample(["o1", "o2", "o10", "O3"], rng.randrange(4))
        customers.append(
            {
                "id": f"r{n:02d}",
                "events": events,
                "invoices": [
                    inv(i, rng.choice(["PAID", "OPEN", "DRAFT"]), rng.choice(RECORD_TIMES))
                    for i in invoice_ids
                ],
                "orders": [
                    order(o, rng.choice(["PLACED", "CANCELED"]), rng.choice(RECORD_TIMES))
                    for o in order_ids
                ],
            }
        )
    return customers


# --- predicate strategies -----------------------------------------------------------

RELATIVE = ["now", "now-1d", "now-3d", "now-7d", "now-1w", "now-168h", "now-8d", "now+1d"]
ABSOLUTE = [ago(days=7).isoformat(), ago(days=1).isoformat(), "2026-02-25"]
STRINGS = ["5", "a", "A", "", "6"]
NUMBERS = [5, 2.5, 0, -1, 5.0, 6]
ORDERED = ["EQ", "NEQ", "GT", "GTE", "LT", "LTE"]
PATTERNS = ["check.*", "[a-z_]+", "(login|view)", "[0-9]", "A|a", ".*"]


def cond(field: str, operator: str, value: Any = None, *, ci: bool = False) -> Json:
    body: Json = {"field": field, "operator": operator}
    if isinstance(value, list):
        body["values"] = value
    elif value is not None:
        body["value"] = value
    if ci:
        body["caseInsensitive"] = True
    return {"condition": body}


@st.composite
def compared(draw: st.DrawFn, field: str, pool: list[Any], text: bool) -> Json:
    operator = draw(st.sampled_from([*ORDERED, "IN", "NOT_IN", "BETWEEN"]))
    ci = text and operator in ("EQ", "NEQ", "IN", "NOT_IN") and draw(st.booleans())
    if operator in ("IN", "NOT_IN"):
        return cond(
            field, operator, draw(st.lists(st.sampled_from(pool), min_size=1, max_size=3)), ci=ci
        )
    if operator == "BETWEEN":
        low, high = draw(st.lists(st.sampled_from(pool), min_size=2, max_size=2))
        return cond(field, operator, [min(low, high), max(low, high)])
    return cond(field, operator, draw(st.sampled_from(pool)), ci=ci)


def _presence(field: str) -> St:
    return st.sampled_from([cond(field, "EXISTS"), cond(field, "NOT_EXISTS")])


St = st.SearchStrategy


def event_property() -> St:
    key = st.sampled_from(["properties.k1", "properties.k2"])
    return st.one_of(
        key.flatmap(lambda f: compared(f, STRINGS, True)),
        key.flatmap(lambda f: compared(f, NUMBERS, False)),
        key.flatmap(
            lambda f: st.sampled_from(
                [cond(f, op, b) for op in ("EQ", "NEQ") for b in (True, False)]
            )
        ),
        key.flatmap(lambda f: st.sampled_from([cond(f, "MATCHES", p) for p in PATTERNS])),
        key.flatmap(_presence),
    )


def occurred_at() -> St:
    single = st.builds(
        lambda op, when: cond("occurredAt", op, when),
        st.sampled_from(ORDERED),
        st.sampled_from(RELATIVE + ABSOLUTE),
    )
    window = st.lists(st.sampled_from(RELATIVE[:-1]), min_size=2, max_size=2).map(
        lambda pair: cond("occurredAt", "BETWEEN", sorted(pair, key=_offset))
    )
    return st.one_of(single, window)


def _offset(relative: str) -> timedelta:
    if relative == "now":
        return timedelta(0)
    amount = int(relative[4:-1]) * (-1 if relative[3] == "-" else 1)
    unit = {"d": timedelta(days=1), "h": timedelta(hours=1), "w": timedelta(weeks=1)}
    return amount * unit[relative[-1]]


def event_condition() -> St:
    name = st.one_of(
        compared("name", EVENT_NAMES, True),
        st.sampled_from(
            [cond("name", "MATCHES", p, ci=ci) for p in PATTERNS for ci in (False, True)]
        ),
    )
    event_id = st.one_of(_presence("id"), compared("id", ["a010", "B020", "z", "é"], True))
    return st.one_of(name, occurred_at(), event_property(), event_id)


def combined(leaf: St) -> St:
    return st.one_of(
        leaf,
        st.lists(leaf, min_size=2, max_size=3).map(lambda xs: {"and": xs}),
        st.lists(leaf, min_size=2, max_size=3).map(lambda xs: {"or": xs}),
        leaf.map(lambda x: {"not": x}),
    )


@st.composite
def related(draw: st.DrawFn, scope: str, where: St, last: St) -> Json:
    body: Json = {"scope": scope, "quantifier": draw(st.sampled_from(["ANY", "ALL", "COUNT"]))}
    if draw(st.booleans()):
        body["where"] = draw(where)
    if body["quantifier"] == "COUNT":
        body["count"] = {
            "operator": draw(st.sampled_from(ORDERED)),
            "value": draw(st.integers(0, 3)),
        }
    chosen = draw(last)
    if chosen is not None:
        body["last"] = chosen
    return {"related": body}


def invoice_condition() -> St:
    return st.one_of(
        st.sampled_from(
            [cond("status", op, s) for op in ("EQ", "NEQ") for s in ("PAID", "OPEN", "DRAFT")]
            + [cond("status", "IN", ["PAID", "OPEN"]), cond("status", "NOT_IN", ["PAID"])]
        ),
        _presence("issuedAt"),
        compared("id", ["i1", "i2", "i10", "I3", "é"], True),
    )


def order_condition() -> St:
    return st.one_of(
        st.sampled_from([cond("status", "EQ", s) for s in ("PLACED", "CANCELED")]),
        _presence("placedAt"),
        compared("id", ["o1", "o2", "o10", "O3"], True),
    )


def predicates() -> St:
    """A related node over EVENTS (often with `last`), INVOICES or ORDERS (with `last`)."""
    maybe_last = st.one_of(st.none(), st.integers(1, 4))
    events = related("EVENTS", combined(event_condition()), maybe_last)
    invoices = related("INVOICES", combined(invoice_condition()), st.integers(1, 5))
    orders = related("ORDERS", combined(order_condition()), st.integers(1, 4))
    node = st.one_of(events, events, invoices, orders)
    return st.one_of(
        node,
        node.map(lambda x: {"not": x}),
        st.lists(node, min_size=2, max_size=2).map(lambda xs: {"and": xs}),
        st.lists(node, min_size=2, max_size=2).map(lambda xs: {"or": xs}),
    )
