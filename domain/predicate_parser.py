"""From the JSON form of a predicate to a checked `Node` tree.

`parse_predicate` is the only door into `domain.predicate` for user input. It
reports every problem it finds at once, each as a `DomainError` whose `field`
is the path of the offending part (`predicate.and[2].condition.value` split
on dots), and raises nothing but `ValidationFailed` whatever JSON it is given.

Conventions beyond PREDICATES.md (also in docs/predicates.md):

- An optional key set to `null` is the same as the key left out, since
  many clients serialise unset fields as null.
- Inside a `related.where`, nodes are `and`, `or`, `not` and `condition` on
  the scope's fields only; `related` and `segment` are about customers.
- Limits: a tree of at most 200 nodes (every predicate object, `where`
  subtrees included), depth at most 10 (the root is at depth 1, a `where`
  root one below its `related`), 1..50 children, 1..200 `values`.
- EVENTS `properties.KEY` takes its type from the operand: a string is a
  STRING even when it looks like a datetime (event properties are compared
  as stored; `occurredAt` is the event's time).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from domain.custom_property import storable_text
from domain.errors import DomainError, ErrorCode, ValidationFailed
from domain.fields import (
    CASE_INSENSITIVE_OPERATORS,
    CASE_INSENSITIVE_TYPES,
    CUSTOM_PROPERTY_PREFIX,
    OPERATORS_BY_TYPE,
    FieldCatalog,
    FieldDescriptor,
    FieldType,
)
from domain.instant import parse_instant
from domain.pattern import validate_pattern
from domain.predicate import (
    LIST_OPERATORS,
    MAX_RELATIVE_AMOUNT,
    NO_OPERAND_OPERATORS,
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
    SegmentRef,
    Value,
    parse_relative_time,
)

MAX_CHILDREN = 50
MAX_NODES = 200
MAX_DEPTH = 10
MAX_VALUES = 200
MAX_LAST = 100
MAX_COUNT = 2**31 - 1
MAX_SEGMENT_ID_LENGTH = 64

NODE_KEYS = ("and", "or", "not", "condition", "related", "segment")
WHERE_NODE_KEYS = ("and", "or", "not", "condition")
CONDITION_KEYS = frozenset({"field", "operator", "value", "values", "caseInsensitive"})
RELATED_KEYS = frozenset({"scope", "quantifier", "where", "count", "last"})
COUNT_KEYS = frozenset({"operator", "value", "values"})
_COMPARISONS = (Operator.EQ, Operator.NEQ, Operator.GT, Operator.GTE, Operator.LT, Operator.LTE)
COUNT_OPERATORS = frozenset({*_COMPARISONS, Operator.BETWEEN})
"""A `count` takes EQ NEQ GT GTE LT LTE with a `value`, or BETWEEN with `values`."""

_RELATIVE_HELP = (
    "A relative time is now, or now followed by + or -, a whole number up to "
    f"{MAX_RELATIVE_AMOUNT} and a unit m, h, d or w, such as now-30d."
)

Path = tuple[str, ...]


def parse_predicate(
    raw: object, catalog: FieldCatalog, *, path: tuple[str, ...] = ("predicate",)
) -> Node:
    """The checked tree for `raw`, or ValidationFailed listing every problem found."""
    parser = _Parser(catalog, path)
    node = parser.node(raw, path, depth=1, scope=None)
    if parser.errors:
        raise ValidationFailed(parser.errors)
    if node is None:  # every failure records an error; this is a safety net
        raise ValidationFailed([DomainError(ErrorCode.INVALID, "Invalid predicate.", path)])
    return node


@dataclass(frozen=True)
class _Operand:
    raw: object
    path: Path


def _quote(text: str) -> str:
    return repr(text if len(text) <= 64 else text[:64] + "...")


def _is_number(raw: object) -> bool:
    return isinstance(raw, int | float) and not isinstance(raw, bool)


class _Parser:
    """One parse: the catalog, the errors found so far, the node budget."""

    def __init__(self, catalog: FieldCatalog, root: Path) -> None:
        self.catalog = catalog
        self.root = root
        self.errors: list[DomainError] = []
        self.nodes = 0
        self.reported: set[ErrorCode] = set()

    def error(self, code: ErrorCode, message: str, path: Path) -> None:
        self.errors.append(DomainError(code, message, path))

    def error_once(self, code: ErrorCode, message: str, path: Path) -> None:
        """Limits are reported once per tree, not at every node past them."""
        if code not in self.reported:
            self.reported.add(code)
            self.error(code, message, path)

    def failed_since(self, mark: int) -> bool:
        return len(self.errors) > mark

    def unknown_keys(self, body: dict[Any, Any], allowed: frozenset[str], here: Path) -> None:
        for key in body:
            if key not in allowed:
                expected = ", ".join(sorted(allowed))
                self.error(
                    ErrorCode.INVALID,
                    f"Unknown key; expected one of {expected}.",
                    (*here, str(key)),
                )

    # --- nodes -------------------------------------------------------------

    def node(self, raw: object, path: Path, depth: int, scope: Scope | None) -> Node | None:
        if depth > MAX_DEPTH:
            self.error_once(
                ErrorCode.TOO_DEEP, f"A predicate is at most {MAX_DEPTH} levels deep.", path
            )
            return None
        self.nodes += 1
        if self.nodes > MAX_NODES:
            self.error_once(
                ErrorCode.TOO_MANY_NODES, f"A predicate has at most {MAX_NODES} nodes.", self.root
            )
            return None
        keys = NODE_KEYS if scope is None else WHERE_NODE_KEYS
        if not isinstance(raw, dict) or len(raw) != 1 or next(iter(raw)) not in keys:
            where = "" if scope is None else " inside a related where"
            message = f"A predicate node{where} is an object with one key: {', '.join(keys)}."
            self.error(ErrorCode.UNKNOWN_NODE, message, path)
            return None
        ((key, body),) = raw.items()
        if key in ("and", "or"):
            return self.junction(key, body, path, depth, scope)
        if key == "not":
            child = self.node(body, (*path, "not"), depth + 1, scope)
            return None if child is None else Not(child)
        if key == "condition":
            return self.condition(body, (*path, "condition"), scope)
        if key == "related":
            return self.related(body, path, depth)
        return self.segment(body, (*path, "segment"))

    def junction(
        self, key: str, body: object, path: Path, depth: int, scope: Scope | None
    ) -> Node | None:
        here = (*path, key)
        if not isinstance(body, list):
            self.error(ErrorCode.INVALID, f"{key} takes a list of predicates.", here)
            return None
        if not body:
            self.error(ErrorCode.VALUE_COUNT, f"{key} needs at least one predicate.", here)
        elif len(body) > MAX_CHILDREN:
            self.error(ErrorCode.TOO_MANY, f"{key} takes at most {MAX_CHILDREN} predicates.", here)
        children: list[Node | None] = []
        for index, child in enumerate(body):
            if self.nodes > MAX_NODES:
                break
            children.append(self.node(child, (*path, f"{key}[{index}]"), depth + 1, scope))
        nodes = tuple(child for child in children if child is not None)
        if len(nodes) != len(body):
            return None
        return And(nodes) if key == "and" else Or(nodes)

    def segment(self, body: object, here: Path) -> SegmentRef | None:
        if (
            not isinstance(body, str)
            or not 0 < len(body) <= MAX_SEGMENT_ID_LENGTH
            or not storable_text(body)
        ):
            self.error(
                ErrorCode.INVALID,
                f"segment takes a segment id of 1 to {MAX_SEGMENT_ID_LENGTH} characters.",
                here,
            )
            return None
        return SegmentRef(body)

    # --- conditions --------------------------------------------------------

    def condition(self, body: object, here: Path, scope: Scope | None) -> Condition | None:
        if not isinstance(body, dict):
            self.error(
                ErrorCode.INVALID, "A condition is an object with field, operator and value.", here
            )
            return None
        mark = len(self.errors)
        self.unknown_keys(body, CONDITION_KEYS, here)
        descriptor = self.field(body.get("field"), (*here, "field"), scope)
        operator = self.operator(body.get("operator"), (*here, "operator"), frozenset(Operator))
        case_insensitive = self.case_insensitive(body.get("caseInsensitive"), here)
        operands = None if operator is None else self.operands(body, operator, here)
        if descriptor is None or operator is None or operands is None or self.failed_since(mark):
            return None
        field_type = self.field_type(descriptor, operator, operands)
        if self.failed_since(mark):
            return None
        allowed = descriptor.operators if field_type is None else OPERATORS_BY_TYPE[field_type]
        if operator not in allowed:
            kind = _type_name(field_type)
            message = f"{operator.name} does not apply to {kind} field {descriptor.path}."
            self.error(ErrorCode.OPERATOR_NOT_ALLOWED, message, (*here, "operator"))
            return None
        if case_insensitive and (
            field_type not in CASE_INSENSITIVE_TYPES or operator not in CASE_INSENSITIVE_OPERATORS
        ):
            self.error(
                ErrorCode.OPERATOR_NOT_ALLOWED,
                "caseInsensitive applies to EQ, NEQ, IN, NOT_IN and MATCHES on strings only.",
                (*here, "caseInsensitive"),
            )
            return None
        values = [
            self.operand(field_type, descriptor, operator, case_insensitive, o) for o in operands
        ]
        checked = tuple(value for value in values if value is not None)
        if len(checked) != len(values):
            return None
        if operator is Operator.BETWEEN and _out_of_order(checked[0], checked[1]):
            self.error(
                ErrorCode.BETWEEN_RANGE,
                "BETWEEN takes [low, high] with low <= high.",
                (*here, "values"),
            )
            return None
        return Condition(descriptor.path, operator, checked, case_insensitive)

    def field(self, raw: object, path: Path, scope: Scope | None) -> FieldDescriptor | None:
        if raw is None:
            self.error(ErrorCode.REQUIRED, "A condition names a field.", path)
            return None
        if not isinstance(raw, str):
            self.error(ErrorCode.UNKNOWN_FIELD, "A field is a path such as country.", path)
            return None
        if scope is None:
            descriptor = self.catalog.customer_field(raw)
        else:
            descriptor = self.catalog.scope_field(scope, raw)
        if descriptor is not None:
            return descriptor
        if scope is not None:
            message = f"{scope.name} records have no field {_quote(raw)}."
        elif raw.startswith(CUSTOM_PROPERTY_PREFIX):
            message = f"{_quote(raw)} is not a declared custom property."
        else:
            message = f"Unknown customer field {_quote(raw)}."
        self.error(ErrorCode.UNKNOWN_FIELD, message, path)
        return None

    def operator(self, raw: object, path: Path, allowed: frozenset[Operator]) -> Operator | None:
        if raw is None:
            self.error(ErrorCode.REQUIRED, "A condition needs an operator.", path)
            return None
        if not isinstance(raw, str) or raw not in Operator.__members__:
            self.error(
                ErrorCode.UNKNOWN_OPERATOR,
                f"Unknown operator; the operators are {', '.join(Operator.__members__)}.",
                path,
            )
            return None
        operator = Operator[raw]
        if operator not in allowed:
            names = ", ".join(op.name for op in Operator if op in allowed)
            self.error(
                ErrorCode.OPERATOR_NOT_ALLOWED, f"The operator here is one of {names}.", path
            )
            return None
        return operator

    def case_insensitive(self, raw: object, here: Path) -> bool:
        if raw is not None and not isinstance(raw, bool):
            self.error(
                ErrorCode.INVALID, "caseInsensitive is true or false.", (*here, "caseInsensitive")
            )
        return raw is True

    def operands(
        self, body: dict[Any, Any], operator: Operator, here: Path
    ) -> list[_Operand] | None:
        """The raw operands, once their number fits the operator."""
        value, values = body.get("value"), body.get("values")
        name = operator.name
        if operator in NO_OPERAND_OPERATORS:
            for key, given in (("value", value), ("values", values)):
                if given is not None:
                    self.error(ErrorCode.VALUE_COUNT, f"{name} takes no value.", (*here, key))
            return None if value is not None or values is not None else []
        if operator not in LIST_OPERATORS:
            if values is not None:
                self.error(
                    ErrorCode.VALUE_COUNT, f"{name} takes one value, not values.", (*here, "values")
                )
            if value is None:
                self.error(ErrorCode.VALUE_COUNT, f"{name} needs a value.", (*here, "value"))
            return (
                None if value is None or values is not None else [_Operand(value, (*here, "value"))]
            )
        return self.operand_list(value, values, operator, here)

    def operand_list(
        self, value: object, values: object, operator: Operator, here: Path
    ) -> list[_Operand] | None:
        mark = len(self.errors)
        name, path = operator.name, (*here, "values")
        if value is not None:
            self.error(
                ErrorCode.VALUE_COUNT, f"{name} takes values, a list, not value.", (*here, "value")
            )
        if values is None:
            self.error(ErrorCode.VALUE_COUNT, f"{name} needs values, a list.", path)
        elif not isinstance(values, list):
            self.error(ErrorCode.VALUE_TYPE_MISMATCH, "values is a list.", path)
        elif operator is Operator.BETWEEN and len(values) != 2:
            self.error(
                ErrorCode.VALUE_COUNT, "BETWEEN takes exactly two values, [low, high].", path
            )
        elif not values:
            self.error(ErrorCode.VALUE_COUNT, f"{name} needs at least one value.", path)
        elif len(values) > MAX_VALUES:
            self.error(ErrorCode.TOO_MANY, f"{name} takes at most {MAX_VALUES} values.", path)
        if self.failed_since(mark) or not isinstance(values, list):
            return None
        return [_Operand(item, (*here, f"values[{index}]")) for index, item in enumerate(values)]

    def field_type(
        self, descriptor: FieldDescriptor, operator: Operator, operands: list[_Operand]
    ) -> FieldType | None:
        """The descriptor's type; for an untyped EVENTS property, the operands' common type."""
        if descriptor.type is not None:
            return descriptor.type
        if operator is Operator.MATCHES:
            return FieldType.STRING
        common: FieldType | None = None
        for operand in operands:
            found = _json_type(operand.raw)
            if found is None:
                message = "An event property is compared with a string, a number or a boolean."
                self.error(ErrorCode.VALUE_TYPE_MISMATCH, message, operand.path)
            elif common is not None and found is not common:
                message = f"All values of a condition have one type; the first is a {common.name}."
                self.error(ErrorCode.VALUE_TYPE_MISMATCH, message, operand.path)
            elif common is None:
                common = found
        return common

    # --- operands ----------------------------------------------------------

    def operand(
        self,
        field_type: FieldType | None,
        descriptor: FieldDescriptor,
        operator: Operator,
        case_insensitive: bool,
        operand: _Operand,
    ) -> Value | None:
        raw, path = operand.raw, operand.path
        if operator is Operator.MATCHES:
            return self.pattern(raw, path)
        if field_type is FieldType.NUMBER:
            if not _is_number(raw) or (isinstance(raw, float) and not math.isfinite(raw)):
                self.error(
                    ErrorCode.VALUE_TYPE_MISMATCH, f"{descriptor.path} takes a number.", path
                )
                return None
            return Decimal(raw) if isinstance(raw, int) else Decimal(str(raw))
        if field_type is FieldType.BOOLEAN:
            if not isinstance(raw, bool):
                self.error(
                    ErrorCode.VALUE_TYPE_MISMATCH, f"{descriptor.path} takes true or false.", path
                )
                return None
            return raw
        if field_type is FieldType.DATETIME:
            return self.moment(raw, descriptor, path)
        text = self.text(raw, descriptor, path)
        if text is None or field_type is not FieldType.ENUM:
            return text
        allowed = descriptor.allowed_values or ()
        folded = {value.casefold() for value in allowed} if case_insensitive else set()
        if text not in allowed and text.casefold() not in folded:
            message = f"{descriptor.path} is one of {', '.join(allowed)}."
            self.error(ErrorCode.INVALID_ENUM_VALUE, message, path)
            return None
        return text

    def text(self, raw: object, descriptor: FieldDescriptor, path: Path) -> str | None:
        if not isinstance(raw, str):
            self.error(ErrorCode.VALUE_TYPE_MISMATCH, f"{descriptor.path} takes a string.", path)
            return None
        if not storable_text(raw):
            self.error(
                ErrorCode.INVALID, "Text cannot hold NUL or unpaired surrogate characters.", path
            )
            return None
        return raw

    def pattern(self, raw: object, path: Path) -> str | None:
        if not isinstance(raw, str):
            self.error(ErrorCode.VALUE_TYPE_MISMATCH, "MATCHES takes a pattern, a string.", path)
            return None
        if not storable_text(raw):
            self.error(
                ErrorCode.INVALID_PATTERN,
                "A pattern cannot hold NUL or unpaired surrogate characters.",
                path,
            )
            return None
        try:
            validate_pattern(raw)
        except DomainError as problem:
            self.errors.append(problem.at(*path))
            return None
        return raw

    def moment(
        self, raw: object, descriptor: FieldDescriptor, path: Path
    ) -> datetime | RelativeTime | None:
        if not isinstance(raw, str):
            message = (
                f"{descriptor.path} takes an ISO-8601 datetime or a relative time such as now-30d."
            )
            self.error(ErrorCode.VALUE_TYPE_MISMATCH, message, path)
            return None
        if raw[:3].lower() == "now":
            relative = parse_relative_time(raw)
            if relative is None:
                self.error(ErrorCode.INVALID_RELATIVE_TIME, _RELATIVE_HELP, path)
            return relative
        instant = parse_instant(raw)
        if instant is None:
            message = "Not an ISO-8601 datetime such as 2026-01-31T12:00:00Z or 2026-01-31."
            self.error(ErrorCode.INVALID_DATETIME, message, path)
        return instant

    # --- related -----------------------------------------------------------

    def related(self, body: object, path: Path, depth: int) -> Related | None:
        here = (*path, "related")
        if not isinstance(body, dict):
            self.error(
                ErrorCode.INVALID,
                "related is an object with scope, quantifier and optionally where, count, last.",
                here,
            )
            return None
        mark = len(self.errors)
        self.unknown_keys(body, RELATED_KEYS, here)
        scope = self.scope(body.get("scope"), (*here, "scope"))
        quantifier = self.quantifier(body.get("quantifier"), (*here, "quantifier"))
        last = self.last(body.get("last"), scope, (*here, "last"))
        count = self.count(body.get("count"), quantifier, (*here, "count"))
        where: Node | None = None
        if scope is not None and body.get("where") is not None:
            where = self.node(body["where"], (*here, "where"), depth + 1, scope)
        if scope is None or quantifier is None or self.failed_since(mark):
            return None
        return Related(scope, quantifier, where, count, last)

    def scope(self, raw: object, path: Path) -> Scope | None:
        if raw is None:
            self.error(ErrorCode.REQUIRED, "related needs a scope.", path)
            return None
        if not isinstance(raw, str) or raw not in Scope.__members__:
            names = ", ".join(scope.name for scope in Scope)
            self.error(ErrorCode.UNKNOWN_SCOPE, f"The scope is one of {names}.", path)
            return None
        return Scope[raw]

    def quantifier(self, raw: object, path: Path) -> Quantifier | None:
        if raw is None:
            self.error(ErrorCode.REQUIRED, "related needs a quantifier: ANY, ALL or COUNT.", path)
            return None
        if not isinstance(raw, str) or raw not in Quantifier.__members__:
            self.error(ErrorCode.INVALID_QUANTIFIER, "The quantifier is ANY, ALL or COUNT.", path)
            return None
        return Quantifier[raw]

    def last(self, raw: object, scope: Scope | None, path: Path) -> int | None:
        if raw is None:
            return None
        if isinstance(raw, bool) or not isinstance(raw, int) or not 1 <= raw <= MAX_LAST:
            self.error(
                ErrorCode.INVALID_LAST, f"last is a whole number from 1 to {MAX_LAST}.", path
            )
            return None
        if scope is Scope.WALLETS:
            self.error(
                ErrorCode.INVALID_LAST,
                "WALLETS records have no time field, so last does not apply.",
                path,
            )
            return None
        return raw

    def count(
        self, raw: object, quantifier: Quantifier | None, here: Path
    ) -> CountComparison | None:
        if raw is None:
            if quantifier is Quantifier.COUNT:
                self.error(ErrorCode.REQUIRED, "COUNT needs a count comparison.", here)
            return None
        if quantifier is not None and quantifier is not Quantifier.COUNT:
            self.error(ErrorCode.INVALID, "count applies to the COUNT quantifier only.", here)
            return None
        if not isinstance(raw, dict):
            self.error(
                ErrorCode.INVALID, "count is an object with operator and value (or values).", here
            )
            return None
        mark = len(self.errors)
        self.unknown_keys(raw, COUNT_KEYS, here)
        operator = self.operator(raw.get("operator"), (*here, "operator"), COUNT_OPERATORS)
        operands = None if operator is None else self.operands(raw, operator, here)
        if operator is None or operands is None or self.failed_since(mark):
            return None
        values = [self.count_value(operand) for operand in operands]
        checked = tuple(value for value in values if value is not None)
        if len(checked) != len(values):
            return None
        if operator is Operator.BETWEEN and checked[0] > checked[1]:
            self.error(
                ErrorCode.BETWEEN_RANGE,
                "BETWEEN takes [low, high] with low <= high.",
                (*here, "values"),
            )
            return None
        return CountComparison(operator, checked)

    def count_value(self, operand: _Operand) -> int | None:
        raw = operand.raw
        if isinstance(raw, bool) or not isinstance(raw, int) or not 0 <= raw <= MAX_COUNT:
            message = f"A count is a whole number from 0 to {MAX_COUNT}."
            self.error(ErrorCode.VALUE_TYPE_MISMATCH, message, operand.path)
            return None
        return raw


def _json_type(raw: object) -> FieldType | None:
    if isinstance(raw, bool):
        return FieldType.BOOLEAN
    if _is_number(raw):
        return FieldType.NUMBER
    if isinstance(raw, str):
        return FieldType.STRING
    return None


def _type_name(field_type: FieldType | None) -> str:
    return "an untyped" if field_type is None else f"a {field_type.name}"


def _out_of_order(low: Value, high: Value) -> bool:
    """Whether BETWEEN's bounds are reversed; absolute against relative is not checked."""
    if isinstance(low, RelativeTime) and isinstance(high, RelativeTime):
        return low.offset > high.offset
    if isinstance(low, bool) or isinstance(high, bool):
        return False
    if isinstance(low, Decimal) and isinstance(high, Decimal):
        return low > high
    if isinstance(low, datetime) and isinstance(high, datetime):
        return low > high
    if isinstance(low, str) and isinstance(high, str):
        return low > high
    return False
