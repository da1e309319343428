"""A predicate as one line of text, for people (`Segment.predicateText`).

    country IN ("FR", "DE") AND invoices COUNT(status = "OPEN") >= 2
    NOT taxId EXISTS
    email MATCHES /.*@acme\\.com/i
    invoices LAST 3 ALL(status = "PAID")
    segment(seg_01J...)

NOT binds tighter than AND, AND tighter than OR; parentheses appear only
where that order needs them. Strings are quoted as JSON strings, numbers,
datetimes (`2026-01-31T00:00:00Z`) and relative times (`now-30d`) are bare.
The text is for reading only; the JSON form is what the API accepts.
"""

from __future__ import annotations

import json

from domain.predicate import (
    And,
    Condition,
    CountComparison,
    Node,
    Not,
    Operator,
    Or,
    Related,
    Value,
    value_to_json,
)

_SYMBOLS = {
    Operator.EQ: "=",
    Operator.NEQ: "!=",
    Operator.GT: ">",
    Operator.GTE: ">=",
    Operator.LT: "<",
    Operator.LTE: "<=",
}

_OR, _AND, _ATOM = 1, 2, 3  # binding strength of what a text is made of


def render(node: Node) -> str:
    """The human-readable form of `node`; the same tree always gives the same text."""
    return _render(node)[0]


def _render(node: Node) -> tuple[str, int]:
    if isinstance(node, Or):
        return " OR ".join(_wrapped(child, _OR) for child in node.children), _OR
    if isinstance(node, And):
        return " AND ".join(_wrapped(child, _AND) for child in node.children), _AND
    if isinstance(node, Not):
        return "NOT " + _wrapped(node.child, _ATOM), _ATOM
    if isinstance(node, Condition):
        return _condition(node), _ATOM
    if isinstance(node, Related):
        return _related(node), _ATOM
    return f"segment({node.segment_id})", _ATOM


def _wrapped(node: Node, strength: int) -> str:
    """`node`'s text, in parentheses if it binds more loosely than `strength` needs."""
    text, own = _render(node)
    return text if own >= strength else f"({text})"


def _condition(condition: Condition) -> str:
    field, operator, values = condition.field, condition.operator, condition.values
    suffix = " (ignoring case)" if condition.case_insensitive else ""
    if operator is Operator.MATCHES:
        pattern = str(values[0]).replace("/", "\\/")
        flags = "i" if condition.case_insensitive else ""
        return f"{field} MATCHES /{pattern}/{flags}"
    if operator is Operator.EXISTS:
        return f"{field} EXISTS"
    if operator is Operator.NOT_EXISTS:
        return f"{field} NOT EXISTS"
    if operator is Operator.BETWEEN:
        return f"{field} BETWEEN {_value(values[0])} AND {_value(values[1])}"
    if operator in (Operator.IN, Operator.NOT_IN):
        word = "IN" if operator is Operator.IN else "NOT IN"
        listed = ", ".join(_value(value) for value in values)
        return f"{field} {word} ({listed}){suffix}"
    return f"{field} {_SYMBOLS[operator]} {_value(values[0])}{suffix}"


def _value(value: Value) -> str:
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    as_json = value_to_json(value)
    if isinstance(as_json, bool):
        return "true" if as_json else "false"
    return str(as_json)


def _related(related: Related) -> str:
    text = related.scope.name.lower()
    if related.last is not None:
        text += f" LAST {related.last}"
    inner = "*" if related.where is None else _render(related.where)[0]
    text += f" {related.quantifier.name}({inner})"
    if related.count is not None:
        text += " " + _count(related.count)
    return text


def _count(count: CountComparison) -> str:
    if count.operator is Operator.BETWEEN:
        return f"BETWEEN {count.values[0]} AND {count.values[1]}"
    return f"{_SYMBOLS[count.operator]} {count.values[0]}"
