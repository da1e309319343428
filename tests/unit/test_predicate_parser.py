"""parse_predicate: PREDICATES.md to the edge, every refusal with its exact path."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from domain.custom_property import CustomPropertyDef, PropertyType
from domain.errors import ErrorCode, ValidationFailed
from domain.fields import OPERATORS_BY_TYPE, FieldCatalog, FieldType
from domain.predicate import (
    LIST_OPERATORS,
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
)
from domain.predicate_parser import parse_predicate

CATALOG = FieldCatalog.for_workspace(
    [
        CustomPropertyDef("plan", PropertyType.STRING),
        CustomPropertyDef("tier", PropertyType.STRING, allowed_values=("GOLD", "SILVER")),
        CustomPropertyDef("score", PropertyType.NUMBER),
        CustomPropertyDef("vip", PropertyType.BOOLEAN),
        CustomPropertyDef("renewal", PropertyType.DATETIME),
    ]
)


def cond(field: object, operator: object, **operand: object) -> dict[str, object]:
    return {"condition": {"field": field, "operator": operator, **operand}}


def related(scope: object, quantifier: object, **rest: object) -> dict[str, object]:
    return {"related": {"scope": scope, "quantifier": quantifier, **rest}}


def errors_of(raw: object) -> list[tuple[ErrorCode, str]]:
    with pytest.raises(ValidationFailed) as refused:
        parse_predicate(raw, CATALOG)
    return [(error.code, ".".join(error.field)) for error in refused.value.errors]


def nested_nots(levels: int) -> dict[str, object]:
    node: dict[str, object] = cond("taxId", "EXISTS")
    for _ in range(levels - 1):
        node = {"not": node}
    return node


# --- happy paths -----------------------------------------------------------

SAMPLE_FIELDS = {
    FieldType.STRING: ["email", "properties.plan"],
    FieldType.ENUM: ["paymentMethodType", "properties.tier"],
    FieldType.NUMBER: ["ordersCount", "totalSpent", "properties.score"],
    FieldType.DATETIME: ["createdAt", "lastOrderAt", "properties.renewal"],
    FieldType.BOOLEAN: ["hasParent", "properties.vip"],
}
ONE = {
    FieldType.STRING: ("a", "a"),
    FieldType.ENUM: ("GOLD", "GOLD"),
    FieldType.NUMBER: (2.5, Decimal("2.5")),
    FieldType.DATETIME: ("2026-01-31", datetime(2026, 1, 31, tzinfo=UTC)),
    FieldType.BOOLEAN: (True, True),
}
TWO = {
    FieldType.STRING: (["a", "b"], ("a", "b")),
    FieldType.ENUM: (["GOLD", "SILVER"], ("GOLD", "SILVER")),
    FieldType.NUMBER: ([1, 2.5], (Decimal(1), Decimal("2.5"))),
    FieldType.DATETIME: (
        ["2026-01-01", "2026-01-31"],
        (datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 31, tzinfo=UTC)),
    ),
}


def _operand_json(field_type: FieldType, field: str, operator: Operator) -> tuple[dict, tuple]:
    if operator in (Operator.EXISTS, Operator.NOT_EXISTS):
        return {}, ()
    if operator is Operator.MATCHES:
        return {"value": "a.*"}, ("a.*",)
    if operator in (Operator.IN, Operator.NOT_IN, Operator.BETWEEN):
        raw, values = TWO[field_type]
        if field == "paymentMethodType":
            raw, values = ["CARD", "WALLET"], ("CARD", "WALLET")
        return {"values": raw}, values
    raw_one, value = ONE[field_type]
    if field == "paymentMethodType":
        raw_one, value = "CARD", "CARD"
    return {"value": raw_one}, (value,)


HAPPY = [
    (field, operator, *_operand_json(field_type, field, operator))
    for field_type, fields in SAMPLE_FIELDS.items()
    for field in fields
    for operator in sorted(OPERATORS_BY_TYPE[field_type], key=lambda op: op.name)
]


@pytest.mark.parametrize(("field", "operator", "operand", "expected"), HAPPY)
def test_every_operator_parses_on_every_field_type(
    field: str, operator: Operator, operand: dict, expected: tuple
) -> None:
    # given a condition using an operator that suits the field's type
    raw = cond(field, operator.name, **operand)
    # when it is parsed
    node = parse_predicate(raw, CATALOG)
    # then it becomes a typed Condition
    assert node == Condition(field, operator, expected)


REFUSED_OPERATORS = [
    (field, operator)
    for field_type, fields in SAMPLE_FIELDS.items()
    for field in fields[:1]
    for operator in sorted(set(Operator) - OPERATORS_BY_TYPE[field_type], key=lambda o: o.name)
]


@pytest.mark.parametrize(("field", "operator"), REFUSED_OPERATORS)
def test_an_operator_outside_the_fields_type_is_refused(field: str, operator: Operator) -> None:
    # given an operator the field's type does not allow, with well-formed operands
    operand: dict[str, object] = {"value": "x"}
    if operator in LIST_OPERATORS:
        operand = {"values": [1, 2]}
    elif operator in NO_OPERAND_OPERATORS:
        operand = {}
    # when parsed, then the operator is named
    assert errors_of(cond(field, operator.name, **operand)) == [
        (ErrorCode.OPERATOR_NOT_ALLOWED, "predicate.condition.operator")
    ]


def test_the_design_example_parses_to_the_expected_tree() -> None:
    # given the example of PREDICATES.md
    raw = {
        "and": [
            cond("country", "IN", values=["FR", "DE"]),
            cond("properties.plan", "EQ", value="enterprise"),
            related(
                "INVOICES",
                "COUNT",
                where=cond("status", "EQ", value="OPEN"),
                count={"operator": "GTE", "value": 2},
            ),
            {"not": cond("taxId", "EXISTS")},
        ]
    }
    # when parsed
    node = parse_predicate(raw, CATALOG)
    # then
    assert node == And(
        (
            Condition("country", Operator.IN, ("FR", "DE")),
            Condition("properties.plan", Operator.EQ, ("enterprise",)),
            Related(
                Scope.INVOICES,
                Quantifier.COUNT,
                where=Condition("status", Operator.EQ, ("OPEN",)),
                count=CountComparison(Operator.GTE, (2,)),
            ),
            Not(Condition("taxId", Operator.EXISTS)),
        )
    )


def test_or_segment_last_and_case_insensitive_parse() -> None:
    raw = {
        "or": [
            {"segment": "seg_01"},
            related("INVOICES", "ALL", last=3, where=cond("status", "EQ", value="PAID")),
            cond("email", "MATCHES", value=".*@acme\\.com", caseInsensitive=True),
            cond("paymentMethodType", "IN", values=["card"], caseInsensitive=True),
        ]
    }
    assert parse_predicate(raw, CATALOG) == Or(
        (
            SegmentRef("seg_01"),
            Related(
                Scope.INVOICES,
                Quantifier.ALL,
                where=Condition("status", Operator.EQ, ("PAID",)),
                last=3,
            ),
            Condition("email", Operator.MATCHES, (".*@acme\\.com",), case_insensitive=True),
            Condition("paymentMethodType", Operator.IN, ("card",), case_insensitive=True),
        )
    )


def test_an_explicit_null_is_the_same_as_a_missing_key() -> None:
    # given optional keys sent as null
    raw = related("ORDERS", "ANY", where=None, count=None, last=None)
    raw_condition = cond("taxId", "EXISTS", value=None, values=None, caseInsensitive=None)
    # when parsed, then they are ignored
    assert parse_predicate(raw, CATALOG) == Related(Scope.ORDERS, Quantifier.ANY)
    assert parse_predicate(raw_condition, CATALOG) == Condition("taxId", Operator.EXISTS)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-01-31", datetime(2026, 1, 31, tzinfo=UTC)),
        ("2026-01-31T12:00:00Z", datetime(2026, 1, 31, 12, tzinfo=UTC)),
        ("2026-01-31T12:00:00", datetime(2026, 1, 31, 12, tzinfo=UTC)),
        ("2026-01-31T13:30:00+01:30", datetime(2026, 1, 31, 12, tzinfo=UTC)),
        ("2026-01-31T00:00:00-05:00", datetime(2026, 1, 31, 5, tzinfo=UTC)),
        ("2026-01-31T12:00:00.250Z", datetime(2026, 1, 31, 12, 0, 0, 250000, tzinfo=UTC)),
    ],
)
def test_datetime_operands_become_utc_instants(text: str, expected: datetime) -> None:
    # given a datetime operand in one of the accepted ISO-8601 forms
    raw = cond("createdAt", "GTE", value=text)
    # when parsed
    node = parse_predicate(raw, CATALOG)
    # then it is the same instant, in UTC
    assert node == Condition("createdAt", Operator.GTE, (expected,))
    assert isinstance(node, Condition)
    value = node.values[0]
    assert isinstance(value, datetime)
    assert value.utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    ("text", "offset"),
    [
        ("now", timedelta(0)),
        ("now-30d", timedelta(days=-30)),
        ("now+7d", timedelta(days=7)),
        ("now-15m", timedelta(minutes=-15)),
        ("now-2h", timedelta(hours=-2)),
        ("now-1w", timedelta(weeks=-1)),
        ("now-100000d", timedelta(days=-100000)),
    ],
)
def test_relative_times_keep_their_offset_and_text(text: str, offset: timedelta) -> None:
    node = parse_predicate(cond("lastOrderAt", "LT", value=text), CATALOG)
    assert isinstance(node, Condition)
    (value,) = node.values
    assert value == RelativeTime(offset)
    assert isinstance(value, RelativeTime)
    assert value.text == text


def test_mixed_absolute_and_relative_between_is_not_range_checked() -> None:
    node = parse_predicate(cond("createdAt", "BETWEEN", values=["2999-01-01", "now"]), CATALOG)
    assert isinstance(node, Condition)


def test_equal_between_bounds_are_accepted() -> None:
    node = parse_predicate(cond("ordersCount", "BETWEEN", values=[3, 3.0]), CATALOG)
    assert node == Condition("ordersCount", Operator.BETWEEN, (Decimal(3), Decimal(3)))


@pytest.mark.parametrize(
    ("operand", "expected"),
    [
        ({"value": "x"}, ("x",)),
        ({"value": "2026-01-31"}, ("2026-01-31",)),  # still a STRING: compared as text
        ({"value": "now-1d"}, ("now-1d",)),
        ({"value": 3}, (Decimal(3),)),
        ({"value": 1.5}, (Decimal("1.5"),)),
        ({"value": False}, (False,)),
        ({"values": ["a", "b"]}, ("a", "b")),
        ({"values": [1, 2.5]}, (Decimal(1), Decimal("2.5"))),
    ],
)
def test_event_properties_take_their_type_from_the_operand(operand: dict, expected: tuple) -> None:
    operator = "IN" if "values" in operand else "EQ"
    raw = related("EVENTS", "ANY", where=cond("properties.plan_2", operator, **operand))
    node = parse_predicate(raw, CATALOG)
    assert isinstance(node, Related)
    assert node.where == Condition("properties.plan_2", Operator[operator], expected)


def test_event_property_existence_and_patterns_are_allowed() -> None:
    for condition in (
        cond("properties.x", "EXISTS"),
        cond("properties.x", "NOT_EXISTS"),
        cond("properties.x", "MATCHES", value="a|b", caseInsensitive=True),
        cond("properties.x", "GT", value=2),
        cond("properties.x", "EQ", value="A", caseInsensitive=True),
    ):
        assert isinstance(
            parse_predicate(related("EVENTS", "ANY", where=condition), CATALOG), Related
        )


def test_count_comparisons_parse() -> None:
    for operator in ("EQ", "NEQ", "GT", "GTE", "LT", "LTE"):
        raw = related("ORDERS", "COUNT", count={"operator": operator, "value": 0})
        assert parse_predicate(raw, CATALOG) == Related(
            Scope.ORDERS, Quantifier.COUNT, count=CountComparison(Operator[operator], (0,))
        )
    raw = related("ORDERS", "COUNT", count={"operator": "BETWEEN", "values": [1, 3]})
    assert parse_predicate(raw, CATALOG) == Related(
        Scope.ORDERS, Quantifier.COUNT, count=CountComparison(Operator.BETWEEN, (1, 3))
    )


@pytest.mark.parametrize("scope", [s for s in Scope if s is not Scope.WALLETS])
def test_last_applies_to_every_scope_with_a_time_field(scope: Scope) -> None:
    raw = related(scope.name, "ANY", last=100)
    assert parse_predicate(raw, CATALOG) == Related(scope, Quantifier.ANY, last=100)


# --- limits ----------------------------------------------------------------


def test_limits_are_inclusive() -> None:
    # given trees exactly at each limit
    fifty = {"and": [cond("taxId", "EXISTS")] * 50}
    two_hundred_values = cond("country", "IN", values=[f"C{i}" for i in range(200)])
    depth_ten = nested_nots(10)
    two_hundred_nodes = {"or": [{"and": [cond("taxId", "EXISTS")] * 49}] * 4}  # 1+4+196=201
    two_hundred_nodes["or"][0] = {"and": [cond("taxId", "EXISTS")] * 48}  # 200
    pattern = cond("email", "MATCHES", value="a" * 512)
    # when parsed, then all are accepted
    for raw in (fifty, two_hundred_values, depth_ten, two_hundred_nodes, pattern):
        assert parse_predicate(raw, CATALOG) is not None


def test_limits_plus_one_are_refused() -> None:
    assert errors_of({"and": [cond("taxId", "EXISTS")] * 51}) == [
        (ErrorCode.TOO_MANY, "predicate.and")
    ]
    values = [f"C{i}" for i in range(201)]
    assert errors_of(cond("country", "IN", values=values)) == [
        (ErrorCode.TOO_MANY, "predicate.condition.values")
    ]
    assert errors_of(nested_nots(11)) == [(ErrorCode.TOO_DEEP, "predicate" + ".not" * 10)]
    assert errors_of({"or": [{"and": [cond("taxId", "EXISTS")] * 49}] * 4}) == [
        (ErrorCode.TOO_MANY_NODES, "predicate")
    ]


def test_a_where_subtree_counts_towards_depth_and_nodes() -> None:
    # given a related node at depth 9 whose where adds two more levels
    where = {"not": cond("status", "EQ", value="PAID")}
    node: dict[str, object] = related("INVOICES", "ANY", where=where)
    for _ in range(8):
        node = {"not": node}
    # when parsed, then the where's condition is level 11
    assert errors_of(node) == [
        (ErrorCode.TOO_DEEP, "predicate" + ".not" * 8 + ".related.where.not")
    ]


def test_very_deep_or_wide_input_is_refused_without_crashing() -> None:
    deep: object = cond("taxId", "EXISTS")
    for _ in range(5000):
        deep = {"not": deep}
    assert errors_of(deep)[0][0] is ErrorCode.TOO_DEEP
    wide = {"and": [cond("taxId", "EXISTS")] * 100_000}
    codes = {code for code, _ in errors_of(wide)}
    assert codes == {ErrorCode.TOO_MANY, ErrorCode.TOO_MANY_NODES}


def test_all_problems_are_reported_at_once() -> None:
    # given a tree with problems in several branches
    raw = {
        "and": [
            cond("country", "EQ", value="FR"),
            cond("nope", "EQ", value="x"),
            cond("ordersCount", "BETWEEN", values=[5, 1]),
            {"x": 1},
            related("WALLETS", "ALL", last=3, where=cond("balance", "GT", value="1")),
            cond("email", "IN", value="a"),
        ]
    }
    # when parsed, then every problem is listed, in document order
    assert errors_of(raw) == [
        (ErrorCode.UNKNOWN_FIELD, "predicate.and[1].condition.field"),
        (ErrorCode.BETWEEN_RANGE, "predicate.and[2].condition.values"),
        (ErrorCode.UNKNOWN_NODE, "predicate.and[3]"),
        (ErrorCode.INVALID_LAST, "predicate.and[4].related.last"),
        (ErrorCode.VALUE_TYPE_MISMATCH, "predicate.and[4].related.where.condition.value"),
        (ErrorCode.VALUE_COUNT, "predicate.and[5].condition.value"),
        (ErrorCode.VALUE_COUNT, "predicate.and[5].condition.values"),
    ]


def test_the_path_prefix_can_be_chosen() -> None:
    with pytest.raises(ValidationFailed) as refused:
        parse_predicate(cond("nope", "EXISTS"), CATALOG, path=("input", "where"))
    assert refused.value.errors[0].field == ("input", "where", "condition", "field")


def test_an_unknown_scope_skips_its_where() -> None:
    # the where cannot be checked without knowing the scope's fields
    raw = related("PAYMENTS", "ANY", where=cond("anything", "EXISTS"))
    assert errors_of(raw) == [(ErrorCode.UNKNOWN_SCOPE, "predicate.related.scope")]


def test_parsed_trees_are_hashable_values() -> None:
    node: Node = parse_predicate({"or": [cond("email", "EQ", value="a")] * 2}, CATALOG)
    assert hash(node) == hash(
        parse_predicate({"or": [cond("email", "EQ", value="a")] * 2}, CATALOG)
    )
