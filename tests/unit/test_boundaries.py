"""boundary(): the description of when a predicate can next flip with the clock alone."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from domain.boundaries import (
    TICK,
    Crossing,
    Earliest,
    Guarded,
    NotBounded,
    OverRecords,
    boundary,
    boundary_key,
)
from domain.custom_property import CustomPropertyDef, PropertyType
from domain.fields import FieldCatalog
from domain.predicate import Node, Not, Scope
from domain.predicate_parser import parse_predicate

CATALOG = FieldCatalog.for_workspace([CustomPropertyDef("renewal", PropertyType.DATETIME)])
DAY = timedelta(days=1)


def node(raw: dict[str, Any]) -> Node:
    return parse_predicate(raw, CATALOG)


def cond(field: str, operator: str, value: Any = None) -> dict[str, Any]:
    key = "values" if isinstance(value, list) else "value"
    body: dict[str, Any] = {"field": field, "operator": operator}
    if value is not None:
        body[key] = value
    return {"condition": body}


def no_refs(segment_id: str) -> Node | None:
    return None


def bound(raw: dict[str, Any]) -> object:
    return boundary(node(raw), no_refs)


@pytest.mark.parametrize(
    ("operator", "value", "shifts"),
    [
        ("GTE", "now-30d", (30 * DAY + TICK,)),  # true through lastOrderAt + 30d, then false
        ("GT", "now-30d", (30 * DAY,)),
        ("LTE", "now-7d", (7 * DAY,)),
        ("LT", "now-7d", (7 * DAY + TICK,)),
        ("GTE", "now+1d", (-DAY + TICK,)),
        ("BETWEEN", ["now-30d", "now-7d"], (7 * DAY, 30 * DAY + TICK)),
        ("BETWEEN", ["2026-01-01", "now"], (timedelta(0),)),  # an absolute end never flips
        ("EQ", "now", (timedelta(0), TICK)),
    ],
)
def test_a_relative_comparison_flips_at_the_field_plus_its_shifts(
    operator: str, value: Any, shifts: tuple[timedelta, ...]
) -> None:
    assert bound(cond("lastOrderAt", operator, value)) == Crossing("lastOrderAt", shifts)


def test_a_predicate_without_relative_times_never_flips() -> None:
    assert bound(cond("lastOrderAt", "GTE", "2026-01-01")) is None
    assert bound({"and": [cond("country", "EQ", "FR"), cond("email", "EXISTS")]}) is None


def test_a_negation_flips_with_its_operand() -> None:
    assert bound({"not": cond("lastOrderAt", "GTE", "now-30d")}) == bound(
        cond("lastOrderAt", "GTE", "now-30d")
    )


def test_and_or_take_the_earliest_child_guarded_by_their_clock_free_operands() -> None:
    recent = cond("lastOrderAt", "GTE", "now-30d")
    created = cond("createdAt", "LT", "now-1d")
    french = cond("country", "EQ", "FR")
    both = Earliest(
        (Crossing("lastOrderAt", (30 * DAY + TICK,)), Crossing("createdAt", (DAY + TICK,)))
    )
    assert bound({"and": [recent, created]}) == both
    assert bound({"and": [french, recent]}) == Guarded(
        node(french), Crossing("lastOrderAt", (30 * DAY + TICK,))
    )
    assert bound({"or": [french, recent]}) == Guarded(
        Not(node(french)), Crossing("lastOrderAt", (30 * DAY + TICK,))
    )


def test_related_nodes_flip_with_any_of_their_records_and_keep_last() -> None:
    window = cond("placedAt", "GTE", "now-7d")
    raw = {"related": {"scope": "ORDERS", "quantifier": "ALL", "last": 2, "where": window}}
    assert bound(raw) == OverRecords(Scope.ORDERS, 2, Crossing("placedAt", (7 * DAY + TICK,)))
    untimed = {
        "related": {"scope": "ORDERS", "quantifier": "ANY", "where": cond("status", "EQ", "PLACED")}
    }
    assert bound(untimed) is None


def test_references_are_read_through() -> None:
    referenced = node(cond("lastOrderAt", "GTE", "now-30d"))
    found = boundary(node({"segment": "seg_1"}), lambda sid: referenced)
    assert found == Crossing("lastOrderAt", (30 * DAY + TICK,))
    assert boundary(node({"segment": "seg_1"}), no_refs) is None  # a stored list


def test_a_datetime_custom_property_against_a_relative_time_falls_back() -> None:
    with pytest.raises(NotBounded):
        bound(cond("properties.renewal", "LTE", "now+5d"))


def test_an_event_property_compares_now_as_text_so_it_never_flips() -> None:
    where = cond("properties.at", "GTE", "now-1d")  # typed by its operand: a string
    assert bound({"related": {"scope": "EVENTS", "quantifier": "ANY", "where": where}}) is None


def test_the_key_names_the_description() -> None:
    a = bound(cond("lastOrderAt", "GTE", "now-30d"))
    b = bound(cond("lastOrderAt", "GTE", "now-31d"))
    assert isinstance(a, Crossing) and isinstance(b, Crossing)
    assert boundary_key(a) == boundary_key(bound(cond("lastOrderAt", "GTE", "now-30d")))  # type: ignore[arg-type]
    assert boundary_key(a) != boundary_key(b)
