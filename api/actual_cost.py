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
from graphql.type.definition import GraphQLNamedType

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
) -> int:
    """The cost of what the operation returned (`data` of its result)."""
    operation = operation_of(document, operation_name)
    if operation is None or data is None:
        return 0
    root = schema.get_root_type(operation.operation)
    if root is None:
        return 0
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    extra = MUTATION_COST if operation.operation is OperationType.MUTATION else 0
    return _Actual(schema, fragments).object(root, [operation.selection_set], data, extra)


class _Actual:
    def __init__(self, schema: GraphQLSchema, fragments: Fragments) -> None:
        self.schema = schema
        self.fragments = fragments

    def object(
        self,
        parent: ParentType,
        selections: list[SelectionSetNode],
        value: Mapping[str, Any],
        extra: int = 0,
    ) -> int:
        selected: dict[str, Selected] = {}
        for selection in selections:
            for on, node in fields_of(self.schema, self.fragments, parent, selection):
                key = node.alias.value if node.alias else node.name.value
                if key not in value:
                    continue
                found = selected.setdefault(key, (on, node, []))
                if node.selection_set is not None:
                    found[2].append(node.selection_set)
        return sum(self.field(*found, value[key], extra) for key, found in selected.items())

    def field(
        self,
        parent: ParentType,
        node: FieldNode,
        selections: list[SelectionSetNode],
        value: Any,
        extra: int,
    ) -> int:
        name = node.name.value
        if name.startswith("__") or isinstance(parent, GraphQLUnionType):
            return 0
        definition = parent.fields.get(name)
        if definition is None:
            return 0
        named, _ = unwrap(definition.type)
        once = OVERRIDES.get(f"{parent.name}.{name}", 0) + extra
        if not isinstance(named, GraphQLObjectType | GraphQLInterfaceType | GraphQLUnionType):
            return once
        return once + self.items(named, selections, value)

    def items(self, named: GraphQLNamedType, selections: list[SelectionSetNode], value: Any) -> int:
        """The cost of a returned object, or of every object of a returned list."""
        if value is None:
            return 0
        if isinstance(value, list):
            return sum(self.items(named, selections, item) for item in value)
        assert isinstance(named, GraphQLObjectType | GraphQLInterfaceType | GraphQLUnionType)
        each = 0 if named.name in PLUMBING or named.name.endswith("Edge") else 1
        return each + self.object(named, selections, value)
