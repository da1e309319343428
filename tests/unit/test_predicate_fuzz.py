"""Properties of parse_predicate over generated input.

- Any JSON at all gives a tree or ValidationFailed, never another exception.
- Any valid predicate survives the round trip through `to_json`, and the
  canonical form is a fixed point.
"""

from __future__ import annotations

import json
import string
from datetime import UTC, datetime, timedelta, timezone

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain.custom_property import CustomPropertyDef, PropertyType
from domain.errors import DomainError, ValidationFailed
from domain.fields import OPERATORS_BY_TYPE, SCOPE_FIELDS, FieldCatalog, FieldType
from domain.predicate import LIST_OPERATORS, NO_OPERAND_OPERATORS, Operator, Scope, to_json
from domain.predicate_parser import parse_predicate
from domain.predicate_text import render

CATALOG = FieldCatalog.for_workspace(
    [
        CustomPropertyDef("plan", PropertyType.STRING),
        CustomPropertyDef("tier", PropertyType.STRING, allowed_values=("GOLD", "SILVER")),
        CustomPropertyDef("score", PropertyType.NUMBER),
        CustomPropertyDef("vip", PropertyType.BOOLEAN),
        CustomPropertyDef("renewal", PropertyType.DATETIME),
    ]
)
FUZZ = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# --- arbitrary JSON --------------------------------------------------------

scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20)
any_json = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=10), inner),
    max_leaves=40,
)

WORDS = [
    "and", "or", "not", "condition", "related", "segment", "field", "operator", "value",
    "values", "caseInsensitive", "scope", "quantifier", "where", "count", "last",
    "country", "email", "ordersCount", "createdAt", "hasParent", "paymentMethodType",
    "properties.plan", "properties.tier", "properties.x", "status", "name", "occurredAt",
    "amount", "EQ", "NEQ", "IN", "NOT_IN", "GT", "GTE", "LT", "LTE", "BETWEEN", "EXISTS",
    "NOT_EXISTS", "MATCHES", "INVOICES", "EVENTS", "WALLETS", "ORDERS", "ANY", "ALL", "COUNT",
    "PAID", "CARD", "GOLD", "now", "now-3d", "now+1x", "2026-01-31", "2026-02-30", "a.*",
    "(a", "^a", "seg_1", "",
]  # fmt: skip
word_scalars = (
    st.sampled_from(WORDS) | st.integers(-3, 300) | st.booleans() | st.none() | st.floats()
)
near_valid_json = st.recursive(
    word_scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.sampled_from(WORDS), inner, max_size=4)
    ),
    max_leaves=30,
)


def _parses_or_refuses(raw: object) -> None:
    try:
        parse_predicate(raw, CATALOG)
    except ValidationFailed as refused:
        assert refused.errors
        assert all(isinstance(error, DomainError) for error in refused.errors)
        assert all(error.field[0] == "predicate" for error in refused.errors)


@FUZZ
@given(any_json)
def test_arbitrary_json_gives_a_tree_or_validation_failed(raw: object) -> None:
    _parses_or_refuses(raw)


@FUZZ
@given(near_valid_json)
def test_json_made_of_predicate_words_gives_a_tree_or_validation_failed(raw: object) -> None:
    _parses_or_refuses(raw)


# --- valid predicates ------------------------------------------------------

CUSTOMER_FIELDS = {
    FieldType.STRING: ["email", "country", "properties.plan"],
    FieldType.ENUM: ["paymentMethodType", "properties.tier"],
    FieldType.NUMBER: ["ordersCount", "totalSpent", "properties.score"],
    FieldType.DATETIME: ["createdAt", "lastOrderAt", "properties.renewal"],
    FieldType.BOOLEAN: ["hasParent", "properties.vip"],
}
ENUM_VALUES = {
    "paymentMethodType": ["CARD", "WALLET", "OTHER"],
    "properties.tier": ["GOLD", "SILVER"],
}
PATTERNS = ["a.*", ".*@acme\\.com", "[a-z]{2,5}", "(fr|de)+", "\\d+\\s?", "[^x]*"]

text = st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"))
numbers = st.integers(-(10**12), 10**12) | st.floats(allow_nan=False, allow_infinity=False)
offsets = st.integers(-14 * 60, 14 * 60).map(lambda m: timezone(timedelta(minutes=m)))
instants = st.builds(
    lambda moment, zone: moment.replace(tzinfo=UTC).astimezone(zone).isoformat(),
    st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2200, 1, 1)),
    offsets,
)
relatives = st.builds(
    lambda sign, amount, unit: f"now{sign}{amount}{unit}",
    st.sampled_from("+-"),
    st.integers(0, 100_000),
    st.sampled_from("mhdw"),
) | st.just("now")


def operands_for(field_type: FieldType, field: str) -> st.SearchStrategy[object]:
    if field_type is FieldType.STRING:
        return text
    if field_type is FieldType.ENUM:
        return st.sampled_from(ENUM_VALUES[field])
    if field_type is FieldType.NUMBER:
        return numbers
    if field_type is FieldType.BOOLEAN:
        return st.booleans()
    return instants | relatives


@st.composite
def conditions(draw: st.DrawFn, fields: dict[FieldType, list[str]]) -> dict[str, object]:
    field_type = draw(st.sampled_from(sorted(fields, key=lambda t: t.name)))
    field = draw(st.sampled_from(fields[field_type]))
    ops = sorted(OPERATORS_BY_TYPE[field_type], key=lambda op: op.name)
    operator = draw(st.sampled_from(ops))
    body: dict[str, object] = {"field": field, "operator": operator.name}
    operand = operands_for(field_type, field)
    if operator is Operator.MATCHES:
        body["value"] = draw(st.sampled_from(PATTERNS))
    elif operator is Operator.BETWEEN and field_type is not FieldType.DATETIME:
        low, high = sorted([draw(operand), draw(operand)])
        body["values"] = [low, high]
    elif operator is Operator.BETWEEN:
        body["values"] = draw(st.sampled_from([["now-30d", "now"], ["2026-01-01", "now"]]))
    elif operator in LIST_OPERATORS:
        body["values"] = draw(st.lists(operand, min_size=1, max_size=4))
    elif operator not in NO_OPERAND_OPERATORS:
        body["value"] = draw(operand)
    if field_type in (FieldType.STRING, FieldType.ENUM) and operator in (
        Operator.EQ,
        Operator.IN,
        Operator.MATCHES,
    ):
        body["caseInsensitive"] = draw(st.booleans())
    return {"condition": body}


def scope_fields(scope: Scope) -> dict[FieldType, list[str]]:
    fields: dict[FieldType, list[str]] = {}
    for descriptor in SCOPE_FIELDS[scope]:
        if descriptor.type is not None and descriptor.type is not FieldType.ENUM:
            fields.setdefault(descriptor.type, []).append(descriptor.path)
    return fields


@st.composite
def relateds(draw: st.DrawFn) -> dict[str, object]:
    scope = draw(st.sampled_from([Scope.INVOICES, Scope.ORDERS, Scope.EVENTS, Scope.WALLETS]))
    body: dict[str, object] = {"scope": scope.name}
    quantifier = draw(st.sampled_from(["ANY", "ALL", "COUNT"]))
    body["quantifier"] = quantifier
    if draw(st.booleans()):
        where = conditions(scope_fields(scope))
        body["where"] = draw(where | st.builds(lambda c: {"and": [c, c]}, where))
    if quantifier == "COUNT":
        body["count"] = draw(
            st.sampled_from(
                [{"operator": "GTE", "value": 2}, {"operator": "BETWEEN", "values": [0, 3]}]
            )
        )
    if scope is not Scope.WALLETS and draw(st.booleans()):
        body["last"] = draw(st.integers(1, 100))
    return {"related": body}


leaves = (
    conditions(CUSTOMER_FIELDS)
    | relateds()
    | st.builds(lambda i: {"segment": f"seg_{i}"}, st.integers(0, 9))
)
predicates = st.recursive(
    leaves,
    lambda inner: (
        st.builds(lambda c: {"and": c}, st.lists(inner, min_size=1, max_size=4))
        | st.builds(lambda c: {"or": c}, st.lists(inner, min_size=1, max_size=4))
        | st.builds(lambda c: {"not": c}, inner)
    ),
    max_leaves=12,
).filter(lambda tree: _depth(tree) <= 8)


def _depth(tree: object) -> int:
    if isinstance(tree, dict):
        return 1 + max((_depth(v) for v in tree.values()), default=0)
    if isinstance(tree, list):
        return max((_depth(v) for v in tree), default=0)
    return 0


@FUZZ
@given(predicates)
def test_valid_predicates_survive_the_json_round_trip(raw: dict[str, object]) -> None:
    # given a valid predicate
    node = parse_predicate(raw, CATALOG)
    # when it is written back to JSON and read again
    canonical = to_json(node)
    again = parse_predicate(json.loads(json.dumps(canonical)), CATALOG)
    # then the tree is the same, and the canonical JSON a fixed point
    assert again == node
    assert to_json(again) == canonical
    assert render(again) == render(node)


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=string.printable, max_size=12))
def test_strings_starting_with_now_are_relative_or_refused(suffix: str) -> None:
    raw = {"condition": {"field": "createdAt", "operator": "LT", "value": "now" + suffix}}
    _parses_or_refuses(raw)
