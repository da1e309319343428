"""What a customer write changed, told as a domain Footprint (see domain.footprint).

The writer holds the customer rows it read (locked, in its own transaction),
so comparing them with what it writes is exact: a value the write leaves as it
was is no change, and no ACTIVE segment reading only that value is evaluated.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from domain.fields import CUSTOM_PROPERTY_PREFIX
from domain.footprint import EVERYTHING, NOTHING, Footprint, changed_fields
from domain.predicate import Scope
from persistence.field_map import CUSTOMER_STORED_FIELDS, snake

FIELD_OF_COLUMN = {snake(name): name for name in CUSTOMER_STORED_FIELDS}
ACTIVITY_COLUMNS = ("orders_count", "total_spent", "first_order_at", "last_order_at")
"""Derived from the orders (CustomerRepository.refresh_activity)."""

HAS_CHILD = changed_fields("hasChild")


def same(old: Any, new: Any) -> bool:
    """Equal and of one type: JSON `1` and `true` are equal in Python, not to a predicate."""
    return type(old) is type(new) and old == new


def row_changes(old: Mapping[str, Any] | None, new: Mapping[str, Any]) -> Footprint:
    """The customer fields and custom properties whose stored values `new` changes.

    `old` None is a new customer: its membership of every segment is undecided.
    """
    if old is None:
        return EVERYTHING
    fields = {
        FIELD_OF_COLUMN[column]
        for column, value in new.items()
        if column in FIELD_OF_COLUMN and not same(old.get(column), value)
    }
    before = old.get("properties") or {}
    after = new.get("properties") or {}
    fields |= {
        CUSTOM_PROPERTY_PREFIX + key
        for key in before.keys() | after.keys()
        if key not in before or key not in after or not same(before[key], after[key])
    }
    return changed_fields(*fields)


def activity_changes(old: Mapping[str, Any], new: Mapping[str, Any]) -> Footprint:
    """The order activity fields whose recomputed values differ from the stored ones."""
    fields = [FIELD_OF_COLUMN[c] for c in ACTIVITY_COLUMNS if not same(old.get(c), new[c])]
    return changed_fields(*fields) if fields else NOTHING


def scope_changed(scope_table: str) -> Footprint:
    """A record of the scope (`orders`) was added or changed."""
    return Footprint(scopes=frozenset({Scope(scope_table.upper())}))


def add(changes: dict[int, Footprint], pk: int, change: Footprint) -> None:
    changes[pk] = changes.get(pk, NOTHING) | change


def moved_parents(
    rows: Sequence[Mapping[str, Any]], existing: Mapping[str, Mapping[str, Any]]
) -> set[str]:
    """The ids of the parents whose set of children `rows` changes (hasChild may move)."""
    moved: set[str] = set()
    for row in rows:
        before = existing.get(row["id"], {}).get("parent_id")
        if before != row["parent_id"] or row["id"] not in existing:
            moved |= {before, row["parent_id"]} - {None}
    return moved
