"""What a GraphQL document may cost, computed from its AST and variables before it runs.

The model is generic over the schema, so fields added later are priced without
touching this module:

- a scalar or enum field costs 0; a field returning an object costs 1 per object
  (connection plumbing, `*Edge` and `PageInfo`, costs 0: it is built from its parent);
- a field with `first` or `last` (or, failing those, a list argument such as `ids`
  or `customers`) sets a page size, clamped to the pagination limits and defaulting
  to the default page; the next list of objects below it has that many items;
- any other list of objects is assumed to hold `LIST_SIZE` items;
- what is selected under a list is multiplied by its number of items;
- a root mutation field costs `MUTATION_COST` more, and `OVERRIDES` adds to the
  cost of fields known to do more work than a row read (counts, live evaluations),
  once per parent object (not per item of a list);
- introspection (`__schema`, `__type`, `__typename`) is free.

Fragments are counted where they are spread; every fragment of an abstract type is
counted (an upper bound). `@skip`/`@include` are ignored (also an upper bound).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from graphql import (
    BooleanValueNode,
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLUnionType,
    InlineFragmentNode,
    IntValueNode,
    ListValueNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    ValueNode,
    VariableNode,
    value_from_ast_untyped,
)
from graphql.type.definition import GraphQLNamedType, GraphQLOutputType

from api.pagination import DEFAULT_PAGE, MAX_PAGE
from persistence.settings import Settings

QUERY_TOO_COSTLY = "QUERY_TOO_COSTLY"
THROTTLED = "THROTTLED"
DEFAULT_MAX_COST = Settings.max_query_cost
LIST_SIZE = 5
MUTATION_COST = 10
PAGE_ARGUMENTS = ("first", "last")
PLUMBING = ("PageInfo",)

# Extra cost of fields that do more than read a row: `Type.field` -> points.
OVERRIDES: Mapping[str, int] = {
    "CustomerConnection.totalCount": 10,  # a COUNT over the (filtered) customers
    "MembershipConnection.totalCount": 10,  # a COUNT of the predicate's matches
    "SegmentPreview.totalCount": 10,
    "SegmentPreview.percentage": 10,
    "ImpactSide.count": 10,  # a COUNT of the customers leaving (or entering) a segment
    "Segment.stats": 10,  # may recount the segment
    "Segment.evaluationCost": 10,  # an EXPLAIN of the segment's count
    "Customer.segments": 10,  # evaluates every segment of the workspace for the customer
}

ParentType = GraphQLObjectType | GraphQLInterfaceType | GraphQLUnionType
Fragments = Mapping[str, FragmentDefinitionNode]


@dataclass(frozen=True)
class Pricing:
    """The constants of the model, for the documentation and for tests."""

    default_page: int = DEFAULT_PAGE
    max_page: int = MAX_PAGE
    list_size: int = LIST_SIZE
    mutation_cost: int = MUTATION_COST


PRICING = Pricing()


def too_costly(requested: int, maximum: int) -> GraphQLError:
    return GraphQLError(
        f"This query would cost {requested} points, over the maximum of {maximum}: "
        "ask for smaller pages (`first`) or fewer nested lists.",
        extensions={
            "code": QUERY_TOO_COSTLY,
            "requestedQueryCost": requested,
            "maximumQueryCost": maximum,
        },
    )


def _with_defaults(
    operation: OperationDefinitionNode, variables: Mapping[str, Any]
) -> Mapping[str, Any]:
    """The variables as the operation runs with them: one not sent takes its default."""
    defaults = {
        d.variable.name.value: value_from_ast_untyped(d.default_value)
        for d in operation.variable_definitions or ()
        if d.default_value is not None and d.variable.name.value not in variables
    }
    return {**defaults, **variables} if defaults else variables


def document_cost(
    schema: GraphQLSchema,
    document: DocumentNode,
    variables: Mapping[str, Any] | None = None,
    operation_name: str | None = None,
) -> int:
    """The cost of the operation of a validated document that would run."""
    operation = operation_of(document, operation_name)
    if operation is None:
        return 0
    root = schema.get_root_type(operation.operation)
    if root is None:
        return 0
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    pricer = _Pricer(schema, fragments, _with_defaults(operation, variables or {}))
    extra = MUTATION_COST if operation.operation is OperationType.MUTATION else 0
    return pricer.selection(root, operation.selection_set, None, extra)


def throttled(requested: int, available: float, rate: int) -> GraphQLError:
    wait_ms = math.ceil((requested - available) / rate * 1000) if rate > 0 else None
    retry = f"; retry in {wait_ms} ms" if wait_ms is not None else ""
    return GraphQLError(
        f"This API key has {int(available)} query cost points left and this query costs "
        f"{requested}{retry}.",
        extensions={
            "code": THROTTLED,
            "requestedQueryCost": requested,
            "currentlyAvailable": int(available),
            "retryAfterMs": wait_ms,
        },
    )


def cost_of(
    schema: GraphQLSchema,
    document: DocumentNode,
    query: str | None,
    variables: Mapping[str, Any] | None,
    operation_name: str | None,
) -> int:
    """`document_cost`, remembered per (query text, operation, variables' shape)."""
    if query is None:
        return document_cost(schema, document, variables, operation_name)
    key = (id(schema), query, operation_name, variables_shape(variables))
    cost = _COSTS.get(key)
    if cost is None:
        if len(_COSTS) >= COSTS_REMEMBERED:
            _COSTS.clear()  # bounded: unique documents cannot grow it
        cost = _COSTS[key] = document_cost(schema, document, variables, operation_name)
    return cost


COSTS_REMEMBERED = 1024
_COSTS: dict[tuple[int, str, str | None, tuple[tuple[str, Any], ...]], int] = {}


def variables_shape(variables: Mapping[str, Any] | None) -> tuple[tuple[str, Any], ...]:
    """What of the variables can change a cost: whole numbers and list lengths."""
    if not variables:
        return ()
    shape = []
    for name, value in variables.items():
        whole = whole_number(value)
        if whole is not None:
            shape.append((name, whole))
        elif isinstance(value, list):
            shape.append((name, ("len", len(value))))
    return tuple(sorted(shape))


def whole_number(value: Any) -> int | None:
    """A variable's value as GraphQL's Int takes it: an int, or a float with no fraction
    (JSON does not tell 250 from 250.0, and `first: 250.0` reads 250 items)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    return None


def fields_of(
    schema: GraphQLSchema, fragments: Fragments, parent: ParentType, selections: SelectionSetNode
) -> Iterator[tuple[ParentType, FieldNode]]:
    """The fields of a selection set, fragments spread, each with the type it is selected on."""
    for node in selections.selections:
        if isinstance(node, FieldNode):
            yield parent, node
            continue
        if isinstance(node, InlineFragmentNode):
            condition, inner = node.type_condition, node.selection_set
        else:
            assert isinstance(node, FragmentSpreadNode)
            fragment = fragments[node.name.value]
            condition, inner = fragment.type_condition, fragment.selection_set
        on = schema.get_type(condition.name.value) if condition else parent
        assert isinstance(on, GraphQLObjectType | GraphQLInterfaceType | GraphQLUnionType)
        yield from fields_of(schema, fragments, on, inner)


def operation_of(document: DocumentNode, name: str | None) -> OperationDefinitionNode | None:
    """The operation that runs: the named one, or the only one."""
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if name is None:
        return operations[0] if len(operations) == 1 else None
    return next((o for o in operations if o.name and o.name.value == name), None)


def unwrap(type_: GraphQLOutputType) -> tuple[GraphQLNamedType, bool]:
    """The named type under NonNull and List wrappers, and whether a List was among them."""
    is_list = False
    while isinstance(type_, GraphQLNonNull | GraphQLList):
        is_list = is_list or isinstance(type_, GraphQLList)
        type_ = type_.of_type
    return type_, is_list


class _Pricer:
    def __init__(
        self, schema: GraphQLSchema, fragments: Fragments, variables: Mapping[str, Any]
    ) -> None:
        self.schema = schema
        self.fragments = fragments
        self.variables = variables

    def selection(
        self, parent: ParentType, selections: SelectionSetNode, page: int | None, extra: int = 0
    ) -> int:
        return sum(
            self.field(on, node, page, extra) for on, node in self._fields(parent, selections)
        )

    def _fields(
        self, parent: ParentType, selections: SelectionSetNode
    ) -> Iterator[tuple[ParentType, FieldNode]]:
        return fields_of(self.schema, self.fragments, parent, selections)

    def field(self, parent: ParentType, node: FieldNode, page: int | None, extra: int) -> int:
        name = node.name.value
        if name.startswith("__") or isinstance(parent, GraphQLUnionType):
            return 0
        definition = parent.fields[name]
        named, is_list = unwrap(definition.type)
        once = OVERRIDES.get(f"{parent.name}.{name}", 0) + extra
        if not isinstance(named, GraphQLObjectType | GraphQLInterfaceType | GraphQLUnionType):
            return once  # a scalar or an enum, or a list of them
        each = 0 if named.name in PLUMBING or named.name.endswith("Edge") else 1
        asked = self._page(node, definition.args)
        if is_list:
            items = asked or page or LIST_SIZE
            below = None
        else:
            items, below = 1, asked or page
        inner = self.selection(named, node.selection_set, below) if node.selection_set else 0
        return once + items * (each + inner)

    def _page(self, node: FieldNode, arguments: Mapping[str, Any]) -> int | None:
        """The page size the field's arguments ask for: `first`/`last` (their default
        page when the field has them but none is given), else a list argument's length."""
        sizes: list[int] = []
        lengths: list[int] = []
        for argument in node.arguments or ():
            value = self._value(argument.value)
            if argument.name.value in PAGE_ARGUMENTS and isinstance(value, int):
                sizes.append(min(max(value, 1), MAX_PAGE))
            elif isinstance(value, list):
                lengths.append(len(value))
        if sizes:
            return max(sizes)
        if any(name in arguments for name in PAGE_ARGUMENTS):
            return DEFAULT_PAGE
        if lengths:
            return max(lengths)
        return None

    def _value(self, node: ValueNode) -> Any:
        if isinstance(node, VariableNode):
            value = self.variables.get(node.name.value)
            whole = whole_number(value)
            return value if whole is None else whole
        if isinstance(node, IntValueNode):
            return int(node.value)
        if isinstance(node, ListValueNode):
            return list(node.values)
        if isinstance(node, BooleanValueNode):
            return node.value
        return ...
