"""Hypothesis strategies: small random customer datasets, and predicates valid against them.

Both draw from the same small pools of values, so conditions hit and miss
often, ties in time are common, and every field is sometimes missing. The
predicates are built in their JSON form, as a client would send them, and
cover every field of the catalog (customer fields, declared properties, each
scope's fields, untyped event properties), every operator a type allows,
caseInsensitive, nested and/or/not, and related nodes with where/count/last.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from hypothesis import strategies as st

from tests.integration.dataset import NOW
from tests.reference import Record

Json = dict[str, Any]
St = st.SearchStrategy

# --- value pools ----------------------------------------------------------------

TEXTS = ["", "a", "A", "ab", "aB", "b", "é", "É", "éa", "x y", "Z", "a\nb", "a1"]
DAY_OFFSETS = [-40, -10, -3, -1, 0, 2]
TIMES = [NOW + timedelta(days=d) for d in DAY_OFFSETS]
RECORD_TIMES = TIMES[1:4]  # few values: ties in time are common
RELATIVE = ["now", "now-1d", "now-3d", "now+2d", "now-10d", "now-72h", "now-1w", "now-40d"]
ABSOLUTE = [t.isoformat() for t in TIMES] + [
    (TIMES[2] + timedelta(hours=1)).isoformat().replace("+00:00", "+01:00"),
    TIMES[3].date().isoformat(),
]
NUMBERS = [-5, -1, 0, 0.5, 2, 2.0, 9.99, 10, 10.5, 50.25]
IDS = [*(f"{prefix}{n}" for n in range(8) for prefix in ("a", "B", "é")), "c0", "d9"]
PATTERNS = [
    ".*", "a.*", "[a-c]+", "(a|b)*", "\\w+", "\\w*é", "[^a]*", "A.?", "x\\sy", ".",
    "[A-Z]{1,2}", "é|É", "\\d*", "a\\d", "[\\wé]+", ".*\\s.*", "[ab\\-]+",
]  # fmt: skip
ENUMS = {
    "paymentMethodType": ["CARD", "DIRECT_DEBIT", "BANK_TRANSFER", "WALLET", "OTHER"],
    "properties.tier": ["GOLD", "SILVER", "BRONZE"],
    "SUBSCRIPTIONS.status": ["TRIALING", "ACTIVE", "PAST_DUE", "PAUSED", "CANCELED"],
    "INVOICES.status": ["DRAFT", "OPEN", "PAID", "VOID", "UNCOLLECTIBLE"],
    "ORDERS.status": ["PLACED", "FULFILLED", "CANCELED", "REFUNDED"],
    "VERIFICATIONS.kind": ["EMAIL", "PHONE", "IDENTITY", "TAX_ID"],
    "VERIFICATIONS.status": ["PENDING", "VERIFIED", "REJECTED"],
}
CODES = {"country": ["FR", "DE", "US"], "currency": ["EUR", "USD"], "language": ["fr", "en"]}
EVENT_NAMES = ["view", "buy", "", "Buy"]
EVENT_VALUES: list[Any] = [None, "a", "A", "", "1", 1, 2.5, 0, True, False, [1], {"x": 1}]

# --- fields, by the spec's tables -------------------------------------------------

S, N, B, D, E = "STRING", "NUMBER", "BOOLEAN", "DATETIME", "ENUM"
CUSTOMER_FIELDS = {
    "id": S, "externalId": S, "email": S, "name": S, "city": S, "source": S,
    "invoicingEntity": S, "country": S, "currency": S, "language": S,
    "paymentMethodType": E, "taxId": S, "parentId": S, "hasParent": B, "hasChild": B,
    "createdAt": D, "updatedAt": D, "ordersCount": N, "totalSpent": N, "lastOrderAt": D,
    "firstOrderAt": D, "properties.plan": S, "properties.tier": E, "properties.score": N,
    "properties.vip": B, "properties.renewal": D,
}  # fmt: skip
SCOPE_FIELDS = {
    "SUBSCRIPTIONS": {
        "id": S, "status": E, "planId": S, "amount": N, "currency": S, "startedAt": D,
        "trialEndsAt": D, "currentPeriodEndsAt": D, "canceledAt": D,
    },
    "INVOICES": {
        "id": S, "status": E, "total": N, "currency": S, "issuedAt": D, "dueAt": D, "paidAt": D,
    },
    "ORDERS": {"id": S, "status": E, "amount": N, "currency": S, "placedAt": D},
    "WALLETS": {"id": S, "currency": S, "balance": N},
    "VERIFICATIONS": {"id": S, "kind": E, "status": E, "verifiedAt": D},
    "EVENTS": {"id": S, "name": S, "occurredAt": D, "properties.k1": None, "properties.k2": None},
}  # fmt: skip
OPERATORS = {
    S: ["EQ", "NEQ", "IN", "NOT_IN", "GT", "GTE", "LT", "LTE", "BETWEEN", "EXISTS",
        "NOT_EXISTS", "MATCHES"],
    N: ["EQ", "NEQ", "IN", "NOT_IN", "GT", "GTE", "LT", "LTE", "BETWEEN", "EXISTS", "NOT_EXISTS"],
    D: ["EQ", "NEQ", "GT", "GTE", "LT", "LTE", "BETWEEN", "EXISTS", "NOT_EXISTS"],
    B: ["EQ", "NEQ", "EXISTS", "NOT_EXISTS"],
    E: ["EQ", "NEQ", "IN", "NOT_IN", "EXISTS", "NOT_EXISTS"],
}  # fmt: skip
CASE_INSENSITIVE = {"EQ", "NEQ", "IN", "NOT_IN", "MATCHES"}

# --- predicates ---------------------------------------------------------------------


def _string_pool(key: str) -> list[str]:
    """Operands for a string field; `key` is `field` or `SCOPE.field`."""
    name = key.split(".")[-1]
    if name in CODES:
        return CODES[name]
    if key == "EVENTS.name":
        return EVENT_NAMES
    if name in ("id", "parentId"):
        return [*IDS[:6], "ghost", "r0", "r1", "R2", "a0-ev0", "a0-ev1", "B0-ev0"]
    return TEXTS


def _resolved(value: str) -> datetime:
    """A datetime operand's instant at NOW, to put BETWEEN's bounds in order."""
    if value.startswith("now"):
        amount = 0 if value == "now" else int(value[4:-1]) * (-1 if value[3] == "-" else 1)
        unit = {"d": timedelta(days=1), "h": timedelta(hours=1), "w": timedelta(weeks=1)}
        return NOW + amount * unit.get(value[-1], timedelta(0))
    moment = datetime.fromisoformat(value)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@st.composite
def condition(draw: st.DrawFn, field: str, kind: str | None, key: str) -> Json:
    """A valid condition on `field`; `kind` None is an untyped event property."""
    if kind is None:
        kind = draw(st.sampled_from([S, N, B]))
    operator = draw(st.sampled_from(OPERATORS[kind]))
    body: Json = {"field": field, "operator": operator}
    if operator in ("EXISTS", "NOT_EXISTS"):
        return {"condition": body}
    if operator == "MATCHES":
        body["value"] = draw(st.sampled_from(PATTERNS))
    else:
        pool: list[Any] = {
            S: _string_pool(key),
            N: NUMBERS,
            B: [True, False],
            D: ABSOLUTE + RELATIVE,
            E: ENUMS.get(key, []),
        }[kind]
        if operator == "BETWEEN":
            pair = draw(st.lists(st.sampled_from(pool), min_size=2, max_size=2))
            body["values"] = sorted(pair, key=_resolved) if kind == D else sorted(pair)
        elif operator in ("IN", "NOT_IN"):
            body["values"] = draw(st.lists(st.sampled_from(pool), min_size=1, max_size=3))
        else:
            body["value"] = draw(st.sampled_from(pool))
    if kind in (S, E) and operator in CASE_INSENSITIVE and draw(st.booleans()):
        body["caseInsensitive"] = True
        if kind == E:
            recase = draw(st.sampled_from([str.lower, str.title, str.upper]))
            for name in ("value", "values"):
                if name in body:
                    value = body[name]
                    body[name] = [recase(v) for v in value] if name == "values" else recase(value)
    return {"condition": body}


def customer_conditions() -> St[Json]:
    return st.sampled_from(sorted(CUSTOMER_FIELDS)).flatmap(
        lambda f: condition(f, CUSTOMER_FIELDS[f], f)
    )


def scope_conditions(scope: str) -> St[Json]:
    fields = SCOPE_FIELDS[scope]
    return st.sampled_from(sorted(fields)).flatmap(
        lambda f: condition(f, fields[f], f"{scope}.{f}")
    )


def trees(leaves: St[Json], max_leaves: int) -> St[Json]:
    return st.recursive(
        leaves,
        lambda inner: (
            st.lists(inner, min_size=1, max_size=3).map(lambda xs: {"and": xs})
            | st.lists(inner, min_size=1, max_size=3).map(lambda xs: {"or": xs})
            | inner.map(lambda x: {"not": x})
        ),
        max_leaves=max_leaves,
    )


@st.composite
def related(draw: st.DrawFn) -> Json:
    scope = draw(st.sampled_from(sorted(SCOPE_FIELDS)))
    quantifier = draw(st.sampled_from(["ANY", "ALL", "COUNT"]))
    body: Json = {"scope": scope, "quantifier": quantifier}
    if draw(st.integers(0, 3)):
        body["where"] = draw(trees(scope_conditions(scope), max_leaves=3))
    if quantifier == "COUNT":
        operator = draw(st.sampled_from(["EQ", "NEQ", "GT", "GTE", "LT", "LTE", "BETWEEN"]))
        if operator == "BETWEEN":
            body["count"] = {
                "operator": operator,
                "values": sorted(draw(st.lists(st.integers(0, 3), min_size=2, max_size=2))),
            }
        else:
            body["count"] = {"operator": operator, "value": draw(st.integers(0, 3))}
    if scope != "WALLETS" and draw(st.booleans()):
        body["last"] = draw(st.integers(1, 4))
    return {"related": body}


def predicates() -> St[Json]:
    return trees(customer_conditions() | related(), max_leaves=5)


# --- datasets -----------------------------------------------------------------------


def _maybe(pool: list[Any]) -> St[Any]:
    return st.sampled_from([None, *pool])


def _records(fields: dict[str, St[Any]], prefix: str) -> St[list[Record]]:
    record = st.fixed_dictionaries({}, optional=fields)
    return st.lists(record, max_size=4).map(
        lambda rs: [{"id": f"{prefix}{i}", **r} for i, r in enumerate(rs)]
    )


def _money(pool: list[Any]) -> St[Any]:
    return _maybe([Decimal(str(v)) for v in pool])


@st.composite
def customer(draw: st.DrawFn, customer_id: str, others: list[str]) -> Record:
    times = _maybe(RECORD_TIMES)
    fields: dict[str, St[Any]] = {
        **{name: _maybe(TEXTS) for name in (
            "externalId", "email", "name", "city", "source", "invoicingEntity", "taxId")},
        **{name: _maybe(pool) for name, pool in CODES.items()},
        "paymentMethodType": _maybe(ENUMS["paymentMethodType"]),
        "parentId": _maybe([*others, "ghost"]),
        "createdAt": st.sampled_from(TIMES),
        "properties": st.fixed_dictionaries({}, optional={
            "plan": st.sampled_from(TEXTS), "tier": st.sampled_from(ENUMS["properties.tier"]),
            "score": st.sampled_from(NUMBERS), "vip": st.booleans(),
            "renewal": st.sampled_from(ABSOLUTE),
        }),
        "subscriptions": _records({
            "status": _maybe(ENUMS["SUBSCRIPTIONS.status"]), "planId": _maybe(["p1", "p2", ""]),
            "amount": _money([0, 5, 9.99]), "currency": _maybe(CODES["currency"]),
            "startedAt": times, "trialEndsAt": _maybe(TIMES), "canceledAt": _maybe(TIMES),
            "currentPeriodEndsAt": _maybe(TIMES),
        }, "r"),
        "invoices": _records({
            "status": _maybe(ENUMS["INVOICES.status"]), "total": _money([0, 10, 50.25]),
            "currency": _maybe(CODES["currency"]), "issuedAt": times, "dueAt": _maybe(TIMES),
            "paidAt": _maybe(TIMES),
        }, "r"),
        "orders": _records({
            "status": _maybe(ENUMS["ORDERS.status"]), "amount": _money([0, 2, 10.5]),
            "currency": _maybe(CODES["currency"]), "placedAt": times,
        }, "R"),
        "wallets": _records({"currency": _maybe(CODES["currency"]),
                             "balance": _money([-5, 0, 10.5])}, "r"),
        "verifications": _records({
            "kind": _maybe(ENUMS["VERIFICATIONS.kind"]),
            "status": _maybe(ENUMS["VERIFICATIONS.status"]), "verifiedAt": times,
        }, "r"),
    }  # fmt: skip
    body: Record = {"id": customer_id, **draw(st.fixed_dictionaries({}, optional=fields))}
    events = draw(st.lists(st.fixed_dictionaries({
        "named": st.booleans(),
        "name": st.sampled_from(EVENT_NAMES),
        "occurredAt": st.sampled_from(RECORD_TIMES),
        "properties": st.fixed_dictionaries({}, optional={
            "k1": st.sampled_from(EVENT_VALUES), "k2": st.sampled_from(EVENT_VALUES)}),
    }), max_size=4))  # fmt: skip
    body["events"] = [
        {"id": f"{customer_id}-ev{i}" if e.pop("named") else None, **e}
        for i, e in enumerate(events)
    ]
    return body


@st.composite
def datasets(draw: st.DrawFn, min_size: int = 5, max_size: int = 25) -> list[Record]:
    ids = draw(st.lists(st.sampled_from(IDS), min_size=min_size, max_size=max_size, unique=True))
    return [draw(customer(cid, [other for other in ids if other != cid])) for cid in ids]
