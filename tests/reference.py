"""A second, plain-Python reading of PREDICATES.md, to check the SQL compiler against.

Written from the spec (and docs/predicates.md where the spec defers to it),
not from persistence/compiler.py: the point is that two independent readings
of the same page agree on every generated case (STYLE.md: no second
implementation of predicate semantics without a test comparing them).

Data shape. A customer is a dict keyed by the API's camelCase field names
(`id`, `country`, `createdAt`, ...; a missing key or None is "no value"),
with `properties` (the stored custom property values: DATETIME ones as the
text that was sent or stored) and one list of record dicts per scope:
`subscriptions`, `invoices`, `orders`, `wallets`, `verifications`, `events`
(events have `id` (may be None), `name`, `occurredAt`, `properties`).
A record list is in storage order, oldest stored first. Datetimes are aware
`datetime`s, numbers `int`, `float` or `Decimal`. `prepare` adds the derived
fields (hasParent, hasChild, ordersCount, totalSpent, firstOrderAt,
lastOrderAt) from the whole dataset.

Choices where PREDICATES.md is silent, made as a careful user would expect:

* caseInsensitive compares both sides mapped by the Unicode *simple*
  lowercase mapping, character by character (what PostgreSQL's lower()
  does under a UTF-8 ctype): capital dotted I (U+0130) lowers to `i`, and
  capital sigma to the one small sigma wherever it stands. Python's
  str.lower() is the *full* mapping (U+0130 -> `i` + U+0307, final sigma),
  which would make a value differ from itself under caseInsensitive.
* MATCHES follows docs/predicates.md: the whole value must match, `.` also
  matches a newline (PostgreSQL's ARE default), and `\\d`, `\\w`, `\\s` are the
  ASCII classes `[0-9]`, `[A-Za-z0-9_]`, `[ \\t\\n\\r\\f\\v]`, not the locale's
  or Unicode's (so `\\w` does not match `é`). caseInsensitive matching folds
  case per character, as Python's re.IGNORECASE does; test data stays clear
  of the few letters whose folding differs between engines (long s U+017F,
  the Kelvin sign U+212A).
* `last`: newest time first, records without a time last; ties broken by id
  descending by code point; an event without an id (ids are optional there)
  comes after the tied events that have one, and among those the most
  recently stored first, so the N records are always well defined.
* EVENTS `properties.KEY` EXISTS / NOT_EXISTS ask whether the key is present
  and not JSON null, whatever its type (there is no operand to type it by).
* Activity counts every order but CANCELED and REFUNDED ones (an order with
  no status counts; one with no amount adds 0). ordersCount and totalSpent
  always have a value (0 without orders); firstOrderAt / lastOrderAt have
  none when no counted order has a time.
* hasParent is "parentId has a value", even when it names no customer;
  hasChild is "some customer of the same dataset names this one as parent".
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from domain.predicate import (
    And,
    Condition,
    CountComparison,
    Node,
    Not,
    Operator,
    Or,
    Quantifier,
    Related,
    RelativeTime,
    Scope,
)

Record = dict[str, Any]

SCOPE_KEYS = {
    Scope.SUBSCRIPTIONS: "subscriptions",
    Scope.INVOICES: "invoices",
    Scope.ORDERS: "orders",
    Scope.WALLETS: "wallets",
    Scope.VERIFICATIONS: "verifications",
    Scope.EVENTS: "events",
}
TIME_FIELDS = {
    Scope.SUBSCRIPTIONS: "startedAt",
    Scope.INVOICES: "issuedAt",
    Scope.ORDERS: "placedAt",
    Scope.VERIFICATIONS: "verifiedAt",
    Scope.EVENTS: "occurredAt",
}
NOT_COUNTED_ORDER_STATUSES = ("CANCELED", "REFUNDED")
PROPERTIES = "properties."


# --- the dataset ------------------------------------------------------------


def prepare(customers: Iterable[Record]) -> list[Record]:
    """Copies of `customers` with the derived fields PREDICATES.md lists."""
    customers = list(customers)
    parents = {c.get("parentId") for c in customers if c.get("parentId") is not None}
    prepared = []
    for customer in customers:
        counted = [
            order
            for order in customer.get("orders") or []
            if order.get("status") not in NOT_COUNTED_ORDER_STATUSES
        ]
        times = [order["placedAt"] for order in counted if order.get("placedAt") is not None]
        prepared.append(
            {
                **customer,
                "hasParent": customer.get("parentId") is not None,
                "hasChild": customer["id"] in parents,
                "ordersCount": len(counted),
                "totalSpent": sum(
                    (_decimal(order.get("amount") or 0) for order in counted), Decimal(0)
                ),
                "firstOrderAt": min(times, default=None),
                "lastOrderAt": max(times, default=None),
            }
        )
    return prepared


def members(node: Node, customers: Iterable[Record], now: datetime) -> set[str]:
    """Ids of the customers matching `node` at `now`; `customers` as given to `prepare`."""
    return {c["id"] for c in prepare(customers) if matches(node, c, now)}


# --- nodes ------------------------------------------------------------------


def matches(node: Node, customer: Record, now: datetime) -> bool:
    """Whether `node` holds for one prepared customer (or, inside a where, one record)."""
    if isinstance(node, And):
        return all(matches(child, customer, now) for child in node.children)
    if isinstance(node, Or):
        return any(matches(child, customer, now) for child in node.children)
    if isinstance(node, Not):
        return not matches(node.child, customer, now)
    if isinstance(node, Condition):
        return _condition(node, customer, now)
    if isinstance(node, Related):
        return _related(node, customer, now)
    raise NotImplementedError(f"the reference does not evaluate {type(node).__name__}")


def _related(node: Related, customer: Record, now: datetime) -> bool:
    records: list[Record] = list(customer.get(SCOPE_KEYS[node.scope]) or [])
    if node.last is not None:
        records = most_recent(records, TIME_FIELDS[node.scope], node.last)
    hits = sum(1 for r in records if node.where is None or matches(node.where, r, now))
    if node.quantifier is Quantifier.ANY:
        return hits > 0
    if node.quantifier is Quantifier.ALL:
        return len(records) > 0 and hits == len(records)
    assert node.count is not None
    return _count_holds(node.count, hits)


def most_recent(records: Sequence[Record], time_field: str, n: int) -> list[Record]:
    """The `n` most recent records: by time, then id, then storage order, newest first."""

    def newer_first(a: tuple[int, Record], b: tuple[int, Record]) -> int:
        for key in (time_field, "id"):
            x, y = a[1].get(key), b[1].get(key)
            if x is None or y is None:
                if (x is None) != (y is None):
                    return 1 if x is None else -1
                continue
            if x != y:
                return -1 if x > y else 1
        return b[0] - a[0]

    ordered = sorted(enumerate(records), key=functools.cmp_to_key(newer_first))
    return [record for _, record in ordered[:n]]


def _count_holds(count: CountComparison, hits: int) -> bool:
    return _compare(count.operator, hits, list(count.values))


# --- conditions ---------------------------------------------------------------


def _condition(cond: Condition, record: Record, now: datetime) -> bool:
    raw = _raw_value(record, cond.field)
    if cond.operator is Operator.EXISTS:
        return raw is not None
    if cond.operator is Operator.NOT_EXISTS:
        return raw is None
    if cond.operator is Operator.MATCHES:
        pattern = cond.values[0]
        assert isinstance(pattern, str)
        return isinstance(raw, str) and _full_match(pattern, raw, cond.case_insensitive)
    operands = [_operand(value, now) for value in cond.values]
    value = _typed(raw, operands[0])
    if value is None:  # no value, or a value of another type: every comparison is false
        return False
    if cond.case_insensitive:
        value = simple_lower(value)
        operands = [simple_lower(o) for o in operands]
    return _compare(cond.operator, value, operands)


def _raw_value(record: Record, path: str) -> Any:
    if path.startswith(PROPERTIES):
        return (record.get("properties") or {}).get(path[len(PROPERTIES) :])
    return record.get(path)


def _operand(value: object, now: datetime) -> Any:
    if isinstance(value, RelativeTime):
        return now + value.offset
    return value


def _typed(raw: Any, operand: Any) -> Any:
    """`raw` as a value of the operand's type, or None when it has no such value."""
    if raw is None:
        return None
    if isinstance(operand, bool):
        return raw if isinstance(raw, bool) else None
    if isinstance(operand, Decimal):
        if isinstance(raw, bool) or not isinstance(raw, int | float | Decimal):
            return None
        return _decimal(raw)
    if isinstance(operand, datetime):
        if isinstance(raw, datetime):
            return raw
        return _instant(raw) if isinstance(raw, str) else None
    return raw if isinstance(raw, str) else None


def _decimal(raw: int | float | Decimal) -> Decimal:
    # str() of a float is its shortest round-tripping text, which is what JSON stores.
    return raw if isinstance(raw, Decimal) else Decimal(str(raw))


def _instant(text: str) -> datetime | None:
    """A stored DATETIME property value as an instant (a date alone is midnight UTC)."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def _compare(op: Operator, value: Any, operands: list[Any]) -> bool:
    if op is Operator.EQ:
        return bool(value == operands[0])
    if op is Operator.NEQ:
        return bool(value != operands[0])
    if op is Operator.IN:
        return value in operands
    if op is Operator.NOT_IN:
        return value not in operands
    if op is Operator.GT:
        return bool(value > operands[0])
    if op is Operator.GTE:
        return bool(value >= operands[0])
    if op is Operator.LT:
        return bool(value < operands[0])
    if op is Operator.LTE:
        return bool(value <= operands[0])
    if op is Operator.BETWEEN:
        return bool(operands[0] <= value <= operands[1])
    raise ValueError(f"{op} is not a comparison")


def simple_lower(text: str) -> str:
    """Unicode simple lowercase mapping, per character (see the module docstring)."""
    return "".join("i" if ch == "\u0130" else ch.lower() for ch in text)


# --- MATCHES ----------------------------------------------------------------

_CLASS_BODIES = {"d": "0-9", "w": "A-Za-z0-9_", "s": " \t\n\r\f\v"}


def python_pattern(pattern: str) -> str:
    """A validated MATCHES pattern for Python's `re`, with the ASCII `\\d \\w \\s`."""
    out: list[str] = []
    in_class = False
    class_start = 0
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char == "\\":
            escaped = pattern[i + 1]
            if escaped in _CLASS_BODIES:
                body = _CLASS_BODIES[escaped]
                out.append(body if in_class else f"[{body}]")
            else:
                out.append("\\" + escaped)
            i += 2
            continue
        if not in_class and char == "[":
            in_class = True
            class_start = i + 2 if pattern.startswith("[^", i) else i + 1
            out.append(pattern[i:class_start])
            i = class_start
            continue
        if in_class and char == "]" and i > class_start:
            in_class = False
        out.append(char)
        i += 1
    return "".join(out)


def _full_match(pattern: str, value: str, case_insensitive: bool) -> bool:
    flags = re.DOTALL | (re.IGNORECASE if case_insensitive else 0)
    return re.fullmatch(python_pattern(pattern), value, flags) is not None
