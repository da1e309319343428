"""What a document cost once it ran: `extensions.cost.actualQueryCost`.

The same model as api.cost's requested cost, priced on the data returned
instead of on the page sizes asked for: a list (a connection's `edges`, a
customer's `segments`) counts the items it holds, an object that came back
null costs nothing below it, and a field absent from the result (another type's
fragment, `@skip`) costs nothing. Fields selected twice under one response key
are priced once, as the result holds them once. So the actual cost is never
above the requested one; the difference goes back to the key's bucket.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLUnionType,
    OperationType,
    SelectionSetNode,
)

from api.cost import (
    MUTATION_COST,
    OVERRIDES,
    PLUMBING,
    Fragments,
    ParentType,
    fields_of,
    operation_of,
    unwrap,
)

# A response key's field: the type it was selected on, its node, and every
# selection set asked under that key (merged, as execution merges them).
Selected = tuple[ParentType, FieldNode, list[SelectionSetNode]]


def actual_cost(
    schema: GraphQLSchema,
    document: DocumentNode,
    data: Mapping[str, Any] | None,
    operation_name: str | None = None,
    query: str | None = None,
) -> int:
    """The cost of what the operation returned (`data` of its result). With the
    document's text, how to price it is remembered per (text, operation)."""
    if data is None:
        return 0
    remembered = (id(schema), query, operation_name) if query is not None else None
    plan = _PLANS.get(remembered) if remembered is not None else None
    if plan is None:
        plan = _plan_of(schema, document, operation_name)
        if remembered is not None:
            if len(_PLANS) >= PLANS_REMEMBERED:
                _PLANS.clear()  # bounded: unique documents cannot grow it
            _PLANS[remembered] = plan
    return plan.price(data) if plan is not None else 0


PLANS_REMEMBERED = 1024
_PLANS: dict[tuple[int, str, str | None] | None, _Plan | None] = {}


def _plan_of(
    schema: GraphQLSchema, document: DocumentNode, operation_name: str | None
) -> _Plan | None:
    operation = operation_of(document, operation_name)
    if operation is None:
        return None
    root = schema.get_root_type(operation.operation)
    if root is None:
        return None
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    extra = MUTATION_COST if operation.operation is OperationType.MUTATION else 0
    return _Planner(schema, fragments).plan(root, [operation.selection_set], extra, each=0)


class _Plan:
    """How to price an object of one type under one merged selection: for each response
    key, its own points and, when it returns objects, the plan of those objects. Worked
    out once per pricing, then applied to every object of a list."""

    __slots__ = ("each", "entries")

    def __init__(self, each: int) -> None:
        self.each = each  # 1 per object, 0 for plumbing (`*Edge`, `PageInfo`)
        self.entries: list[tuple[str, int, _Plan | None]] = []

    def price(self, value: Mapping[str, Any]) -> int:
        total = self.each
        for key, once, below in self.entries:
            if key not in value:
                continue
            total += once
            if below is not None:
                total += below.price_all(value[key])
        return total

    def price_all(self, value: Any) -> int:
        """An object (None costs nothing), or every object of a list (of lists)."""
        if value is None:
            return 0
        if not isinstance(value, list):
            return self.price(value)
        if not self.entries and all(isinstance(item, dict) for item in value):
            return self.each * len(value)  # objects of scalars only: 1 each
        return sum(self.price_all(item) for item in value)


class _Planner:
    def __init__(self, schema: GraphQLSchema, fragments: Fragments) -> None:
        self.schema = schema
        self.fragments = fragments

    def plan(
        self, parent: ParentType, selections: list[SelectionSetNode], extra: int, each: int
    ) -> _Plan:
        selected: dict[str, Selected] = {}
        for selection in selections:
            for on, node in fields_of(self.schema, self.fragments, parent, selection):
                key = node.alias.value if node.alias else node.name.value
                found = selected.setdefault(key, (on, node, []))
                if node.selection_set is not None:
                    found[2].append(node.selection_set)
        plan = _Plan(each)
        for key, (on, node, below) in selected.items():
            name = node.name.value
            if name.startswith("__") or isinstance(on, GraphQLUnionType):
                continue
            definition = on.fields.get(name)
            if definition is None:
                continue
            named, _ = unwrap(definition.type)
            once = OVERRIDES.get(f"{on.name}.{name}", 0) + extra
            inner = None
            if isinstance(named, GraphQLObjectType | GraphQLInterfaceType | GraphQLUnionType):
                plumbing = named.name in PLUMBING or named.name.endswith("Edge")
                inner = self.plan(named, below, 0, each=0 if plumbing else 1)
            if once or inner is not None:  # a free scalar adds nothing: left out
                plan.entries.append((key, once, inner))
        return plan
