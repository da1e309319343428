"""Predicate tree -> SQLAlchemy boolean over the `customer` table.

The semantics are PREDICATES.md's, to the letter:

* Every compiled node is two-valued. A comparison on a field with no value is
  false, never NULL: each comparison is emitted as `cmp AND field IS NOT NULL`,
  and since `NULL AND FALSE` is FALSE in SQL, `NOT` can never let a NULL
  through. The redundant `IS NOT NULL` keeps plain column comparisons
  indexable.
* Strings compare by code point (`COLLATE "C"` for ordering); caseInsensitive
  lowers both sides with the database's lower(); MATCHES is anchored at both
  ends, with `\\d \\w \\s` spelled out as the ASCII sets domain.pattern defines,
  whatever the database locale would make of them.
* Relative times resolve against one evaluation instant, `CompileContext.now`,
  bound as parameters: the same query sees one `now`.
* Related scopes are correlated EXISTS / COUNT subqueries on the
  `(customer_pk, ...)` indexes; ALL is non-vacuous; COUNT of no records is 0.
  COUNT renders as a grouped semi-join, the form for many customers, and
  carries a capped per-customer form that `for_few_customers` picks for a page
  (persistence/count_forms.py).
* User values are always bound parameters. Only validated custom-property
  keys (`[a-z][a-z0-9_]*`, or `[A-Za-z0-9_]+` for event properties) appear as
  SQL literals, so that typed expression indexes can match.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol, cast

from sqlalchemy import (
    Boolean,
    ColumnElement,
    Numeric,
    String,
    Table,
    and_,
    case,
    exists,
    false,
    func,
    literal,
    literal_column,
    not_,
    or_,
    select,
    true,
)
from sqlalchemy.dialects.postgresql import JSONB

from domain.custom_property import PropertyType
from domain.fields import CUSTOM_PROPERTY_PREFIX, SCOPE_TIME_FIELD, FieldCatalog, FieldType
from domain.instant import sortable_instant
from domain.predicate import (
    And,
    Condition,
    Node,
    Not,
    Operator,
    Or,
    Quantifier,
    Related,
    RelativeTime,
    Scope,
    SegmentRef,
    Value,
)
from persistence.count_forms import count_compare, count_matches, of_customer
from persistence.field_map import customer_table, snake
from persistence.tables import Event, Invoice, Order, Subscription, Verification, Wallet

Expr = ColumnElement[Any]
Bool = ColumnElement[bool]

c = customer_table
child = customer_table.alias("child_customer")

SCOPE_TABLE: dict[Scope, Table] = {
    Scope.SUBSCRIPTIONS: Subscription.__table__,  # type: ignore[attr-defined]
    Scope.INVOICES: Invoice.__table__,  # type: ignore[attr-defined]
    Scope.ORDERS: Order.__table__,  # type: ignore[attr-defined]
    Scope.WALLETS: Wallet.__table__,  # type: ignore[attr-defined]
    Scope.VERIFICATIONS: Verification.__table__,  # type: ignore[attr-defined]
    Scope.EVENTS: Event.__table__,  # type: ignore[attr-defined]
}


@dataclass(frozen=True)
class SegmentDefinition:
    """What a `segment` reference needs: a predicate to inline, or a stored member list."""

    pk: int
    predicate: Node | None


class SegmentSource(Protocol):
    def definition(self, segment_id: str) -> SegmentDefinition | None: ...


class NoSegments:
    def definition(self, segment_id: str) -> SegmentDefinition | None:
        return None


StaticMembers = Callable[[int], Bool]


@dataclass(frozen=True)
class CompileContext:
    now: datetime
    catalog: FieldCatalog
    segments: SegmentSource = field(default_factory=NoSegments)
    static_members: StaticMembers | None = None
    workspace_pk: int | None = None  # narrows grouped COUNT subqueries to one workspace


class UnknownSegment(Exception):
    """A reference to a segment that no longer exists (validation normally catches it)."""


def compile_predicate(node: Node, ctx: CompileContext) -> Bool:
    """The membership condition for `customer` rows (correlate with `customer_table`)."""
    return PredicateCompiler(ctx).node(node, None)


# --- the compiler -------------------------------------------------------------


class PredicateCompiler:
    """One compile: node by node, with fresh aliases (persistence.boundaries reuses it)."""

    def __init__(self, ctx: CompileContext) -> None:
        self.ctx = ctx
        self.aliases = 0

    def alias(self, scope: Scope) -> Any:
        """A fresh, deterministic alias: the same predicate always compiles to the same SQL."""
        self.aliases += 1
        return SCOPE_TABLE[scope].alias(f"{scope.value.lower()}_{self.aliases}")

    def node(self, node: Node, scope: tuple[Scope, Any] | None) -> Bool:
        if isinstance(node, And):
            return and_(*(self.node(n, scope) for n in node.children))
        if isinstance(node, Or):
            return or_(*(self.node(n, scope) for n in node.children))
        if isinstance(node, Not):
            return not_(self.node(node.child, scope))
        if isinstance(node, Condition):
            target = self.scope_value(node, scope) if scope else self.customer_value(node)
            return self.condition(node, target)
        if isinstance(node, Related):
            return self.related(node)
        if isinstance(node, SegmentRef):
            return self.segment(node)
        raise TypeError(f"not a predicate node: {node!r}")

    # ---- values --------------------------------------------------------

    def customer_value(self, cond: Condition) -> _Target:
        path = cond.field
        if path == "hasParent":
            return _Target(c.c.parent_id.is_not(None), FieldType.BOOLEAN, always=True)
        if path == "hasChild":
            has_child = exists().where(
                child.c.workspace_pk == c.c.workspace_pk, child.c.parent_id == c.c.id
            )
            return _Target(has_child, FieldType.BOOLEAN, always=True)
        if path.startswith(CUSTOM_PROPERTY_PREFIX):
            return self.property_value(path[len(CUSTOM_PROPERTY_PREFIX) :])
        descriptor = self.ctx.catalog.customer_field(path)
        assert descriptor is not None and descriptor.type is not None, path
        return _Target(c.c[snake(path)], descriptor.type)

    def property_value(self, key: str) -> _Target:
        definition = self.ctx.catalog.custom_property(key)
        assert definition is not None, key
        ptype = definition.type
        if ptype is PropertyType.STRING and definition.allowed_values:
            return _Target(json_text(c.c.properties, key), FieldType.ENUM, json_key=key)
        field_type = {
            PropertyType.STRING: FieldType.STRING,
            PropertyType.NUMBER: FieldType.NUMBER,
            PropertyType.BOOLEAN: FieldType.BOOLEAN,
            PropertyType.DATETIME: FieldType.DATETIME,
        }[ptype]
        expr = typed_json(c.c.properties, key, field_type)
        return _Target(expr, field_type, json_key=key, datetime_as_text=True)

    def scope_value(self, cond: Condition, scope: tuple[Scope, Any]) -> _Target:
        which, table = scope
        path = cond.field
        if path.startswith(CUSTOM_PROPERTY_PREFIX):  # EVENTS: typed by the operand
            key = path[len(CUSTOM_PROPERTY_PREFIX) :]
            field_type = operand_type(cond.values)
            if field_type is None:  # EXISTS / NOT_EXISTS: any non-null JSON value
                present = func.coalesce(func.jsonb_typeof(table.c.properties[key]), "null")
                return _Target(present != "null", FieldType.BOOLEAN, presence_only=True)
            return _Target(typed_json(table.c.properties, key, field_type), field_type)
        descriptor = self.ctx.catalog.scope_field(which, path)
        assert descriptor is not None and descriptor.type is not None, path
        return _Target(table.c[snake(path)], descriptor.type)

    def operand(self, value: Value, target: _Target) -> Any:
        if isinstance(value, RelativeTime):
            value = value.resolve(self.ctx.now)
        if isinstance(value, datetime) and target.datetime_as_text:
            return sortable_instant(value)
        return value

    # ---- conditions ----------------------------------------------------

    def condition(self, cond: Condition, target: _Target) -> Bool:
        op = cond.operator
        expr = target.expr
        if target.presence_only:
            present = cast(Bool, expr)
            return present if op is Operator.EXISTS else not_(present)
        if op is Operator.EXISTS:
            return true() if target.always else expr.is_not(None)
        if op is Operator.NOT_EXISTS:
            return false() if target.always else expr.is_(None)
        values = [self.operand(v, target) for v in cond.values]
        if op is Operator.MATCHES:
            pattern = f"^(?:{ascii_class_escapes(values[0])})$"
            compared: Bool = expr.op("~*" if cond.case_insensitive else "~")(pattern)
        elif cond.case_insensitive:
            # Both sides lowered by the database: Python's str.lower() is the full Unicode
            # mapping (İ -> i̇) where lower() is the simple one (İ -> i), so a value could
            # differ from itself.
            lowered = [func.lower(literal(v, String())) for v in values]
            compared = compare(op, func.lower(expr), lowered)
        elif op is Operator.EQ and target.json_key is not None and target.type in JSON_EXACT:
            compared = self.json_contains(target.json_key, values[0])
        elif target.type is FieldType.STRING and op in ORDER_OPERATORS:
            compared = compare(op, expr.collate("C"), values)  # strings compare by code point
        else:
            compared = compare(op, expr, values)
        if target.always:
            return compared
        return and_(compared, target.expr.is_not(None))

    def json_contains(self, key: str, value: Any) -> Bool:
        """EQ on a string or boolean custom property as `properties @> {key: value}` (GIN)."""
        document = literal({key: value}, type_=JSONB)
        return c.c.properties.op("@>")(document)

    # ---- related scopes ------------------------------------------------

    def related(self, node: Related) -> Bool:
        table = self.alias(node.scope)
        mine = of_customer(table)
        if node.last is not None:
            return self.related_last(node, table)
        matching = self.node(node.where, (node.scope, table)) if node.where else true()
        if node.quantifier is Quantifier.ANY:
            return exists().where(mine, matching)
        if node.quantifier is Quantifier.ALL:
            return and_(exists().where(mine), not_(exists().where(mine, not_(matching))))
        assert node.count is not None
        return count_matches(node.count, table, matching, self.ctx.workspace_pk)

    def related_last(self, node: Related, table: Any) -> Bool:
        """Narrow to the N most recent records, then quantify.

        Newest time first, no time last; ties by id descending by code point, an
        event without id (they are optional) after those with one; then the most
        recently stored first, so the N records are always the same ones.
        """
        recent = self.recent_records(node, table)
        matching = self.node(node.where, (node.scope, recent)) if node.where else true()
        if node.quantifier is Quantifier.ANY:
            return exists().select_from(recent).where(matching)
        if node.quantifier is Quantifier.ALL:
            any_record = exists().where(of_customer(table))
            return and_(any_record, not_(exists().select_from(recent).where(not_(matching))))
        assert node.count is not None
        counted = select(func.count()).select_from(recent).where(matching).scalar_subquery()
        return count_compare(node.count, counted)

    def recent_records(self, node: Related, table: Any) -> Any:
        """The customer's `node.last` most recent records of `table`, as a subquery."""
        assert node.last is not None
        time_field = SCOPE_TIME_FIELD[node.scope]
        assert time_field is not None
        return (
            select(table)
            .where(of_customer(table))
            .order_by(
                table.c[snake(time_field)].desc().nulls_last(),
                table.c.id.collate("C").desc().nulls_last(),
                table.c.pk.desc(),
            )
            .limit(node.last)
            .correlate(c)
            .subquery(f"last_{node.scope.value.lower()}_{self.aliases}")
        )

    # ---- segment references ------------------------------------------

    def segment(self, node: SegmentRef) -> Bool:
        definition = self.ctx.segments.definition(node.segment_id)
        if definition is None:
            raise UnknownSegment(node.segment_id)
        if definition.predicate is not None:
            return self.node(definition.predicate, None)
        if self.ctx.static_members is None:
            raise UnknownSegment(node.segment_id)
        return self.ctx.static_members(definition.pk)


ORDER_OPERATORS = frozenset(
    {Operator.GT, Operator.GTE, Operator.LT, Operator.LTE, Operator.BETWEEN}
)


@dataclass(frozen=True)
class _Target:
    """A field's SQL value and how to compare it."""

    expr: Any
    type: FieldType
    always: bool = False  # derived booleans always have a value
    json_key: str | None = None  # a customer custom property
    datetime_as_text: bool = False  # DATETIME properties are stored as sortable text
    presence_only: bool = False  # untyped EXISTS on an event property


def json_text(column: Any, key: str) -> Expr:
    """`column ->> 'key'` with the key as a literal, matching expression indexes; it is text."""
    return cast(Expr, column.op("->>", return_type=String())(literal_column(f"'{key}'")))


def json_value(column: Any, key: str) -> Expr:
    return cast(Expr, column.op("->")(literal_column(f"'{key}'")))


def typed_json(column: Any, key: str, field_type: FieldType) -> Expr:
    """A JSON member as a typed SQL value; a stored value of another JSON type has no value.

    NUMBER and BOOLEAN match persistence.custom_properties.property_index_sql exactly.
    """
    jtype: tuple[str, Any] | None = {
        FieldType.NUMBER: ("number", Numeric()),
        FieldType.BOOLEAN: ("boolean", Boolean()),
    }.get(field_type)
    if jtype is None:  # STRING, ENUM, DATETIME (stored as sortable text)
        if column is c.c.properties:
            return json_text(column, key)
        return case(
            (func.jsonb_typeof(json_value(column, key)) == "string", json_text(column, key)),
            else_=literal(None, String()),
        )
    type_name, sql_type = jtype
    return case(
        (
            func.jsonb_typeof(json_value(column, key)) == type_name,
            func.cast(json_text(column, key), sql_type),
        ),
        else_=literal(None, sql_type),
    )


CLASS_ESCAPES = {"d": "0-9", "w": "A-Za-z0-9_", "s": " \t\n\r\f\v"}


def ascii_class_escapes(pattern: str) -> str:
    """A validated MATCHES pattern with `\\d \\w \\s` spelled out as the ASCII sets they mean.

    domain.pattern defines them as `[0-9]`, `[A-Za-z0-9_]`, `[ \\t\\n\\r\\f\\v]`;
    PostgreSQL reads them by the locale (`\\w` takes `é`, `\\s` an em space).
    """
    out: list[str] = []
    in_class, class_start, i = False, 0, 0
    while i < len(pattern):
        char = pattern[i]
        if char == "\\":
            body = CLASS_ESCAPES.get(pattern[i + 1])
            if body is None:
                out.append(pattern[i : i + 2])
            else:
                out.append(body if in_class else f"[{body}]")
            i += 2
            continue
        if char == "[" and not in_class:
            in_class = True
            class_start = i + 2 if pattern.startswith("[^", i) else i + 1
            out.append(pattern[i:class_start])  # `]` right after `[` or `[^` is a literal
            i = class_start
            continue
        if char == "]" and in_class and i > class_start:
            in_class = False
        out.append(char)
        i += 1
    return "".join(out)


def operand_type(values: Sequence[Value]) -> FieldType | None:
    if not values:
        return None
    first = values[0]
    if isinstance(first, bool):
        return FieldType.BOOLEAN
    if isinstance(first, Decimal):
        return FieldType.NUMBER
    return FieldType.STRING


JSON_EXACT = frozenset({FieldType.STRING, FieldType.ENUM, FieldType.BOOLEAN})


def compare(op: Operator, expr: Expr, values: list[Any]) -> Bool:
    if op is Operator.IN:
        return expr.in_(values)
    if op is Operator.NOT_IN:
        return expr.not_in(values)
    if op is Operator.BETWEEN:
        return and_(expr >= values[0], expr <= values[1])
    binary = {
        Operator.EQ: operator.eq,
        Operator.NEQ: operator.ne,
        Operator.GT: operator.gt,
        Operator.GTE: operator.ge,
        Operator.LT: operator.lt,
        Operator.LTE: operator.le,
    }.get(op)
    if binary is None:
        raise ValueError(f"{op} is not a comparison")
    return cast(Bool, binary(expr, values[0]))
