"""The predicate tree: what a segment means, as plain frozen data.

A predicate arrives as JSON (see PREDICATES.md); `domain.predicate_parser`
turns it into these nodes after checking it against a `FieldCatalog`.
Every value held here is already typed: numbers are `Decimal`, datetimes are
aware `datetime` or `RelativeTime`, so the compiler and any evaluator never
re-interpret user input.
"""

from __future__ import annotations

import dataclasses
import enum
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TypeAlias

from domain.instant import format_instant


class Operator(enum.Enum):
    EQ = "EQ"
    NEQ = "NEQ"
    IN = "IN"
    NOT_IN = "NOT_IN"
    GT = "GT"
    GTE = "GTE"
    LT = "LT"
    LTE = "LTE"
    BETWEEN = "BETWEEN"
    EXISTS = "EXISTS"
    NOT_EXISTS = "NOT_EXISTS"
    MATCHES = "MATCHES"


class Quantifier(enum.Enum):
    ANY = "ANY"
    ALL = "ALL"
    COUNT = "COUNT"


class Scope(enum.Enum):
    """The one-to-many record sets a `related` node ranges over."""

    SUBSCRIPTIONS = "SUBSCRIPTIONS"
    INVOICES = "INVOICES"
    ORDERS = "ORDERS"
    WALLETS = "WALLETS"
    VERIFICATIONS = "VERIFICATIONS"
    EVENTS = "EVENTS"


@dataclass(frozen=True)
class RelativeTime:
    """`now`, `now-30d`, `now+7d`: resolved at the instant of evaluation.

    `text` keeps the unit the user wrote (`now-30d`, not `now-720h`) for
    `to_json` and rendering; it takes no part in equality.
    """

    offset: timedelta
    text: str = dataclasses.field(default="", compare=False)

    def resolve(self, now: datetime) -> datetime:
        return now + self.offset


Value = str | Decimal | bool | datetime | RelativeTime


@dataclass(frozen=True)
class Condition:
    """`field operator operand`. `values` holds 0 (EXISTS), 1 or many operands."""

    field: str
    operator: Operator
    values: tuple[Value, ...] = ()
    case_insensitive: bool = False


@dataclass(frozen=True)
class And:
    children: tuple[Node, ...]


@dataclass(frozen=True)
class Or:
    children: tuple[Node, ...]


@dataclass(frozen=True)
class Not:
    child: Node


@dataclass(frozen=True)
class CountComparison:
    """The `count` of a COUNT quantifier: EQ NEQ GT GTE LT LTE with one value, BETWEEN with two."""

    operator: Operator
    values: tuple[int, ...]


@dataclass(frozen=True)
class Related:
    """A quantifier over one of the customer's related record sets.

    `where` is a predicate over the scope's own fields (None: every record);
    `last` first narrows to the N most recent records by the scope's time field.
    """

    scope: Scope
    quantifier: Quantifier
    where: Node | None = None
    count: CountComparison | None = None
    last: int | None = None


@dataclass(frozen=True)
class SegmentRef:
    """Membership of another segment, evaluated live by the same rules."""

    segment_id: str


Node = And | Or | Not | Condition | Related | SegmentRef


# --- reading a tree ---------------------------------------------------------

Json: TypeAlias = bool | int | float | str | list["Json"] | dict[str, "Json"] | None

LIST_OPERATORS = frozenset({Operator.IN, Operator.NOT_IN, Operator.BETWEEN})
"""Operators whose operands are given as `values`; the others take one `value` or none."""
NO_OPERAND_OPERATORS = frozenset({Operator.EXISTS, Operator.NOT_EXISTS})


def walk(node: Node) -> Iterator[Node]:
    """Every node of the tree, depth first, `related.where` subtrees included."""
    stack: list[Node] = [node]
    while stack:
        current = stack.pop()
        yield current
        if isinstance(current, And | Or):
            stack.extend(reversed(current.children))
        elif isinstance(current, Not):
            stack.append(current.child)
        elif isinstance(current, Related) and current.where is not None:
            stack.append(current.where)


def field_paths(node: Node) -> list[str]:
    """The customer-level fields a predicate reads, first seen first.

    For a UI's adaptive columns: a condition gives its field path, a related
    node its lowercased scope (`invoices`); fields inside a `where` are the
    scope's, not the customer's, and are not listed.
    """
    paths: dict[str, None] = {}
    stack: list[Node] = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, Condition):
            paths.setdefault(current.field)
        elif isinstance(current, Related):
            paths.setdefault(current.scope.name.lower())
        elif isinstance(current, And | Or):
            stack.extend(reversed(current.children))
        elif isinstance(current, Not):
            stack.append(current.child)
    return list(paths)


def referenced_segments(node: Node) -> set[str]:
    """Ids of the segments this predicate's `segment` nodes name."""
    return {n.segment_id for n in walk(node) if isinstance(n, SegmentRef)}


def reads_events(node: Node) -> bool:
    """Whether the predicate reads tracked events (tracking one changes no customer row)."""
    return any(isinstance(n, Related) and n.scope is Scope.EVENTS for n in walk(node))


def is_time_relative(node: Node) -> bool:
    """Whether membership can change with the clock alone (a `now...` operand anywhere)."""
    return any(
        isinstance(value, RelativeTime)
        for n in walk(node)
        if isinstance(n, Condition)
        for value in n.values
    )


MAX_RELATIVE_AMOUNT = 100_000
_RELATIVE = re.compile(r"now(?:(?P<sign>[+-])(?P<amount>[0-9]{1,6})(?P<unit>[mhdw]))?")
_UNITS = {
    "m": timedelta(minutes=1),
    "h": timedelta(hours=1),
    "d": timedelta(days=1),
    "w": timedelta(weeks=1),
}


def parse_relative_time(text: str) -> RelativeTime | None:
    """`now`, `now-30d`, `now+7d` (units m h d w, amount up to 100000); None if not one."""
    match = _RELATIVE.fullmatch(text)
    if match is None:
        return None
    if match["sign"] is None:
        return RelativeTime(timedelta(0), text)
    amount = int(match["amount"])
    if amount > MAX_RELATIVE_AMOUNT:
        return None
    sign = -1 if match["sign"] == "-" else 1
    return RelativeTime(sign * amount * _UNITS[match["unit"]], text)


def relative_text(moment: RelativeTime) -> str:
    """`now-30d`: the text the user wrote, or the largest whole unit of the offset."""
    if moment.text:
        return moment.text
    seconds = int(moment.offset.total_seconds())
    if seconds == 0:
        return "now"
    sign = "-" if seconds < 0 else "+"
    minutes = abs(seconds) // 60
    for unit, size in (("w", 7 * 24 * 60), ("d", 24 * 60), ("h", 60)):
        if minutes % size == 0:
            return f"now{sign}{minutes // size}{unit}"
    return f"now{sign}{minutes}m"


def value_to_json(value: Value) -> Json:
    """One operand in its canonical JSON form."""
    if isinstance(value, RelativeTime):
        return relative_text(value)
    if isinstance(value, datetime):
        return format_instant(value)
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value


def to_json(node: Node) -> dict[str, Json]:
    """The canonical JSON form of a tree: `parse_predicate(to_json(tree))` gives `tree` back."""
    if isinstance(node, And):
        return {"and": [to_json(child) for child in node.children]}
    if isinstance(node, Or):
        return {"or": [to_json(child) for child in node.children]}
    if isinstance(node, Not):
        return {"not": to_json(node.child)}
    if isinstance(node, Condition):
        return {"condition": _condition_json(node)}
    if isinstance(node, Related):
        return {"related": _related_json(node)}
    return {"segment": node.segment_id}


def _condition_json(condition: Condition) -> dict[str, Json]:
    body: dict[str, Json] = {"field": condition.field, "operator": condition.operator.value}
    values = [value_to_json(value) for value in condition.values]
    if condition.operator in LIST_OPERATORS:
        body["values"] = values
    elif condition.operator not in NO_OPERAND_OPERATORS:
        body["value"] = values[0]
    if condition.case_insensitive:
        body["caseInsensitive"] = True
    return body


def _related_json(related: Related) -> dict[str, Json]:
    body: dict[str, Json] = {"scope": related.scope.value, "quantifier": related.quantifier.value}
    if related.last is not None:
        body["last"] = related.last
    if related.where is not None:
        body["where"] = to_json(related.where)
    if related.count is not None:
        count: dict[str, Json] = {"operator": related.count.operator.value}
        if related.count.operator is Operator.BETWEEN:
            count["values"] = list[Json](related.count.values)
        else:
            count["value"] = related.count.values[0]
        body["count"] = count
    return body


def segment_reference_paths(
    node: Node, path: tuple[str, ...] = ("predicate",)
) -> list[tuple[str, tuple[str, ...]]]:
    """Each `segment` node's id with its input path (`predicate.and[1].segment`)."""
    if isinstance(node, SegmentRef):
        return [(node.segment_id, (*path, "segment"))]
    if isinstance(node, And | Or):
        key = "and" if isinstance(node, And) else "or"
        found: list[tuple[str, tuple[str, ...]]] = []
        for index, child in enumerate(node.children):
            found.extend(segment_reference_paths(child, (*path, f"{key}[{index}]")))
        return found
    if isinstance(node, Not):
        return segment_reference_paths(node.child, (*path, "not"))
    return []  # conditions, and related nodes (whose `where` holds no references)
