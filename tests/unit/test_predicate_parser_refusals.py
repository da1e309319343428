"""parse_predicate refusals: every error code, each at its exact path."""

from __future__ import annotations

import pytest

from domain.custom_property import CustomPropertyDef, PropertyType
from domain.errors import ErrorCode, ValidationFailed
from domain.fields import FieldCatalog
from domain.predicate_parser import parse_predicate

CATALOG = FieldCatalog.for_workspace(
    [
        CustomPropertyDef("plan", PropertyType.STRING),
        CustomPropertyDef("tier", PropertyType.STRING, allowed_values=("GOLD", "SILVER")),
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


# --- every refusal, with its path ------------------------------------------

E = ErrorCode
P = "predicate"
C = "predicate.condition"
R = "predicate.related"
W = "predicate.related.where.condition"


def where(scope: str, condition: dict[str, object]) -> dict[str, object]:
    return related(scope, "ANY", where=condition)


def counted(**count: object) -> dict[str, object]:
    return related("ORDERS", "COUNT", count=count)


# fmt: off
NODE_REFUSALS = {
    "unknown key": ({"foo": 1}, E.UNKNOWN_NODE, P),
    "two keys": ({"and": [], "or": []}, E.UNKNOWN_NODE, P),
    "a list": ([], E.UNKNOWN_NODE, P),
    "null": (None, E.UNKNOWN_NODE, P),
    "a string": ("country", E.UNKNOWN_NODE, P),
    "empty object": ({}, E.UNKNOWN_NODE, P),
    "nested": ({"and": [cond("taxId", "EXISTS"), {"x": 1}]}, E.UNKNOWN_NODE, P + ".and[1]"),
    "not of junk": ({"not": 3}, E.UNKNOWN_NODE, P + ".not"),
    "segment in where": (where("INVOICES", {"segment": "s"}), E.UNKNOWN_NODE, R + ".where"),
    "related in where": (where("INVOICES", related("ORDERS", "ANY")), E.UNKNOWN_NODE, R + ".where"),
    "and not a list": ({"and": {}}, E.INVALID, P + ".and"),
    "empty and": ({"and": []}, E.VALUE_COUNT, P + ".and"),
    "empty or": ({"or": []}, E.VALUE_COUNT, P + ".or"),
    "empty segment id": ({"segment": ""}, E.INVALID, P + ".segment"),
    "long segment id": ({"segment": "s" * 65}, E.INVALID, P + ".segment"),
    "segment id not text": ({"segment": 7}, E.INVALID, P + ".segment"),
}

CONDITION_REFUSALS = {
    "not an object": ({"condition": []}, E.INVALID, C),
    "extra key": (cond("taxId", "EXISTS", foo=1), E.INVALID, C + ".foo"),
    "no field": ({"condition": {"operator": "EXISTS"}}, E.REQUIRED, C + ".field"),
    "no operator": ({"condition": {"field": "taxId"}}, E.REQUIRED, C + ".operator"),
    "caseInsensitive junk": (cond("email", "EQ", value="a", caseInsensitive="yes"), E.INVALID,
                             C + ".caseInsensitive"),
    "unknown field": (cond("nope", "EXISTS"), E.UNKNOWN_FIELD, C + ".field"),
    "field not text": (cond(42, "EXISTS"), E.UNKNOWN_FIELD, C + ".field"),
    "undeclared property": (cond("properties.nope", "EXISTS"), E.UNKNOWN_FIELD, C + ".field"),
    "bare properties": (cond("properties", "EXISTS"), E.UNKNOWN_FIELD, C + ".field"),
    "scope field at top": (cond("status", "EXISTS"), E.UNKNOWN_FIELD, C + ".field"),
    "customer field in where": (where("INVOICES", cond("country", "EXISTS")), E.UNKNOWN_FIELD,
                                W + ".field"),
    "property in invoices": (where("INVOICES", cond("properties.plan", "EXISTS")),
                             E.UNKNOWN_FIELD, W + ".field"),
    "bad event key": (where("EVENTS", cond("properties.a-b", "EXISTS")), E.UNKNOWN_FIELD,
                      W + ".field"),
    "long event key": (where("EVENTS", cond("properties." + "k" * 65, "EXISTS")),
                       E.UNKNOWN_FIELD, W + ".field"),
    "unknown operator": (cond("email", "LIKE", value="a"), E.UNKNOWN_OPERATOR, C + ".operator"),
    "lowercase operator": (cond("email", "eq", value="a"), E.UNKNOWN_OPERATOR, C + ".operator"),
    "operator not text": (cond("email", 1, value="a"), E.UNKNOWN_OPERATOR, C + ".operator"),
    "MATCHES number": (cond("ordersCount", "MATCHES", value="1"), E.OPERATOR_NOT_ALLOWED,
                       C + ".operator"),
    "GT enum": (cond("paymentMethodType", "GT", value="CARD"), E.OPERATOR_NOT_ALLOWED,
                C + ".operator"),
    "GT boolean": (cond("hasChild", "GT", value=True), E.OPERATOR_NOT_ALLOWED, C + ".operator"),
    "IN datetime": (cond("createdAt", "IN", values=["2026-01-01"]), E.OPERATOR_NOT_ALLOWED,
                    C + ".operator"),
    "GT event boolean": (where("EVENTS", cond("properties.x", "GT", value=True)),
                         E.OPERATOR_NOT_ALLOWED, W + ".operator"),
    "ci on number": (cond("ordersCount", "EQ", value=1, caseInsensitive=True),
                     E.OPERATOR_NOT_ALLOWED, C + ".caseInsensitive"),
    "ci on string GT": (cond("email", "GT", value="a", caseInsensitive=True),
                        E.OPERATOR_NOT_ALLOWED, C + ".caseInsensitive"),
    "ci on EXISTS": (cond("email", "EXISTS", caseInsensitive=True), E.OPERATOR_NOT_ALLOWED,
                     C + ".caseInsensitive"),
    "ci on event number": (where("EVENTS", cond("properties.x", "EQ", value=1,
                                                caseInsensitive=True)),
                           E.OPERATOR_NOT_ALLOWED, W + ".caseInsensitive"),
    "EQ without value": (cond("email", "EQ"), E.VALUE_COUNT, C + ".value"),
    "EQ with values": (cond("email", "EQ", value="a", values=["a"]), E.VALUE_COUNT,
                       C + ".values"),
    "MATCHES without value": (cond("email", "MATCHES"), E.VALUE_COUNT, C + ".value"),
    "IN without values": (cond("email", "IN"), E.VALUE_COUNT, C + ".values"),
    "IN empty": (cond("email", "IN", values=[]), E.VALUE_COUNT, C + ".values"),
    "BETWEEN one": (cond("ordersCount", "BETWEEN", values=[1]), E.VALUE_COUNT, C + ".values"),
    "BETWEEN three": (cond("ordersCount", "BETWEEN", values=[1, 2, 3]), E.VALUE_COUNT,
                      C + ".values"),
    "EXISTS with value": (cond("email", "EXISTS", value="a"), E.VALUE_COUNT, C + ".value"),
    "NOT_EXISTS with values": (cond("email", "NOT_EXISTS", values=["a"]), E.VALUE_COUNT,
                               C + ".values"),
}

OPERAND_REFUSALS = {
    "string field number": (cond("email", "EQ", value=3), E.VALUE_TYPE_MISMATCH, C + ".value"),
    "number field string": (cond("ordersCount", "EQ", value="3"), E.VALUE_TYPE_MISMATCH,
                            C + ".value"),
    "number field bool": (cond("ordersCount", "EQ", value=True), E.VALUE_TYPE_MISMATCH,
                          C + ".value"),
    "number field nan": (cond("totalSpent", "GT", value=float("nan")), E.VALUE_TYPE_MISMATCH,
                         C + ".value"),
    "number field inf": (cond("totalSpent", "GT", value=float("inf")), E.VALUE_TYPE_MISMATCH,
                         C + ".value"),
    "boolean field string": (cond("hasParent", "EQ", value="true"), E.VALUE_TYPE_MISMATCH,
                             C + ".value"),
    "datetime field number": (cond("createdAt", "GT", value=1700000000), E.VALUE_TYPE_MISMATCH,
                              C + ".value"),
    "enum field number": (cond("paymentMethodType", "EQ", value=1), E.VALUE_TYPE_MISMATCH,
                          C + ".value"),
    "one item wrong": (cond("country", "IN", values=["FR", 3]), E.VALUE_TYPE_MISMATCH,
                       C + ".values[1]"),
    "values not a list": (cond("country", "IN", values="FR"), E.VALUE_TYPE_MISMATCH,
                          C + ".values"),
    "pattern not text": (cond("email", "MATCHES", value=3), E.VALUE_TYPE_MISMATCH, C + ".value"),
    "event mixed types": (where("EVENTS", cond("properties.x", "IN", values=["a", 1])),
                          E.VALUE_TYPE_MISMATCH, W + ".values[1]"),
    "event null operand": (where("EVENTS", cond("properties.x", "IN", values=[None])),
                           E.VALUE_TYPE_MISMATCH, W + ".values[0]"),
    "event object operand": (where("EVENTS", cond("properties.x", "EQ", value={})),
                             E.VALUE_TYPE_MISMATCH, W + ".value"),
    "NUL in text": (cond("email", "EQ", value="a\x00b"), E.INVALID, C + ".value"),
    "lone surrogate": (cond("email", "EQ", value="\ud800"), E.INVALID, C + ".value"),
    "enum unknown": (cond("paymentMethodType", "EQ", value="PAYPAL"), E.INVALID_ENUM_VALUE,
                     C + ".value"),
    "enum wrong case": (cond("paymentMethodType", "EQ", value="card"), E.INVALID_ENUM_VALUE,
                        C + ".value"),
    "property enum": (cond("properties.tier", "IN", values=["GOLD", "BRONZE"]),
                      E.INVALID_ENUM_VALUE, C + ".values[1]"),
    "scope enum": (where("INVOICES", cond("status", "EQ", value="SETTLED")),
                   E.INVALID_ENUM_VALUE, W + ".value"),
    "not a date": (cond("createdAt", "GT", value="yesterday"), E.INVALID_DATETIME, C + ".value"),
    "month 13": (cond("createdAt", "GT", value="2026-13-01"), E.INVALID_DATETIME, C + ".value"),
    "hour 25": (cond("createdAt", "GT", value="2026-01-31T25:00:00Z"), E.INVALID_DATETIME,
                C + ".value"),
    "feb 30": (cond("createdAt", "GT", value="2026-02-30"), E.INVALID_DATETIME, C + ".value"),
    "empty date": (cond("createdAt", "GT", value=""), E.INVALID_DATETIME, C + ".value"),
    "relative no unit": (cond("createdAt", "GT", value="now-30"), E.INVALID_RELATIVE_TIME,
                         C + ".value"),
    "relative years": (cond("createdAt", "GT", value="now-1y"), E.INVALID_RELATIVE_TIME,
                       C + ".value"),
    "relative spaces": (cond("createdAt", "GT", value="now - 1d"), E.INVALID_RELATIVE_TIME,
                        C + ".value"),
    "relative upper": (cond("createdAt", "GT", value="NOW-1d"), E.INVALID_RELATIVE_TIME,
                       C + ".value"),
    "relative too far": (cond("createdAt", "GT", value="now-100001d"), E.INVALID_RELATIVE_TIME,
                         C + ".value"),
    "relative fraction": (cond("createdAt", "GT", value="now-1.5d"), E.INVALID_RELATIVE_TIME,
                          C + ".value"),
    "numbers reversed": (cond("ordersCount", "BETWEEN", values=[5, 1]), E.BETWEEN_RANGE,
                         C + ".values"),
    "strings reversed": (cond("name", "BETWEEN", values=["b", "a"]), E.BETWEEN_RANGE,
                         C + ".values"),
    "dates reversed": (cond("createdAt", "BETWEEN", values=["2026-02-01", "2026-01-01"]),
                       E.BETWEEN_RANGE, C + ".values"),
    "relatives reversed": (cond("createdAt", "BETWEEN", values=["now-7d", "now-30d"]),
                           E.BETWEEN_RANGE, C + ".values"),
    "unbalanced pattern": (cond("email", "MATCHES", value="(a"), E.INVALID_PATTERN,
                           C + ".value"),
    "NUL in pattern": (cond("email", "MATCHES", value="a\x00"), E.INVALID_PATTERN, C + ".value"),
    "anchored pattern": (cond("email", "MATCHES", value="^a"), E.PATTERN_NOT_ALLOWED,
                         C + ".value"),
    "look-ahead": (cond("email", "MATCHES", value="(?=a)a"), E.PATTERN_NOT_ALLOWED,
                   C + ".value"),
    "back-reference": (cond("email", "MATCHES", value="(a)\\1"), E.PATTERN_NOT_ALLOWED,
                       C + ".value"),
    "long pattern": (cond("email", "MATCHES", value="a" * 513), E.PATTERN_NOT_ALLOWED,
                     C + ".value"),
}

RELATED_REFUSALS = {
    "not an object": ({"related": "INVOICES"}, E.INVALID, R),
    "extra key": (related("ORDERS", "ANY", foo=1), E.INVALID, R + ".foo"),
    "no scope": ({"related": {"quantifier": "ANY"}}, E.REQUIRED, R + ".scope"),
    "unknown scope": (related("PAYMENTS", "ANY"), E.UNKNOWN_SCOPE, R + ".scope"),
    "lowercase scope": (related("orders", "ANY"), E.UNKNOWN_SCOPE, R + ".scope"),
    "no quantifier": ({"related": {"scope": "ORDERS"}}, E.REQUIRED, R + ".quantifier"),
    "bad quantifier": (related("ORDERS", "SOME"), E.INVALID_QUANTIFIER, R + ".quantifier"),
    "quantifier not text": (related("ORDERS", 1), E.INVALID_QUANTIFIER, R + ".quantifier"),
    "COUNT without count": (related("ORDERS", "COUNT"), E.REQUIRED, R + ".count"),
    "count with ANY": (related("ORDERS", "ANY", count={"operator": "GT", "value": 1}),
                       E.INVALID, R + ".count"),
    "count not object": (related("ORDERS", "COUNT", count=2), E.INVALID, R + ".count"),
    "count extra key": (counted(operator="GT", value=1, x=1), E.INVALID, R + ".count.x"),
    "count no operator": (counted(value=1), E.REQUIRED, R + ".count.operator"),
    "count unknown operator": (counted(operator="MOST", value=1), E.UNKNOWN_OPERATOR,
                               R + ".count.operator"),
    "count IN": (counted(operator="IN", values=[1]), E.OPERATOR_NOT_ALLOWED,
                 R + ".count.operator"),
    "count EXISTS": (counted(operator="EXISTS"), E.OPERATOR_NOT_ALLOWED, R + ".count.operator"),
    "count no value": (counted(operator="GT"), E.VALUE_COUNT, R + ".count.value"),
    "count BETWEEN one": (counted(operator="BETWEEN", values=[1]), E.VALUE_COUNT,
                          R + ".count.values"),
    "count negative": (counted(operator="GT", value=-1), E.VALUE_TYPE_MISMATCH,
                       R + ".count.value"),
    "count fraction": (counted(operator="GT", value=1.5), E.VALUE_TYPE_MISMATCH,
                       R + ".count.value"),
    "count bool": (counted(operator="GT", value=True), E.VALUE_TYPE_MISMATCH, R + ".count.value"),
    "count huge": (counted(operator="GT", value=2**31), E.VALUE_TYPE_MISMATCH,
                   R + ".count.value"),
    "count reversed": (counted(operator="BETWEEN", values=[3, 1]), E.BETWEEN_RANGE,
                       R + ".count.values"),
    "last zero": (related("ORDERS", "ANY", last=0), E.INVALID_LAST, R + ".last"),
    "last 101": (related("ORDERS", "ANY", last=101), E.INVALID_LAST, R + ".last"),
    "last text": (related("ORDERS", "ANY", last="3"), E.INVALID_LAST, R + ".last"),
    "last bool": (related("ORDERS", "ANY", last=True), E.INVALID_LAST, R + ".last"),
    "last fraction": (related("ORDERS", "ANY", last=2.5), E.INVALID_LAST, R + ".last"),
    "last on wallets": (related("WALLETS", "ANY", last=3), E.INVALID_LAST, R + ".last"),
}
# fmt: on

REFUSALS = {
    f"{table}: {name}": case
    for table, cases in (
        ("node", NODE_REFUSALS),
        ("condition", CONDITION_REFUSALS),
        ("operand", OPERAND_REFUSALS),
        ("related", RELATED_REFUSALS),
    )
    for name, case in cases.items()
}


@pytest.mark.parametrize(("raw", "code", "path"), REFUSALS.values(), ids=REFUSALS.keys())
def test_each_refusal_names_its_code_and_path(raw: object, code: ErrorCode, path: str) -> None:
    # given a predicate with exactly one problem
    # when it is parsed
    errors = errors_of(raw)
    # then that problem is the one reported, at its path
    assert errors == [(code, path)]


def test_every_predicate_error_code_is_reachable() -> None:
    # the limits (TOO_MANY, TOO_MANY_NODES, TOO_DEEP) have their own tests above
    predicate_codes = {
        E.INVALID, E.REQUIRED, E.UNKNOWN_FIELD, E.UNKNOWN_NODE, E.UNKNOWN_OPERATOR,
        E.OPERATOR_NOT_ALLOWED, E.VALUE_TYPE_MISMATCH, E.VALUE_COUNT, E.BETWEEN_RANGE,
        E.INVALID_RELATIVE_TIME, E.INVALID_DATETIME, E.INVALID_PATTERN, E.PATTERN_NOT_ALLOWED,
        E.INVALID_ENUM_VALUE, E.UNKNOWN_SCOPE, E.INVALID_QUANTIFIER, E.INVALID_LAST,
    }  # fmt: skip
    assert predicate_codes == {case[1] for case in REFUSALS.values()}
