"""What would make a segment cheaper to evaluate, told in the user's terms."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from domain.fields import CUSTOM_PROPERTY_PREFIX, FieldCatalog
from domain.predicate import Condition, Node, Not, Operator, Related, walk

INDEXED_FIELDS = (
    "country",
    "paymentMethodType",
    "createdAt",
    "lastOrderAt",
    "totalSpent",
    "email",
    "parentId",
    "updatedAt",
)


@dataclass(frozen=True)
class PlanFacts:
    planner_cost: float
    estimated_rows: int
    uses_index: bool


def hints_for(
    node: Node, catalog: FieldCatalog, facts: PlanFacts, referenced: Sequence[Node] = ()
) -> list[str]:
    """Hints for evaluating `node`; `referenced` are the predicates of the segments it
    reaches through references, which are evaluated inline with it and cost as much."""
    hints: list[str] = []
    every = [n for tree in (node, *referenced) for n in walk(tree)]
    conditions = [n for n in every if isinstance(n, Condition)]
    for key in sorted(_unindexed_properties(conditions, catalog)):
        hints.append(
            f"declare properties.{key} as indexed "
            f"(customPropertyDefine with indexed: true) so conditions on it avoid scans"
        )
    if any(c.operator is Operator.MATCHES for c in conditions):
        hints.append(
            "MATCHES tests every candidate customer; combine it with a condition on an "
            "indexed field (" + ", ".join(INDEXED_FIELDS[:3]) + ") to narrow the candidates"
        )
    if any(c.case_insensitive for c in conditions):
        hints.append("caseInsensitive comparisons cannot use indexes; prefer exact values")
    if any(isinstance(n, Related) and n.last is not None for n in every):
        hints.append("`last: N` is evaluated customer by customer; add a narrowing condition")
    if isinstance(node, Not):
        hints.append("a predicate that is a negation as a whole cannot use indexes")
    if not facts.uses_index:
        hints.append(
            "no index narrows this predicate: add a condition on an indexed field ("
            + ", ".join(INDEXED_FIELDS)
            + ")"
        )
    return hints


def _unindexed_properties(conditions: list[Condition], catalog: FieldCatalog) -> set[str]:
    keys: set[str] = set()
    for cond in conditions:
        if not cond.field.startswith(CUSTOM_PROPERTY_PREFIX):
            continue
        definition = catalog.custom_property(cond.field[len(CUSTOM_PROPERTY_PREFIX) :])
        if definition is not None and not definition.indexed and cond.operator is not Operator.EQ:
            keys.add(definition.key)
    return keys
