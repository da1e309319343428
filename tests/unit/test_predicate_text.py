"""render: one readable, deterministic line per predicate."""

from __future__ import annotations

import pytest

from domain.custom_property import CustomPropertyDef, PropertyType
from domain.fields import FieldCatalog
from domain.predicate_parser import parse_predicate
from domain.predicate_text import render

CATALOG = FieldCatalog.for_workspace([CustomPropertyDef("plan", PropertyType.STRING)])


def cond(field: str, operator: str, **operand: object) -> dict[str, object]:
    return {"condition": {"field": field, "operator": operator, **operand}}


def related(scope: str, quantifier: str, **rest: object) -> dict[str, object]:
    return {"related": {"scope": scope, "quantifier": quantifier, **rest}}


OPEN = cond("status", "EQ", value="OPEN")
PAID = cond("status", "EQ", value="PAID")

EXAMPLES = [
    (cond("email", "EQ", value="ada@example.com"), 'email = "ada@example.com"'),
    (cond("country", "NEQ", value="FR"), 'country != "FR"'),
    (cond("country", "IN", values=["FR", "DE"]), 'country IN ("FR", "DE")'),
    (cond("country", "NOT_IN", values=["FR"]), 'country NOT IN ("FR")'),
    (cond("ordersCount", "GT", value=3), "ordersCount > 3"),
    (cond("ordersCount", "GTE", value=3.0), "ordersCount >= 3"),
    (cond("totalSpent", "LT", value=99.5), "totalSpent < 99.5"),
    (cond("totalSpent", "LTE", value=-1), "totalSpent <= -1"),
    (cond("totalSpent", "BETWEEN", values=[1, 2.5]), "totalSpent BETWEEN 1 AND 2.5"),
    (cond("taxId", "EXISTS"), "taxId EXISTS"),
    (cond("taxId", "NOT_EXISTS"), "taxId NOT EXISTS"),
    (cond("hasParent", "EQ", value=True), "hasParent = true"),
    (cond("createdAt", "GTE", value="2026-01-31"), "createdAt >= 2026-01-31T00:00:00Z"),
    (
        cond("createdAt", "LT", value="2026-01-31T13:00:00.5+01:00"),
        "createdAt < 2026-01-31T12:00:00.500000Z",
    ),
    (cond("lastOrderAt", "LT", value="now-30d"), "lastOrderAt < now-30d"),
    (cond("properties.plan", "EQ", value="now-30d"), 'properties.plan = "now-30d"'),
    (cond("name", "EQ", value='say "hi"\n'), 'name = "say \\"hi\\"\\n"'),
    (cond("name", "EQ", value="Zoë"), 'name = "Zoë"'),
    (
        cond("email", "MATCHES", value=".*@acme\\.com", caseInsensitive=True),
        "email MATCHES /.*@acme\\.com/i",
    ),
    (cond("email", "MATCHES", value="a/b"), "email MATCHES /a\\/b/"),
    (
        cond("email", "EQ", value="A@B.C", caseInsensitive=True),
        'email = "A@B.C" (ignoring case)',
    ),
    (
        cond("country", "IN", values=["fr"], caseInsensitive=True),
        'country IN ("fr") (ignoring case)',
    ),
    ({"not": cond("taxId", "EXISTS")}, "NOT taxId EXISTS"),
    ({"segment": "seg_01J9"}, "segment(seg_01J9)"),
    (
        related("INVOICES", "COUNT", where=OPEN, count={"operator": "GTE", "value": 2}),
        'invoices COUNT(status = "OPEN") >= 2',
    ),
    (
        related("INVOICES", "ALL", last=3, where=PAID),
        'invoices LAST 3 ALL(status = "PAID")',
    ),
    (related("WALLETS", "ANY"), "wallets ANY(*)"),
    (
        related("ORDERS", "COUNT", count={"operator": "BETWEEN", "values": [1, 3]}),
        "orders COUNT(*) BETWEEN 1 AND 3",
    ),
    (
        related("INVOICES", "ANY", where={"or": [OPEN, PAID]}),
        'invoices ANY(status = "OPEN" OR status = "PAID")',
    ),
]


@pytest.mark.parametrize(("raw", "text"), EXAMPLES)
def test_each_node_renders_readably(raw: dict[str, object], text: str) -> None:
    assert render(parse_predicate(raw, CATALOG)) == text


A = cond("country", "EQ", value="FR")
B = cond("taxId", "EXISTS")
C = cond("ordersCount", "GT", value=1)


@pytest.mark.parametrize(
    ("raw", "text"),
    [
        (
            {"and": [A, related("INVOICES", "COUNT", where=OPEN,
                                count={"operator": "GTE", "value": 2})]},
            'country = "FR" AND invoices COUNT(status = "OPEN") >= 2',
        ),
        ({"or": [{"and": [A, B]}, C]}, 'country = "FR" AND taxId EXISTS OR ordersCount > 1'),
        ({"and": [{"or": [A, B]}, C]}, '(country = "FR" OR taxId EXISTS) AND ordersCount > 1'),
        ({"and": [A, {"and": [B, C]}]}, 'country = "FR" AND taxId EXISTS AND ordersCount > 1'),
        ({"not": {"and": [A, B]}}, 'NOT (country = "FR" AND taxId EXISTS)'),
        ({"not": {"or": [A, B]}}, 'NOT (country = "FR" OR taxId EXISTS)'),
        ({"not": {"not": B}}, "NOT NOT taxId EXISTS"),
        ({"or": [{"not": A}, B]}, 'NOT country = "FR" OR taxId EXISTS'),
        ({"and": [A]}, 'country = "FR"'),
    ],
)  # fmt: skip
def test_parentheses_appear_where_precedence_needs_them(raw: dict[str, object], text: str) -> None:
    # NOT binds tighter than AND, AND tighter than OR
    assert render(parse_predicate(raw, CATALOG)) == text


def test_rendering_is_deterministic() -> None:
    raw = {"or": [A, B, related("EVENTS", "ANY", where=cond("properties.x", "IN", values=[1, 2]))]}
    first = render(parse_predicate(raw, CATALOG))
    assert first == render(parse_predicate(raw, CATALOG))
    assert first == 'country = "FR" OR taxId EXISTS OR events ANY(properties.x IN (1, 2))'
