"""When a customer's membership of a time-relative segment can next change with the clock alone.

A condition `lastOrderAt GTE now-30d` is true while `now <= lastOrderAt + 30d`
and false from one microsecond later: with the data fixed, its truth flips only
at that instant. A predicate's truth can flip only where one of its
time-relative conditions flips, so the earliest such instant after `now` is
when the customer must be looked at again; until then only a write (which
re-evaluates it anyway) can change its membership.

`boundary` turns a predicate into a description of that instant, per customer:

* `Crossing`: a datetime field plus fixed shifts (`lastOrderAt + 30d + 1µs`);
  each shift is one instant the condition flips. No value: never.
* `Earliest`: the first of several.
* `Guarded`: counts only while a condition that does not depend on the clock
  holds (in `country EQ FR AND lastOrderAt GTE now-30d`, a customer outside
  France never changes with the clock).
* `OverRecords`: the first instant of any of the customer's records of a scope
  (its `last` N, when narrowed), for `related` nodes whose `where` reads time;
  a COUNT changes when a counted record leaves the window or a future-dated
  one enters it, and an ANY or ALL can only change then too.

Negation changes exactly when its operand does; segment references are read
through. persistence.boundaries compiles the description to SQL; the sweeper
re-evaluates a customer once its instant has passed. The instant is a lower
bound: re-evaluating at it may find that nothing changed (an OR whose other
branch still holds), never that a change was missed.

Shapes with no computable instant raise `NotBounded`; their segment keeps the
full rescan (docs/predicates.md lists them).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from domain.fields import CUSTOM_PROPERTY_PREFIX
from domain.predicate import (
    And,
    Condition,
    Node,
    Not,
    Operator,
    Or,
    Related,
    RelativeTime,
    Scope,
    SegmentRef,
    Value,
    walk,
)

TICK = timedelta(microseconds=1)
"""The resolution of stored instants: an inclusive bound flips one tick after it."""


@dataclass(frozen=True)
class Crossing:
    """`field + shift` for each shift: the instants a condition on `field` flips."""

    field: str
    shifts: tuple[timedelta, ...]


@dataclass(frozen=True)
class Earliest:
    children: tuple[Instant, ...]


@dataclass(frozen=True)
class Guarded:
    """`instant`, only for customers (or records) for which `when` holds; `when` reads no clock."""

    when: Node
    instant: Instant


@dataclass(frozen=True)
class OverRecords:
    """The earliest `instant` over the customer's records of `scope` (its `last` N, if set)."""

    scope: Scope
    last: int | None
    instant: Instant


Instant = Crossing | Earliest | Guarded | OverRecords


class NotBounded(Exception):
    """A predicate shape whose next change cannot be computed: its segment is rescanned."""


PredicateOf = Callable[[str], Node | None]


def boundary(node: Node, predicate_of: PredicateOf) -> Instant | None:
    """The instant `node` can next flip with the clock alone, or None if it never can.

    Raises NotBounded for the shapes listed in docs/predicates.md.
    """
    return _Deriver(predicate_of).instant(node, in_scope=False)


class _Deriver:
    def __init__(self, predicate_of: PredicateOf) -> None:
        self.predicate_of = predicate_of
        self.resolving: set[str] = set()

    def timed(self, node: Node) -> bool:
        for current in walk(node):
            if isinstance(current, Condition) and any(map(_relative, current.values)):
                return True
            if isinstance(current, SegmentRef):
                referenced = self.predicate_of(current.segment_id)
                if referenced is not None and current.segment_id not in self.resolving:
                    self.resolving.add(current.segment_id)
                    try:
                        if self.timed(referenced):
                            return True
                    finally:
                        self.resolving.discard(current.segment_id)
        return False

    def instant(self, node: Node, in_scope: bool) -> Instant | None:
        if not self.timed(node):
            return None
        if isinstance(node, Not):
            return self.instant(node.child, in_scope)
        if isinstance(node, And | Or):
            return self.combined(node, in_scope)
        if isinstance(node, Condition):
            return crossing(node, in_scope)
        if isinstance(node, Related):
            assert node.where is not None  # timed
            inner = self.instant(node.where, in_scope=True)
            return None if inner is None else OverRecords(node.scope, node.last, inner)
        referenced = self.predicate_of(node.segment_id)
        assert referenced is not None  # timed
        return self.instant(referenced, in_scope)

    def combined(self, node: And | Or, in_scope: bool) -> Instant | None:
        """An AND flips only while its clock-free operands all hold; an OR while none does."""
        timed = [child for child in node.children if self.timed(child)]
        fixed = [child for child in node.children if not self.timed(child)]
        found = [i for i in (self.instant(child, in_scope) for child in timed) if i is not None]
        if not found:
            return None
        first = found[0] if len(found) == 1 else Earliest(tuple(found))
        if not fixed:
            return first
        if isinstance(node, And):
            when: Node = fixed[0] if len(fixed) == 1 else And(tuple(fixed))
        else:
            when = Not(fixed[0] if len(fixed) == 1 else Or(tuple(fixed)))
        return Guarded(when, first)


def _relative(value: Value) -> bool:
    return isinstance(value, RelativeTime)


def crossing(condition: Condition, in_scope: bool) -> Crossing:
    """The instants `field op now+offset` flips, as shifts of the field's value.

    `field >= now+o` holds while `now <= field - o`: it flips one tick after
    `field - o`. `field > now+o` flips at `field - o`; `<=` at `field - o`,
    `<` a tick after; EQ, NEQ, IN and NOT_IN at both. BETWEEN is a `>=` and
    a `<=`; an absolute operand never flips.
    """
    if condition.field.startswith(CUSTOM_PROPERTY_PREFIX):
        # Customer DATETIME properties are stored as sortable text, event properties
        # are typed by the operand: neither is a datetime column to add to.
        where = "an event property" if in_scope else "a DATETIME custom property"
        raise NotBounded(f"a relative time compared with {where} ({condition.field})")
    op = condition.operator
    shifts: list[timedelta] = []
    for index, value in enumerate(condition.values):
        if not isinstance(value, RelativeTime):
            continue
        at = -value.offset
        if op is Operator.BETWEEN:
            shifts.append(at + TICK if index == 0 else at)  # low end: `>=`; high end: `<=`
        elif op in (Operator.GTE, Operator.LT):
            shifts.append(at + TICK)
        elif op in (Operator.GT, Operator.LTE):
            shifts.append(at)
        else:  # EQ NEQ IN NOT_IN: true at one instant only
            shifts.extend((at, at + TICK))
    return Crossing(condition.field, tuple(sorted(set(shifts))))


def boundary_key(instant: Instant) -> str:
    """A stable name for a description: stored rows computed from another one are stale."""
    return hashlib.sha256(repr(instant).encode()).hexdigest()
