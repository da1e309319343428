"""Related scopes: ANY / ALL / COUNT over 0, 1 and many records, `last`, EVENTS properties.

Same method as test_predicate_conditions: segmentPreview over HTTP at an
injected `now`, checked against the hand-worked member ids and against the
reference evaluator. Data: tests/integration/fixture_customers.py (events are
inserted straight into the `event` table, there is no mutation for them yet).
"""

from __future__ import annotations

import pytest

from api.runtime import Runtime
from domain.predicate_parser import parse_predicate
from tests.integration.conftest import Loaded
from tests.integration.dataset import CATALOG, NOW, clock_at, preview_ids, sql_ids, stored
from tests.integration.fixture_customers import CUSTOMERS
from tests.integration.predicate_json import Case, all_of, any_of, case, cond, negate, rel
from tests.reference import members

STORED = stored(CUSTOMERS)
ACTIVE = cond("status", "EQ", "ACTIVE")
PAID = cond("status", "EQ", "PAID")

SUBSCRIPTION_CASES = [
    case("ANY without where", rel("SUBSCRIPTIONS", "ANY"), "ada cleo dan fay"),
    case("ANY", rel("SUBSCRIPTIONS", "ANY", ACTIVE), "ada cleo dan"),
    case("ALL is not vacuous", rel("SUBSCRIPTIONS", "ALL", ACTIVE), "dan"),
    case(
        "vacuous ALL spelled out",
        negate(rel("SUBSCRIPTIONS", "ANY", negate(ACTIVE))),
        "bob dan eve gus hal",
    ),
    case(
        "ALL with NEQ skips missing status",
        rel("SUBSCRIPTIONS", "ALL", cond("status", "NEQ", "CANCELED")),
        "cleo dan",
    ),
    case("ALL without where", rel("SUBSCRIPTIONS", "ALL"), "ada cleo dan fay"),
    case("COUNT GTE", rel("SUBSCRIPTIONS", "COUNT", ACTIVE, count=("GTE", 2)), "dan"),
    case(
        "COUNT EQ 0 takes no records",
        rel("SUBSCRIPTIONS", "COUNT", count=("EQ", 0)),
        "bob eve gus hal",
    ),
    case(
        "COUNT LT 1", rel("SUBSCRIPTIONS", "COUNT", ACTIVE, count=("LT", 1)), "bob eve fay gus hal"
    ),
    case("COUNT BETWEEN", rel("SUBSCRIPTIONS", "COUNT", count=("BETWEEN", [1, 2])), "ada cleo fay"),
    case(
        "COUNT NEQ", rel("SUBSCRIPTIONS", "COUNT", count=("NEQ", 3)), "ada bob cleo eve fay gus hal"
    ),
    case(
        "COUNT LTE",
        rel("SUBSCRIPTIONS", "COUNT", ACTIVE, count=("LTE", 1)),
        "ada bob cleo eve fay gus hal",
    ),
    case("COUNT GT", rel("SUBSCRIPTIONS", "COUNT", count=("GT", 2)), "dan"),
    case("last 1 ANY", rel("SUBSCRIPTIONS", "ANY", ACTIVE, last=1), "ada cleo dan"),
    case(
        "last 1 ALL: no time comes last",
        rel("SUBSCRIPTIONS", "ALL", cond("startedAt", "EXISTS"), last=1),
        "ada cleo dan fay",
    ),
    case("last 1 ties by id", rel("SUBSCRIPTIONS", "ANY", cond("id", "EQ", "s3"), last=1), "dan"),
    case(
        "relative time in where",
        rel("SUBSCRIPTIONS", "ANY", cond("trialEndsAt", "GTE", "now")),
        "cleo",
    ),
    case(
        "BETWEEN relative in where",
        rel("SUBSCRIPTIONS", "ANY", cond("currentPeriodEndsAt", "BETWEEN", ["now", "now+30d"])),
        "ada",
    ),
    case(
        "number and string in where",
        rel(
            "SUBSCRIPTIONS",
            "ANY",
            all_of(cond("amount", "GTE", 20), cond("planId", "MATCHES", "p-.*")),
        ),
        "ada",
    ),
]

INVOICE_CASES = [
    case("last 2 ALL paid", rel("INVOICES", "ALL", PAID, last=2), "ada"),
    case("last 3 ALL paid", rel("INVOICES", "ALL", PAID, last=3), ""),
    case("last 1 ALL paid: ties by id", rel("INVOICES", "ALL", PAID, last=1), "ada cleo"),
    case("last 3 COUNT", rel("INVOICES", "COUNT", PAID, count=("EQ", 2), last=3), "ada cleo"),
    case(
        "last 3 skips the one without time",
        rel("INVOICES", "ANY", cond("status", "EQ", "DRAFT"), last=3),
        "",
    ),
    case(
        "last 4 reaches the one without time",
        rel("INVOICES", "ANY", cond("status", "EQ", "DRAFT"), last=4),
        "cleo",
    ),
    case(
        "last 1 COUNT EQ 0 takes no records",
        rel("INVOICES", "COUNT", PAID, count=("EQ", 0), last=1),
        "bob dan eve fay gus hal",
    ),
    case("last 100 ALL", rel("INVOICES", "ALL", cond("total", "EXISTS"), last=100), "ada cleo fay"),
    case("ANY NOT_EXISTS", rel("INVOICES", "ANY", cond("total", "NOT_EXISTS")), "bob"),
    case("ANY datetime relative", rel("INVOICES", "ANY", cond("dueAt", "LT", "now")), "ada"),
    case(
        "COUNT number", rel("INVOICES", "COUNT", cond("total", "GT", 60), count=("GTE", 1)), "ada"
    ),
    case("ALL number", rel("INVOICES", "ALL", cond("total", "GTE", 50)), "ada"),
    case(
        "ANY enum IN",
        rel("INVOICES", "ANY", cond("status", "IN", ["VOID", "UNCOLLECTIBLE"])),
        "fay",
    ),
    case(
        "ANY enum caseInsensitive",
        rel("INVOICES", "ANY", cond("status", "EQ", "void", ci=True)),
        "fay",
    ),
    case("not ANY", negate(rel("INVOICES", "ANY")), "dan eve gus hal"),
]

ORDER_CASES = [
    case("ANY canceled", rel("ORDERS", "ANY", cond("status", "EQ", "CANCELED")), "ada"),
    case("ALL IN", rel("ORDERS", "ALL", cond("status", "IN", ["FULFILLED"])), "fay"),
    case(
        "ALL NOT_IN skips missing",
        rel("ORDERS", "ALL", cond("status", "NOT_IN", ["REFUNDED"])),
        "ada fay",
    ),
    case("ANY status missing", rel("ORDERS", "ANY", cond("status", "NOT_EXISTS")), "cleo"),
    case("ANY amount missing", rel("ORDERS", "ANY", cond("amount", "NOT_EXISTS")), "ada"),
    case(
        "COUNT EQ 0 with where",
        rel("ORDERS", "COUNT", cond("amount", "GT", 0), count=("EQ", 0)),
        "dan eve gus hal",
    ),
    case("last 1 ANY", rel("ORDERS", "ANY", cond("status", "EQ", "CANCELED"), last=1), "ada"),
    case(
        "last 1 ALL time exists",
        rel("ORDERS", "ALL", cond("placedAt", "EXISTS"), last=1),
        "ada bob cleo fay",
    ),
    case(
        "COUNT with customer field",
        all_of(cond("country", "EQ", "FR"), rel("ORDERS", "COUNT", count=("GTE", 3))),
        "ada fay",
    ),
]

WALLET_VERIFICATION_CASES = [
    case("wallets ANY", rel("WALLETS", "ANY"), "ada dan"),
    case("wallets ANY currency", rel("WALLETS", "ANY", cond("currency", "EQ", "EUR")), "ada dan"),
    case("wallets ALL balance", rel("WALLETS", "ALL", cond("balance", "GTE", 0)), "ada"),
    case(
        "wallets COUNT EXISTS",
        rel("WALLETS", "COUNT", cond("balance", "EXISTS"), count=("EQ", 2)),
        "dan",
    ),
    case("wallets ANY negative", rel("WALLETS", "ANY", cond("balance", "LT", 0)), "dan"),
    case(
        "wallets ANY currency missing", rel("WALLETS", "ANY", cond("currency", "NOT_EXISTS")), "dan"
    ),
    case(
        "wallets or hasChild",
        any_of(rel("WALLETS", "ANY"), cond("hasChild", "EQ", True)),
        "ada cleo dan",
    ),
    case(
        "verifications ANY and",
        rel(
            "VERIFICATIONS",
            "ANY",
            all_of(cond("kind", "EQ", "EMAIL"), cond("status", "EQ", "VERIFIED")),
        ),
        "ada",
    ),
    case("verifications ALL", rel("VERIFICATIONS", "ALL", cond("status", "EQ", "VERIFIED")), "ada"),
    case(
        "verifications last 1",
        rel("VERIFICATIONS", "ANY", cond("status", "EQ", "VERIFIED"), last=1),
        "ada cleo",
    ),
    case(
        "verifications ANY no time",
        rel("VERIFICATIONS", "ANY", cond("verifiedAt", "NOT_EXISTS")),
        "bob",
    ),
    case(
        "verifications COUNT NEQ 1",
        rel("VERIFICATIONS", "COUNT", count=("NEQ", 1)),
        "cleo dan eve fay gus hal",
    ),
    case(
        "verifications or in where",
        rel(
            "VERIFICATIONS",
            "ANY",
            any_of(
                cond("kind", "EQ", "PHONE"), negate(cond("status", "IN", ["REJECTED", "VERIFIED"]))
            ),
        ),
        "bob",
    ),
]

EVENT_CASES = [
    case(
        "checkout twice in 7 days",
        rel(
            "EVENTS",
            "COUNT",
            all_of(cond("name", "EQ", "checkout_started"), cond("occurredAt", "GTE", "now-7d")),
            count=("GTE", 2),
        ),
        "ada",
    ),
    case(
        "number property skips strings",
        rel("EVENTS", "ANY", cond("properties.cart", "GT", 100)),
        "ada",
    ),
    case(
        "string property skips numbers",
        rel("EVENTS", "ANY", cond("properties.cart", "EQ", "120")),
        "ada",
    ),
    case(
        "string property NEQ skips numbers",
        rel("EVENTS", "ANY", cond("properties.cart", "NEQ", "121")),
        "ada",
    ),
    case(
        "number property NOT_IN skips strings",
        rel("EVENTS", "COUNT", cond("properties.cart", "NOT_IN", [1]), count=("EQ", 1)),
        "ada fay",
    ),
    case(
        "property EXISTS any type",
        rel("EVENTS", "ANY", cond("properties.cart", "EXISTS")),
        "ada fay",
    ),
    case(
        "property null does not exist",
        rel("EVENTS", "ANY", cond("properties.amount", "NOT_EXISTS")),
        "ada cleo dan fay",
    ),
    case("property EXISTS", rel("EVENTS", "ANY", cond("properties.amount", "EXISTS")), "dan"),
    case(
        "boolean property skips strings",
        rel("EVENTS", "ANY", cond("properties.vip", "EQ", True)),
        "dan",
    ),
    case("boolean property NEQ", rel("EVENTS", "ANY", cond("properties.ok", "NEQ", True)), "cleo"),
    case(
        "string property skips booleans",
        rel("EVENTS", "ANY", cond("properties.vip", "EQ", "true")),
        "dan",
    ),
    case("list property exists", rel("EVENTS", "ANY", cond("properties.tags", "EXISTS")), "dan"),
    case(
        "list property has no string value",
        rel("EVENTS", "ANY", cond("properties.tags", "EQ", "a")),
        "",
    ),
    case(
        "property MATCHES caseInsensitive",
        rel("EVENTS", "ANY", cond("properties.coupon", "MATCHES", "spring", ci=True)),
        "ada",
    ),
    case(
        "property BETWEEN numbers",
        rel("EVENTS", "ANY", cond("properties.cart", "BETWEEN", [50, 120])),
        "ada fay",
    ),
    case("property GT string", rel("EVENTS", "ANY", cond("properties.cart", "GT", "11")), "ada"),
    case(
        "events last 1 ties by id",
        rel("EVENTS", "ANY", cond("properties.ok", "EQ", False), last=1),
        "cleo",
    ),
    case(
        "events without id after those with one",
        rel("EVENTS", "ANY", cond("properties.ok", "EQ", "yes"), last=3),
        "",
    ),
    case(
        "events without id: newest stored first",
        rel("EVENTS", "ANY", cond("properties.ok", "NOT_EXISTS"), last=3),
        "ada cleo dan fay",
    ),
    case("events last 4", rel("EVENTS", "ANY", cond("properties.ok", "EQ", "yes"), last=4), "cleo"),
    case("events id NOT_EXISTS", rel("EVENTS", "ANY", cond("id", "NOT_EXISTS")), "cleo"),
    case("events ALL", rel("EVENTS", "ALL", cond("name", "EQ", "login")), "cleo"),
    case("events COUNT", rel("EVENTS", "COUNT", count=("GTE", 3)), "ada cleo"),
    case("events older than", rel("EVENTS", "ANY", cond("occurredAt", "LT", "now-7d")), "ada fay"),
    case(
        "events name MATCHES",
        rel("EVENTS", "COUNT", cond("name", "MATCHES", "check.*"), count=("BETWEEN", [1, 1])),
        "fay",
    ),
]

CASES = SUBSCRIPTION_CASES + INVOICE_CASES + ORDER_CASES + WALLET_VERIFICATION_CASES + EVENT_CASES


@pytest.mark.parametrize("spec", CASES, ids=[c.name for c in CASES])
async def test_related_members_follow_the_spec(
    spec: Case, loaded: Loaded, runtime: Runtime
) -> None:
    node = parse_predicate(spec.predicate, CATALOG)
    with clock_at(runtime, NOW):
        got = await preview_ids(loaded.ws, spec.predicate)
    assert members(node, STORED, NOW) == spec.expected, "the reference disagrees with the hand"
    assert got == spec.expected


async def test_last_picks_the_same_records_every_time(loaded: Loaded, runtime: Runtime) -> None:
    """Four events tie on time and two have no id: `last` still names one set of records."""
    for n in range(1, 5):
        for quantifier in ("ANY", "ALL"):
            predicate = rel("EVENTS", quantifier, cond("properties.ok", "EXISTS"), last=n)
            node = parse_predicate(predicate, CATALOG)
            expected = members(node, STORED, NOW)
            for _ in range(3):
                assert await sql_ids(runtime, loaded.pk, node, NOW) == expected, (n, quantifier)
