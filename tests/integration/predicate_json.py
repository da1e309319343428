"""Short builders for predicates in their JSON form, and the table-case record."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

Json = dict[str, Any]
_MISSING = object()


def cond(field: str, operator: str, value: Any = _MISSING, *, ci: bool = False) -> Json:
    """A condition; a list `value` goes into `values`, nothing for EXISTS / NOT_EXISTS."""
    body: Json = {"field": field, "operator": operator}
    if isinstance(value, list):
        body["values"] = value
    elif value is not _MISSING:
        body["value"] = value
    if ci:
        body["caseInsensitive"] = True
    return {"condition": body}


def rel(
    scope: str,
    quantifier: str,
    where: Json | None = None,
    *,
    count: tuple[str, Any] | None = None,
    last: int | None = None,
) -> Json:
    body: Json = {"scope": scope, "quantifier": quantifier}
    if where is not None:
        body["where"] = where
    if count is not None:
        operator, value = count
        key = "values" if isinstance(value, list) else "value"
        body["count"] = {"operator": operator, key: value}
    if last is not None:
        body["last"] = last
    return {"related": body}


def all_of(*children: Json) -> Json:
    return {"and": list(children)}


def any_of(*children: Json) -> Json:
    return {"or": list(children)}


def negate(child: Json) -> Json:
    return {"not": child}


@dataclass(frozen=True)
class Case:
    """A predicate and the member ids worked out by hand from the fixture data."""

    name: str
    predicate: Json
    expected: frozenset[str]


def case(name: str, predicate: Json, expected: str) -> Case:
    """`expected`: space-separated ids."""
    return Case(name, predicate, frozenset(expected.split()))
