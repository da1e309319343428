"""Reading a parsed tree: columns, references, time-relativity, canonical JSON."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from domain.fields import FieldCatalog
from domain.predicate import (
    And,
    Condition,
    Not,
    Operator,
    Quantifier,
    Related,
    RelativeTime,
    Scope,
    SegmentRef,
    field_paths,
    is_time_relative,
    referenced_segments,
    relative_text,
    to_json,
    value_to_json,
    walk,
)
from domain.predicate_parser import parse_predicate

CATALOG = FieldCatalog.for_workspace([])


def cond(field: str, operator: str, **operand: object) -> dict[str, object]:
    return {"condition": {"field": field, "operator": operator, **operand}}


TREE = parse_predicate(
    {
        "or": [
            {"and": [cond("country", "EQ", value="FR"), cond("email", "EXISTS")]},
            {"not": cond("country", "IN", values=["DE"])},
            {
                "related": {
                    "scope": "INVOICES",
                    "quantifier": "ANY",
                    "where": cond("paidAt", "GT", value="now-7d"),
                }
            },
            {"segment": "seg_b"},
            {
                "and": [
                    {"segment": "seg_a"},
                    {"segment": "seg_b"},
                    cond("ordersCount", "GT", value=1),
                ]
            },
        ]
    },
    CATALOG,
)


def test_field_paths_lists_customer_columns_first_seen_first() -> None:
    # a related node contributes its lowercased scope, not the fields of its where
    assert field_paths(TREE) == ["country", "email", "invoices", "ordersCount"]


def test_referenced_segments_are_collected_everywhere() -> None:
    assert referenced_segments(TREE) == {"seg_a", "seg_b"}
    assert referenced_segments(Condition("email", Operator.EXISTS)) == set()


def test_time_relative_looks_inside_where_subtrees() -> None:
    assert is_time_relative(TREE)
    absolute = parse_predicate(cond("createdAt", "GT", value="2026-01-01"), CATALOG)
    assert not is_time_relative(absolute)
    nested = parse_predicate(
        {"not": {"related": {"scope": "EVENTS", "quantifier": "ANY",
                             "where": cond("occurredAt", "BETWEEN",
                                           values=["2026-01-01", "now"])}}},
        CATALOG,
    )  # fmt: skip
    assert is_time_relative(nested)


def test_walk_visits_every_node_in_document_order() -> None:
    where = Condition("status", Operator.EXISTS)
    tree = And((Not(SegmentRef("s")), Related(Scope.ORDERS, Quantifier.ANY, where=where)))
    assert list(walk(tree)) == [
        tree,
        tree.children[0],
        SegmentRef("s"),
        tree.children[1],
        where,
    ]


@pytest.mark.parametrize(
    ("offset", "text"),
    [
        (timedelta(0), "now"),
        (timedelta(days=-30), "now-30d"),
        (timedelta(weeks=2), "now+2w"),
        (timedelta(hours=-36), "now-36h"),
        (timedelta(minutes=90), "now+90m"),
    ],
)
def test_relative_times_built_without_text_get_the_largest_whole_unit(
    offset: timedelta, text: str
) -> None:
    assert relative_text(RelativeTime(offset)) == text


def test_relative_times_keep_the_unit_the_user_wrote() -> None:
    assert relative_text(RelativeTime(timedelta(days=-14), "now-2w")) == "now-2w"
    assert relative_text(RelativeTime(timedelta(days=-14), "now-336h")) == "now-336h"
    assert RelativeTime(timedelta(days=-14), "now-2w") == RelativeTime(timedelta(days=-14), "x")


@pytest.mark.parametrize(
    ("value", "json_value"),
    [
        (Decimal(3), 3),
        (Decimal("3.0"), 3),
        (Decimal("2.5"), 2.5),
        (Decimal("-0.1"), -0.1),
        ("x", "x"),
        (True, True),
        (datetime(2026, 1, 31, tzinfo=UTC), "2026-01-31T00:00:00Z"),
        (RelativeTime(timedelta(days=-1), "now-1d"), "now-1d"),
    ],
)
def test_operands_have_a_canonical_json_form(value: object, json_value: object) -> None:
    converted = value_to_json(value)  # type: ignore[arg-type]
    assert converted == json_value
    assert type(converted) is type(json_value)


def test_to_json_writes_the_canonical_form() -> None:
    # given a predicate written with shorthand forms
    raw = {
        "and": [
            cond("createdAt", "BETWEEN", values=["2026-01-31", "2026-02-01T01:00:00+01:00"]),
            cond("ordersCount", "IN", values=[1.0, 2]),
            cond("email", "EQ", value="a", caseInsensitive=False, values=None),
            cond("name", "MATCHES", value="a.*", caseInsensitive=True),
            {"related": {"scope": "ORDERS", "quantifier": "COUNT", "last": 5, "where": None,
                         "count": {"operator": "BETWEEN", "values": [1, 2]}}},
        ]
    }  # fmt: skip
    # when parsed and written back
    canonical = to_json(parse_predicate(raw, CATALOG))
    # then defaults are left out and values normalised
    assert canonical == {
        "and": [
            cond("createdAt", "BETWEEN", values=["2026-01-31T00:00:00Z", "2026-02-01T00:00:00Z"]),
            cond("ordersCount", "IN", values=[1, 2]),
            cond("email", "EQ", value="a"),
            cond("name", "MATCHES", value="a.*", caseInsensitive=True),
            {"related": {"scope": "ORDERS", "quantifier": "COUNT", "last": 5,
                         "count": {"operator": "BETWEEN", "values": [1, 2]}}},
        ]
    }  # fmt: skip
