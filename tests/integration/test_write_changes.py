"""What a customer write changed, from the locked row and the row written (persistence.changes).

Pure functions, no database: the API tests show the same through real writes.
"""

from __future__ import annotations

from decimal import Decimal

from domain.footprint import EVERYTHING, NOTHING, changed_fields
from persistence.changes import activity_changes, moved_parents, row_changes

OLD = {"id": "c1", "country": "FR", "city": None, "parent_id": None, "properties": {"seats": 3}}


def test_a_new_customer_changes_everything() -> None:
    assert row_changes(None, OLD) == EVERYTHING


def test_only_values_that_differ_are_changes() -> None:
    # the same values again: nothing; a field and a property changed: those
    assert row_changes(OLD, dict(OLD)) == NOTHING
    new = {**OLD, "city": "Lyon", "properties": {"seats": 4, "beta": True}}
    assert row_changes(OLD, new) == changed_fields("city", "properties.seats", "properties.beta")
    # a property removed is a change of it
    assert row_changes(OLD, {**OLD, "properties": {}}) == changed_fields("properties.seats")


def test_equal_values_of_another_type_are_a_change() -> None:
    # JSON 1 and true are equal in Python, not to a predicate
    assert row_changes({**OLD, "properties": {"x": 1}}, {**OLD, "properties": {"x": True}}) == (
        changed_fields("properties.x")
    )


def test_activity_fields_change_only_when_recomputed_values_differ() -> None:
    before = {"orders_count": 2, "total_spent": Decimal("20"), "first_order_at": None,
              "last_order_at": None}  # fmt: skip
    assert activity_changes(before, {**before, "total_spent": Decimal("20.00")}) == NOTHING
    moved = {**before, "orders_count": 3, "total_spent": Decimal("30")}
    assert activity_changes(before, moved) == changed_fields("ordersCount", "totalSpent")


def test_parents_whose_children_moved() -> None:
    existing = {"a": {"id": "a", "parent_id": "p1"}, "b": {"id": "b", "parent_id": "p1"}}
    rows = [
        {"id": "a", "parent_id": "p2"},  # moved from p1 to p2
        {"id": "b", "parent_id": "p1"},  # unchanged
        {"id": "n", "parent_id": "p3"},  # new under p3
        {"id": "m", "parent_id": None},  # new, no parent
    ]
    assert moved_parents(rows, existing) == {"p1", "p2", "p3"}
