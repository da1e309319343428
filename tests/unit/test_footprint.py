"""dependencies(): what a predicate reads; DependencyIndex: which segments a change reaches."""

from __future__ import annotations

from typing import Any

from domain.custom_property import CustomPropertyDef, PropertyType
from domain.fields import FieldCatalog
from domain.footprint import (
    EVERYTHING,
    NOTHING,
    DependencyIndex,
    Footprint,
    changed_fields,
    dependencies,
)
from domain.predicate import Node, Scope
from domain.predicate_parser import parse_predicate

CATALOG = FieldCatalog.for_workspace([CustomPropertyDef("plan", PropertyType.STRING)])


def node(raw: dict[str, Any]) -> Node:
    return parse_predicate(raw, CATALOG)


def cond(field: str, operator: str = "EXISTS", **operand: Any) -> dict[str, Any]:
    return {"condition": {"field": field, "operator": operator, **operand}}


def events(where: dict[str, Any] | None, quantifier: str = "ANY", **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"scope": "EVENTS", "quantifier": quantifier, **extra}
    if where is not None:
        body["where"] = where
    return {"related": body}


def reads(raw: dict[str, Any], segments: dict[str, dict[str, Any] | None] | None = None) -> Any:
    known = {sid: (node(p) if p is not None else None) for sid, p in (segments or {}).items()}
    return dependencies(node(raw), known.get)


def test_customer_fields_and_properties_are_read_by_path() -> None:
    # given conditions on a field, a custom property and a negated field
    found = reads(
        {
            "and": [
                cond("country", "EQ", value="FR"),
                cond("properties.plan", "EQ", value="pro"),
                {"not": cond("taxId")},
            ]
        }
    )
    # then each is a dependency, and nothing else is
    assert found == changed_fields("country", "properties.plan", "taxId")


def test_has_parent_is_read_through_parent_id() -> None:
    assert reads(cond("hasParent", "EQ", value=True)) == changed_fields("parentId")


def test_a_related_scope_is_read_as_a_whole_and_its_where_fields_are_not_customer_fields() -> None:
    found = reads(
        {
            "related": {
                "scope": "INVOICES",
                "quantifier": "ANY",
                "where": cond("status", "EQ", value="OPEN"),
            }
        }
    )
    assert found == Footprint(scopes=frozenset({Scope.INVOICES}))


def test_events_are_read_by_the_names_their_where_allows() -> None:
    checkout = cond("name", "EQ", value="checkout")
    recent = cond("occurredAt", "GTE", value="now-7d")
    either = cond("name", "IN", values=["a", "b"])
    assert reads(events({"and": [checkout, recent]})) == Footprint(
        event_names=frozenset({"checkout"})
    )
    assert reads(
        events(
            {"and": [either, cond("name", "IN", values=["b", "c"])]},
            "COUNT",
            count={"operator": "GTE", "value": 2},
        )
    ) == Footprint(event_names=frozenset({"b"}))
    assert reads(events({"or": [checkout, either]})) == Footprint(
        event_names=frozenset({"a", "b", "checkout"})
    )


def test_events_of_any_name_when_the_name_is_not_pinned_or_the_shape_sees_every_event() -> None:
    checkout = cond("name", "EQ", value="checkout")
    every = Footprint(every_event=True)
    assert reads(events(None)) == every
    assert reads(events(cond("occurredAt", "GTE", value="now-7d"))) == every
    assert reads(events({"or": [checkout, cond("properties.x", "EQ", value=1)]})) == every
    assert reads(events({"not": checkout})) == every
    assert reads(events(cond("name", "NEQ", value="checkout"))) == every
    ci = {"condition": {"field": "name", "operator": "EQ", "value": "x", "caseInsensitive": True}}
    assert reads(events(ci)) == every
    # ALL ranges over every event; `last` narrows by time before the name applies
    assert reads(events(checkout, "ALL")) == every
    assert reads(events(checkout, last=3)) == every


def test_references_propagate_dependencies_transitively_and_a_static_list_reads_nothing() -> None:
    # given a -> b -> c (c reads ORDERS), and a -> s, a STATIC list
    segments = {
        "seg_b": {"and": [cond("city", "EQ", value="Paris"), {"segment": "seg_c"}]},
        "seg_c": {"related": {"scope": "ORDERS", "quantifier": "ANY"}},
        "seg_s": None,
    }
    found = reads({"or": [{"segment": "seg_b"}, {"segment": "seg_s"}]}, segments)
    # then a reads what b and c read
    assert found == Footprint(fields=frozenset({"city"}), scopes=frozenset({Scope.ORDERS}))
    assert reads({"segment": "seg_s"}, segments) == NOTHING


def test_a_change_reaches_exactly_the_segments_reading_it() -> None:
    # given segments reading different things
    index = DependencyIndex(
        {
            1: changed_fields("country"),
            2: changed_fields("country", "email"),
            3: Footprint(scopes=frozenset({Scope.ORDERS})),
            4: Footprint(event_names=frozenset({"checkout"})),
            5: Footprint(every_event=True),
            6: NOTHING,
        }
    )
    # then each change reaches its readers only
    assert index.reached_by(changed_fields("name")) == frozenset()
    assert index.reached_by(NOTHING) == frozenset()
    assert index.reached_by(changed_fields("country")) == {1, 2}
    assert index.reached_by(Footprint(scopes=frozenset({Scope.ORDERS}))) == {3}
    assert index.reached_by(Footprint(event_names=frozenset({"checkout"}))) == {4, 5}
    assert index.reached_by(Footprint(event_names=frozenset({"login"}))) == {5}
    assert index.reached_by(Footprint(every_event=True)) == {4, 5}
    # and a new customer reaches every segment, even one that reads nothing
    assert index.reached_by(EVERYTHING) == {1, 2, 3, 4, 5, 6}


def test_the_index_agrees_with_overlaps() -> None:
    readers = {
        1: changed_fields("country"),
        2: Footprint(event_names=frozenset({"a"})),
        3: Footprint(every_event=True, scopes=frozenset({Scope.WALLETS})),
        4: NOTHING,
    }
    index = DependencyIndex(readers)
    changes = [
        changed_fields("country", "name"),
        Footprint(event_names=frozenset({"a", "b"})),
        Footprint(event_names=frozenset({"b"})),
        Footprint(every_event=True),
        Footprint(scopes=frozenset({Scope.WALLETS})),
        EVERYTHING,
        NOTHING,
    ]
    for change in changes:
        expected = {k for k, footprint in readers.items() if footprint.overlaps(change)}
        assert index.reached_by(change) == expected, change
