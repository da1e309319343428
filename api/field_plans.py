"""How a plain attribute field is answered without graphql-core's generic path: its plan.

A plan is made once per (type, field) of the schema (api.executor says which fields have
one and what each does). A selection whose fields all have plans, down to its leaves, is
also compiled into one function (`compiled`): value -> the completed result, or SLOW at
the first value a plan does not take as it is, so that the executor then completes the
same value the usual way (plans only read attributes: nothing was changed meanwhile).
"""

from __future__ import annotations

from collections.abc import Callable
from inspect import isawaitable
from typing import Any

from graphql import (
    GraphQLEnumType,
    GraphQLField,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLScalarType,
    Undefined,
)
from graphql.execution.collect_fields import FieldDetailsList
from strawberry.schema.schema_converter import GraphQLCoreConverter

SLOW = object()
"""A plan's answer when the field must take graphql-core's path."""

Plan = Callable[[Any], Any]
"""source -> the completed leaf value, or SLOW."""


class ObjectPlan:
    """A single object of a plain attribute: the attribute, the object type, the field's
    type (non-null or not)."""

    __slots__ = ("attribute", "field_type", "nullable", "type_")

    def __init__(
        self, attribute: str, type_: GraphQLObjectType, field_type: GraphQLOutputType
    ) -> None:
        self.attribute = attribute
        self.type_ = type_
        self.field_type = field_type
        self.nullable = not isinstance(field_type, GraphQLNonNull)


class ListPlan(ObjectPlan):
    """A list of objects of a plain attribute; also whether an item may be null."""

    __slots__ = ("item_nullable", "item_type")

    def __init__(
        self,
        attribute: str,
        type_: GraphQLObjectType,
        field_type: GraphQLOutputType,
        item_type: GraphQLOutputType,
    ) -> None:
        super().__init__(attribute, type_, field_type)
        self.item_type = item_type
        self.item_nullable = not isinstance(item_type, GraphQLNonNull)


FieldPlan = Plan | ObjectPlan | None
_PLANS: dict[GraphQLObjectType, dict[str, FieldPlan]] = {}


def _attribute(field: GraphQLField) -> str | None:
    """The attribute a field reads, when it is a plain strawberry attribute field."""
    if field.args or not getattr(field.resolve, "_is_default", False):
        return None
    definition = (field.extensions or {}).get(GraphQLCoreConverter.DEFINITION_BACKREF)
    if definition is None or definition.default_resolver is not getattr:
        return None
    if definition.base_resolver is not None or definition.extensions:
        return None
    name = definition.python_name
    return name if isinstance(name, str) else None


def _leaf_plan(attribute: str, type_: GraphQLScalarType | GraphQLEnumType, nullable: bool) -> Plan:
    coerce = type_.coerce_output_value

    def plan(source: Any) -> Any:
        try:
            value = getattr(source, attribute)
            if value is None:
                return None if nullable else SLOW
            if isinstance(value, Exception) or value is Undefined:
                return SLOW
            coerced = coerce(value)
        except Exception:  # graphql-core's path reports it
            return SLOW
        return SLOW if coerced is None or coerced is Undefined else coerced

    return plan


def _typename_plan(name: str) -> Plan:
    return lambda _source: name


def _generated_type_check(type_: GraphQLObjectType) -> bool:
    """No `is_type_of`, or strawberry's own, which never reads the resolve info."""
    check = type_.is_type_of
    return check is None or "_get_is_type_of" in getattr(check, "__qualname__", "")


def field_plan(parent: GraphQLObjectType, name: str) -> FieldPlan:
    """How `parent.name` is executed without graphql-core's generic path; None: with it."""
    if name == "__typename":
        return _typename_plan(parent.name)
    field = parent.fields.get(name)
    attribute = _attribute(field) if field is not None else None
    if field is None or attribute is None:
        return None
    type_, nullable = field.type, True
    if isinstance(type_, GraphQLNonNull):
        type_, nullable = type_.of_type, False
    if isinstance(type_, GraphQLScalarType | GraphQLEnumType):
        return _leaf_plan(attribute, type_, nullable)
    if isinstance(type_, GraphQLObjectType) and _generated_type_check(type_):
        return ObjectPlan(attribute, type_, field.type)
    if isinstance(type_, GraphQLList):
        item_type = type_.of_type
        item = item_type.of_type if isinstance(item_type, GraphQLNonNull) else item_type
        if isinstance(item, GraphQLObjectType) and _generated_type_check(item):
            return ListPlan(attribute, item, field.type, item_type)
    return None


def plans_of(parent: GraphQLObjectType) -> dict[str, FieldPlan]:
    found = _PLANS.get(parent)
    if found is None:
        found = _PLANS[parent] = {}
    return found


LEAF, OBJECT, LIST, GENERIC = "leaf", "object", "list", "generic"
Completer = Callable[[Any], Any]
"""value -> a field's completed value (or an object's fields), or SLOW."""
Step = tuple[str, FieldDetailsList, str, Any, Completer | None]
"""(response name, its field nodes, the kind of plan, the plan, the field's compiled
completion when its whole subtree has plans)."""


def kind_of(plan: FieldPlan) -> str:
    if isinstance(plan, ListPlan):
        return LIST
    if isinstance(plan, ObjectPlan):
        return OBJECT
    return GENERIC if plan is None else LEAF


def selection_completer(steps: list[Step]) -> Completer | None:
    """An object's selected fields in one call, when each has a leaf plan or a compiled
    completion; None otherwise."""
    parts: list[tuple[str, Completer]] = []
    for response_name, _, kind, plan, compiled in steps:
        if kind is LEAF:
            parts.append((response_name, plan))
        elif compiled is not None:
            parts.append((response_name, compiled))
        else:
            return None
    fields = tuple(parts)

    def complete(value: Any) -> Any:
        completed: dict[str, Any] = {}
        for name, part in fields:
            result = part(value)
            if result is SLOW:
                return SLOW
            completed[name] = result
        return completed

    return complete


def _refused(value: Any, check: Any) -> bool:
    """Whether an object value is one the executor's own path must complete (the type's
    `is_type_of` refuses it, or without one: an error or an awaitable)."""
    if check is None:
        return value is Undefined or isinstance(value, Exception) or isawaitable(value)
    return check(value, None) is not True


def object_completer(plan: ObjectPlan, fields: Completer) -> Completer:
    """A single object field, its subtree compiled into `fields`."""
    attribute, nullable, check = plan.attribute, plan.nullable, plan.type_.is_type_of

    def complete(source: Any) -> Any:
        value = getattr(source, attribute)
        if value is None:
            return None if nullable else SLOW
        return SLOW if _refused(value, check) else fields(value)

    return complete


def list_completer(plan: ListPlan, fields: Completer) -> Completer:
    """A list of objects, each item's subtree compiled into `fields`."""
    attribute, nullable, check = plan.attribute, plan.nullable, plan.type_.is_type_of
    item_nullable = plan.item_nullable

    def complete(source: Any) -> Any:
        items = getattr(source, attribute)
        if items is None:
            return None if nullable else SLOW
        if not isinstance(items, list | tuple):
            return SLOW
        completed: list[Any] = []
        for item in items:
            if item is None:
                if not item_nullable:
                    return SLOW
                completed.append(None)
                continue
            value = SLOW if _refused(item, check) else fields(item)
            if value is SLOW:
                return SLOW
            completed.append(value)
        return completed

    return complete
