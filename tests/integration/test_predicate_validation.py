"""Every validation refusal reachable through segmentPreview comes back as data.

Each invalid predicate gives userErrors with the code and the path of the
offending part (an index sits on its key: `and[2]`), no members and no
counts, and no statement that reads the `customer` table is ever run for it:
nothing invalid reaches SQL. SEGMENT_REFERENCE_CYCLE is not reachable here,
since an unsaved predicate cannot be part of a cycle.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import event

from api.runtime import Runtime
from tests.integration.conftest import Loaded
from tests.integration.dataset import preview
from tests.integration.predicate_json import all_of, any_of, cond, negate, rel

FR = cond("country", "EQ", "FR")
P = "predicate"
C = (P, "condition")
R = (P, "related")


def _deep(levels: int) -> dict[str, Any]:
    node = FR
    for _ in range(levels):
        node = negate(node)
    return node


CASES: list[tuple[str, Any, str, tuple[str, ...]]] = [
    ("not an object", "country = FR", "UNKNOWN_NODE", (P,)),
    ("two keys", {**FR, **negate(FR)}, "UNKNOWN_NODE", (P,)),
    ("unknown node in and", all_of(FR, {"nope": 1}), "UNKNOWN_NODE", (P, "and[1]")),
    (
        "related inside where",
        rel("ORDERS", "ANY", rel("ORDERS", "ANY")),
        "UNKNOWN_NODE",
        (*R, "where"),
    ),
    (
        "segment inside where",
        rel("ORDERS", "ANY", {"segment": "seg_1"}),
        "UNKNOWN_NODE",
        (*R, "where"),
    ),
    ("and not a list", {"and": FR}, "INVALID", (P, "and")),
    (
        "unknown condition key",
        {"condition": {**FR["condition"], "extra": 1}},
        "INVALID",
        (*C, "extra"),
    ),
    (
        "caseInsensitive not a boolean",
        {"condition": {**FR["condition"], "caseInsensitive": "y"}},
        "INVALID",
        (*C, "caseInsensitive"),
    ),
    ("count with ANY", rel("ORDERS", "ANY", count=("GTE", 1)), "INVALID", (*R, "count")),
    ("empty segment id", {"segment": ""}, "INVALID", (P, "segment")),
    ("NUL in a value", cond("city", "EQ", "a\u0000b"), "INVALID", (*C, "value")),
    ("condition without field", {"condition": {"operator": "EXISTS"}}, "REQUIRED", (*C, "field")),
    ("condition without operator", {"condition": {"field": "city"}}, "REQUIRED", (*C, "operator")),
    (
        "related without quantifier",
        {"related": {"scope": "ORDERS"}},
        "REQUIRED",
        (*R, "quantifier"),
    ),
    ("COUNT without count", rel("ORDERS", "COUNT"), "REQUIRED", (*R, "count")),
    ("undeclared property", cond("properties.nope", "EXISTS"), "UNKNOWN_FIELD", (*C, "field")),
    ("unknown customer field", cond("planet", "EXISTS"), "UNKNOWN_FIELD", (*C, "field")),
    (
        "field of another scope",
        rel("ORDERS", "ANY", cond("total", "GT", 1)),
        "UNKNOWN_FIELD",
        (*R, "where", "condition", "field"),
    ),
    (
        "customer field in a scope",
        rel("WALLETS", "ANY", cond("country", "EXISTS")),
        "UNKNOWN_FIELD",
        (*R, "where", "condition", "field"),
    ),
    ("unknown scope", rel("PAYMENTS", "ANY"), "UNKNOWN_SCOPE", (*R, "scope")),
    ("unknown operator", cond("city", "LIKE", "P%"), "UNKNOWN_OPERATOR", (*C, "operator")),
    (
        "MATCHES on a number",
        cond("ordersCount", "MATCHES", "1"),
        "OPERATOR_NOT_ALLOWED",
        (*C, "operator"),
    ),
    ("GT on a boolean", cond("hasChild", "GT", True), "OPERATOR_NOT_ALLOWED", (*C, "operator")),
    (
        "GT on an enum",
        cond("paymentMethodType", "GT", "CARD"),
        "OPERATOR_NOT_ALLOWED",
        (*C, "operator"),
    ),
    (
        "caseInsensitive on a number",
        cond("ordersCount", "EQ", 1, ci=True),
        "OPERATOR_NOT_ALLOWED",
        (*C, "caseInsensitive"),
    ),
    (
        "caseInsensitive on GT",
        cond("city", "GT", "a", ci=True),
        "OPERATOR_NOT_ALLOWED",
        (*C, "caseInsensitive"),
    ),
    (
        "count operator IN",
        rel("ORDERS", "COUNT", count=("IN", [1])),
        "OPERATOR_NOT_ALLOWED",
        (*R, "count", "operator"),
    ),
    (
        "MATCHES on a boolean event property",
        rel("EVENTS", "ANY", cond("properties.ok", "GT", True)),
        "OPERATOR_NOT_ALLOWED",
        (*R, "where", "condition", "operator"),
    ),
    (
        "EQ without value",
        {"condition": {"field": "city", "operator": "EQ"}},
        "VALUE_COUNT",
        (*C, "value"),
    ),
    (
        "IN given value besides values",
        {"condition": {"field": "city", "operator": "IN", "value": "P", "values": ["P"]}},
        "VALUE_COUNT",
        (*C, "value"),
    ),
    ("empty or", {"or": []}, "VALUE_COUNT", (P, "or")),
    ("empty values", cond("city", "IN", []), "VALUE_COUNT", (*C, "values")),
    (
        "BETWEEN three values",
        cond("ordersCount", "BETWEEN", [1, 2, 3]),
        "VALUE_COUNT",
        (*C, "values"),
    ),
    ("EXISTS with a value", cond("city", "EXISTS", "x"), "VALUE_COUNT", (*C, "value")),
    ("201 values", cond("city", "IN", [f"c{i}" for i in range(201)]), "TOO_MANY", (*C, "values")),
    ("51 children", all_of(*[FR] * 51), "TOO_MANY", (P, "and")),
    ("201 nodes", all_of(*[_deep(3)] * 50), "TOO_MANY_NODES", (P,)),
    ("11 levels", _deep(10), "TOO_DEEP", (P, *["not"] * 10)),
    ("string for a number", cond("ordersCount", "EQ", "3"), "VALUE_TYPE_MISMATCH", (*C, "value")),
    ("true for a number", cond("totalSpent", "GT", True), "VALUE_TYPE_MISMATCH", (*C, "value")),
    (
        "values not a list",
        {"condition": {"field": "city", "operator": "IN", "values": "P"}},
        "VALUE_TYPE_MISMATCH",
        (*C, "values"),
    ),
    (
        "mixed event operands",
        rel("EVENTS", "ANY", cond("properties.k", "IN", ["a", 1])),
        "VALUE_TYPE_MISMATCH",
        (*R, "where", "condition", "values[1]"),
    ),
    (
        "count not a whole number",
        rel("ORDERS", "COUNT", count=("GTE", 1.5)),
        "VALUE_TYPE_MISMATCH",
        (*R, "count", "value"),
    ),
    (
        "enum value",
        cond("paymentMethodType", "IN", ["CARD", "CASH"]),
        "INVALID_ENUM_VALUE",
        (*C, "values[1]"),
    ),
    (
        "enum property value",
        cond("properties.tier", "EQ", "gold"),
        "INVALID_ENUM_VALUE",
        (*C, "value"),
    ),
    ("datetime", cond("createdAt", "GT", "yesterday"), "INVALID_DATETIME", (*C, "value")),
    (
        "datetime out of range",
        cond("createdAt", "GT", "2026-02-30"),
        "INVALID_DATETIME",
        (*C, "value"),
    ),
    ("relative unit", cond("createdAt", "GT", "now-3y"), "INVALID_RELATIVE_TIME", (*C, "value")),
    (
        "relative amount",
        cond("createdAt", "GT", "now-100001d"),
        "INVALID_RELATIVE_TIME",
        (*C, "value"),
    ),
    ("BETWEEN reversed", cond("ordersCount", "BETWEEN", [5, 1]), "BETWEEN_RANGE", (*C, "values")),
    (
        "BETWEEN reversed relative",
        cond("createdAt", "BETWEEN", ["now", "now-1d"]),
        "BETWEEN_RANGE",
        (*C, "values"),
    ),
    (
        "count BETWEEN reversed",
        rel("ORDERS", "COUNT", count=("BETWEEN", [3, 1])),
        "BETWEEN_RANGE",
        (*R, "count", "values"),
    ),
    ("unclosed group", cond("city", "MATCHES", "(a"), "INVALID_PATTERN", (*C, "value")),
    ("empty pattern", cond("city", "MATCHES", ""), "INVALID_PATTERN", (*C, "value")),
    ("anchor", cond("city", "MATCHES", "^a"), "PATTERN_NOT_ALLOWED", (*C, "value")),
    ("back-reference", cond("city", "MATCHES", "(a)\\1"), "PATTERN_NOT_ALLOWED", (*C, "value")),
    ("look-ahead", cond("city", "MATCHES", "(?=a)a"), "PATTERN_NOT_ALLOWED", (*C, "value")),
    ("long pattern", cond("city", "MATCHES", "a" * 513), "PATTERN_NOT_ALLOWED", (*C, "value")),
    ("quantifier", rel("ORDERS", "SOME"), "INVALID_QUANTIFIER", (*R, "quantifier")),
    ("last 0", rel("ORDERS", "ANY", last=0), "INVALID_LAST", (*R, "last")),
    ("last 101", rel("ORDERS", "ANY", last=101), "INVALID_LAST", (*R, "last")),
    ("last on wallets", rel("WALLETS", "ANY", last=1), "INVALID_LAST", (*R, "last")),
]


@contextmanager
def customer_reads(runtime: Runtime) -> Iterator[list[str]]:
    """Statements run meanwhile that read the customer table (the app runs in this process)."""
    seen: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if re.search(r"\bcustomer\b", statement):
            seen.append(statement)

    engine = runtime.engine.sync_engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


@pytest.mark.parametrize(("predicate", "code", "path"), [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])  # fmt: skip
async def test_invalid_predicate_is_refused_as_data(
    predicate: Any, code: str, path: tuple[str, ...], loaded: Loaded, runtime: Runtime
) -> None:
    with customer_reads(runtime) as reads:
        result = await preview(loaded.ws, predicate)
    assert [(e["code"], tuple(e["field"])) for e in result.errors] == [(code, path)]
    assert result.ids is None
    assert reads == []


async def test_every_problem_is_reported_at_once(loaded: Loaded, runtime: Runtime) -> None:
    predicate = any_of(
        FR,
        all_of(
            cond("planet", "EXISTS"),
            FR,
            cond("createdAt", "GT", "soon"),
        ),
        rel("WALLETS", "COUNT", last=2),
    )
    with customer_reads(runtime) as reads:
        result = await preview(loaded.ws, predicate)
    assert [(e["code"], e["field"]) for e in result.errors] == [
        ("UNKNOWN_FIELD", [P, "or[1]", "and[0]", "condition", "field"]),
        ("INVALID_DATETIME", [P, "or[1]", "and[2]", "condition", "value"]),
        ("INVALID_LAST", [P, "or[2]", "related", "last"]),
        ("REQUIRED", [P, "or[2]", "related", "count"]),
    ]
    assert all(e["message"] for e in result.errors)
    assert reads == []


async def test_unknown_segment_is_refused(loaded: Loaded, runtime: Runtime) -> None:
    with customer_reads(runtime) as reads:
        result = await preview(loaded.ws, all_of(FR, {"segment": "seg_missing"}))
    assert [e["code"] for e in result.errors] == ["UNKNOWN_SEGMENT"]
    # The path is the predicate's root today, not ["predicate", "and[1]", "segment"].
    assert result.errors[0]["field"][0] == P
    assert reads == []


async def test_valid_predicates_do_read_customers(loaded: Loaded, runtime: Runtime) -> None:
    """The listener above does see evaluation, so its silence for invalid input means something."""
    with customer_reads(runtime) as reads:
        result = await preview(loaded.ws, FR)
    assert result.ids is not None
    assert reads != []


LIMITS_ACCEPTED = {
    "200 nodes": all_of(*[_deep(3)] * 49, _deep(2)),
    "10 levels": _deep(9),
    "50 children": any_of(*[FR] * 50),
    "200 values": cond("city", "IN", [f"c{i}" for i in range(200)]),
    "512-character pattern": cond("city", "MATCHES", "a" * 512),
    "last 100": rel("ORDERS", "ANY", last=100),
    "relative amount 100000": cond("createdAt", "GT", "now-100000m"),
}


@pytest.mark.parametrize("predicate", LIMITS_ACCEPTED.values(), ids=LIMITS_ACCEPTED.keys())
async def test_limits_are_inclusive(predicate: Any, loaded: Loaded) -> None:
    result = await preview(loaded.ws, predicate)
    assert result.errors == []
    assert result.ids is not None
