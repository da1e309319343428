"""What a predicate reads of a customer, and what a write changed, in the same terms.

An ACTIVE segment's membership can only change for a customer when something
its predicate reads changes: a customer field, a custom property, a record of a
related scope, a tracked event of a name it counts (or the clock, which the
sweeper watches). A write knows what it changed; comparing the two footprints
says which segments it must re-evaluate, and every other segment keeps its
stored membership at no cost.

Derived fields are read through what they derive from: `hasParent` is
`parentId`; `hasChild` is its own name, changed on the parent when a child's
`parentId` moves; the order activity fields (`ordersCount`, `totalSpent`,
`firstOrderAt`, `lastOrderAt`) are their own names, changed by the writer when
their recomputed values differ.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from domain.predicate import (
    And,
    Condition,
    Node,
    Not,
    Operator,
    Or,
    Quantifier,
    Related,
    Scope,
    SegmentRef,
)

DERIVED_FROM = {"hasParent": "parentId"}
"""Customer fields computed from another field of the same row."""


@dataclass(frozen=True)
class Footprint:
    """Parts of a customer's data: those a predicate reads, or those a write changed.

    `scopes` are related record sets other than EVENTS; events are by name, or
    `every_event` for events of any name. `everything` is a new customer (each
    of its segments' memberships starts undecided) or a change nobody described.
    """

    fields: frozenset[str] = frozenset()
    scopes: frozenset[Scope] = frozenset()
    event_names: frozenset[str] = frozenset()
    every_event: bool = False
    everything: bool = False

    def __or__(self, other: Footprint) -> Footprint:
        return Footprint(
            self.fields | other.fields,
            self.scopes | other.scopes,
            self.event_names | other.event_names,
            self.every_event or other.every_event,
            self.everything or other.everything,
        )

    @property
    def reads_events(self) -> bool:
        return self.every_event or bool(self.event_names)

    def overlaps(self, other: Footprint) -> bool:
        """Whether a change of `other` can be seen by a reader of `self` (or vice versa).

        `everything` overlaps even a predicate that reads nothing: a new customer
        must be judged once by `not(segment: a static list)` too.
        """
        if self.everything or other.everything:
            return True
        if self.fields & other.fields or self.scopes & other.scopes:
            return True
        if (self.every_event and other.reads_events) or (other.every_event and self.reads_events):
            return True
        return bool(self.event_names & other.event_names)


NOTHING = Footprint()
EVERYTHING = Footprint(everything=True)


def changed_fields(*names: str) -> Footprint:
    return Footprint(fields=frozenset(names))


def union(footprints: Iterable[Footprint]) -> Footprint:
    found = NOTHING
    for footprint in footprints:
        found |= footprint
    return found


PredicateOf = Callable[[str], Node | None]
"""The predicate of a segment by id (None: a stored list, or no such segment)."""


def dependencies(node: Node, predicate_of: PredicateOf) -> Footprint:
    """What `node` reads, through the segments it references (each followed once).

    A referenced segment without a predicate (a STATIC list) reads no customer
    data: a write never changes its membership.
    """
    reads: list[Footprint] = []
    seen: set[str] = set()
    pending = [node]
    while pending:
        current = pending.pop()
        if isinstance(current, And | Or):
            pending.extend(current.children)
        elif isinstance(current, Not):
            pending.append(current.child)
        elif isinstance(current, Condition):
            reads.append(changed_fields(DERIVED_FROM.get(current.field, current.field)))
        elif isinstance(current, Related):
            reads.append(_related_reads(current))
        elif isinstance(current, SegmentRef) and current.segment_id not in seen:
            seen.add(current.segment_id)
            referenced = predicate_of(current.segment_id)
            if referenced is not None:
                pending.append(referenced)
    return union(reads)


def _related_reads(node: Related) -> Footprint:
    if node.scope is not Scope.EVENTS:
        return Footprint(scopes=frozenset({node.scope}))
    # ALL ranges over every event, and `last: N` narrows by time before `where`
    # applies: an event of any name can change either.
    if node.quantifier is Quantifier.ALL or node.last is not None:
        return Footprint(every_event=True)
    names = _event_names(node.where) if node.where is not None else None
    if names is None:
        return Footprint(every_event=True)
    return Footprint(event_names=names)


def _event_names(where: Node) -> frozenset[str] | None:
    """The only event names `where` can match, or None when it can match any name."""
    if isinstance(where, Condition):
        exact = where.field == "name" and not where.case_insensitive
        if exact and where.operator in (Operator.EQ, Operator.IN):
            return frozenset(str(v) for v in where.values)
        return None
    if isinstance(where, And):
        narrowing = [n for n in map(_event_names, where.children) if n is not None]
        return frozenset.intersection(*narrowing) if narrowing else None
    if isinstance(where, Or):
        each = [_event_names(child) for child in where.children]
        if any(names is None for names in each):
            return None
        return frozenset().union(*(n for n in each if n is not None))
    return None  # a negation can match any name


class DependencyIndex:
    """Which segments a change reaches, looked up by what changed rather than segment by segment.

    With a thousand ACTIVE segments a write changing one field must not cost a
    thousand comparisons, let alone a batch of a thousand customers.
    """

    def __init__(self, reads: Mapping[int, Footprint]) -> None:
        self.all = frozenset(reads)
        self.by_field: dict[str, set[int]] = {}
        self.by_scope: dict[Scope, set[int]] = {}
        self.by_event: dict[str, set[int]] = {}
        self.every_event: set[int] = set()
        self.some_event: set[int] = set()
        for key, footprint in reads.items():
            for name in footprint.fields:
                self.by_field.setdefault(name, set()).add(key)
            for scope in footprint.scopes:
                self.by_scope.setdefault(scope, set()).add(key)
            for name in footprint.event_names:
                self.by_event.setdefault(name, set()).add(key)
            if footprint.every_event:
                self.every_event.add(key)
            if footprint.reads_events:
                self.some_event.add(key)
        self._cache: dict[Footprint, frozenset[int]] = {}

    def reached_by(self, change: Footprint) -> frozenset[int]:
        """The keys of the segments whose predicates read something `change` touched."""
        found = self._cache.get(change)
        if found is not None:
            return found
        if change.everything:
            found = self.all
        else:
            keys: set[int] = set()
            for name in change.fields:
                keys |= self.by_field.get(name, set())
            for scope in change.scopes:
                keys |= self.by_scope.get(scope, set())
            if change.every_event:
                keys |= self.some_event
            elif change.event_names:
                keys |= self.every_event
                for name in change.event_names:
                    keys |= self.by_event.get(name, set())
            found = frozenset(keys)
        if len(self._cache) < 4096:  # a workspace's writes repeat few distinct changes
            self._cache[change] = found
        return found
