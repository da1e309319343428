"""Conditions on customer fields and custom properties: the SQL means what PREDICATES.md says.

Each case runs through `segmentPreview` over HTTP (every page) at an injected
`now`, and its member ids must equal both the hand-worked expectation and
the reference evaluator's answer (tests/reference.py), so neither reading
of the spec can be wrong alone. Data: tests/integration/fixture_customers.py.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from api.runtime import Runtime
from domain.predicate_parser import parse_predicate
from tests.integration.conftest import Loaded
from tests.integration.dataset import (
    CATALOG,
    NOW,
    clock_at,
    filter_ids,
    preview_ids,
    sql_ids,
    stored,
)
from tests.integration.fixture_customers import CUSTOMERS
from tests.integration.predicate_json import Case, all_of, any_of, case, cond, negate
from tests.reference import members

ALL = "ada bob cleo dan eve fay gus hal"
STORED = stored(CUSTOMERS)

STRING_CASES = [
    case("country EQ", cond("country", "EQ", "FR"), "ada fay"),
    case("country NEQ skips missing", cond("country", "NEQ", "FR"), "cleo dan gus"),
    case(
        "not country EQ keeps missing",
        negate(cond("country", "EQ", "FR")),
        "bob cleo dan eve gus hal",
    ),
    case("country IN", cond("country", "IN", ["FR", "DE"]), "ada cleo fay"),
    case("country NOT_IN skips missing", cond("country", "NOT_IN", ["FR", "DE"]), "dan gus"),
    case("not country IN", negate(cond("country", "IN", ["FR", "DE"])), "bob dan eve gus hal"),
    case("country EXISTS", cond("country", "EXISTS"), "ada cleo dan fay gus"),
    case("country NOT_EXISTS", cond("country", "NOT_EXISTS"), "bob eve hal"),
    case("country GT", cond("country", "GT", "DE"), "ada dan fay gus"),
    case("country GTE", cond("country", "GTE", "FR"), "ada dan fay gus"),
    case("country LT", cond("country", "LT", "FR"), "cleo"),
    case("country LTE", cond("country", "LTE", "FR"), "ada cleo fay"),
    case("country BETWEEN", cond("country", "BETWEEN", ["DE", "FR"]), "ada cleo fay"),
    case("country MATCHES", cond("country", "MATCHES", "F."), "ada fay"),
    case("country EQ caseInsensitive", cond("country", "EQ", "fr", ci=True), "ada fay"),
    case("empty city is a value", cond("city", "EQ", ""), "bob"),
    case("city NEQ empty", cond("city", "NEQ", ""), "ada cleo dan fay gus hal"),
    case("city EXISTS with empty", cond("city", "EXISTS"), "ada bob cleo dan fay gus hal"),
    case("city NOT_EXISTS", cond("city", "NOT_EXISTS"), "eve"),
    case("city EQ is case sensitive", cond("city", "EQ", "paris"), "dan"),
    case("city EQ caseInsensitive", cond("city", "EQ", "PARIS", ci=True), "ada dan"),
    case("city NEQ caseInsensitive", cond("city", "NEQ", "paris", ci=True), "bob cleo fay gus hal"),
    case("city IN caseInsensitive non-ASCII", cond("city", "IN", ["éze"], ci=True), "fay hal"),
    case(
        "city NOT_IN caseInsensitive",
        cond("city", "NOT_IN", ["ÉZE", "berlin"], ci=True),
        "ada bob dan gus",
    ),
    case(
        "caseInsensitive equals itself (dotted I)", cond("city", "EQ", "İstanbul", ci=True), "gus"
    ),
    case("caseInsensitive dotted I lowers to i", cond("city", "EQ", "istanbul", ci=True), "gus"),
    case("city LT by code point", cond("city", "LT", "a"), "ada bob cleo"),
    case("city GTE by code point", cond("city", "GTE", "paris"), "dan fay gus hal"),
    case("city BETWEEN from empty", cond("city", "BETWEEN", ["", "Berlin"]), "bob cleo"),
    case(
        "MATCHES .* takes the empty string",
        cond("city", "MATCHES", ".*"),
        "ada bob cleo dan fay gus hal",
    ),
    case("MATCHES class is ASCII range", cond("city", "MATCHES", "[a-z]+"), "dan"),
    case("MATCHES \\w is ASCII", cond("city", "MATCHES", "\\w+"), "ada cleo dan"),
    case("MATCHES [\\w] is ASCII", cond("city", "MATCHES", "[\\wé]+"), "ada cleo dan hal"),
    case("MATCHES [^\\w]", cond("city", "MATCHES", "[^\\w]\\w+"), "fay gus hal"),
    case("MATCHES is anchored", cond("city", "MATCHES", "aris"), ""),
    case("MATCHES caseInsensitive", cond("city", "MATCHES", "p.*", ci=True), "ada dan"),
    case("MATCHES caseInsensitive non-ASCII", cond("city", "MATCHES", "éze", ci=True), "fay hal"),
    case("MATCHES dot takes newline", cond("name", "MATCHES", "a.b"), "hal"),
    case("MATCHES \\s takes newline", cond("name", "MATCHES", "a\\sb"), "hal"),
    case("MATCHES escaped dot", cond("email", "MATCHES", ".*@acme\\.com"), "ada dan"),
    case(
        "MATCHES escaped dot caseInsensitive",
        cond("email", "MATCHES", ".*@acme\\.com", ci=True),
        "ada dan fay",
    ),
    case("MATCHES alternation", cond("invoicingEntity", "MATCHES", "acme-(fr|de)"), "ada cleo"),
    case("MATCHES bounded repeat", cond("externalId", "MATCHES", "[a-zA-Z]{3}-\\d"), "ada dan"),
    case("email NOT_EXISTS", cond("email", "NOT_EXISTS"), "cleo eve hal"),
    case("email empty", cond("email", "EQ", ""), "gus"),
    case("externalId empty", cond("externalId", "EQ", ""), "bob"),
    case("taxId EXISTS with empty", cond("taxId", "EXISTS"), "ada fay"),
    case("taxId empty", cond("taxId", "EQ", ""), "fay"),
    case("id GT by code point", cond("id", "GT", "dan"), "eve fay gus hal"),
    case("id IN", cond("id", "IN", ["ada", "zed"]), "ada"),
    case("parentId EQ", cond("parentId", "EQ", "ada"), "cleo"),
    case("parentId EXISTS", cond("parentId", "EXISTS"), "cleo dan fay"),
    case("source NEQ", cond("source", "NEQ", "ads"), "fay"),
    case("language EQ", cond("language", "EQ", "fr"), "ada"),
    case("currency NOT_IN", cond("currency", "NOT_IN", ["USD"]), "ada cleo"),
]

ENUM_BOOLEAN_NUMBER_CASES = [
    case("enum EQ", cond("paymentMethodType", "EQ", "CARD"), "ada fay"),
    case("enum NEQ", cond("paymentMethodType", "NEQ", "CARD"), "bob dan"),
    case("enum IN", cond("paymentMethodType", "IN", ["WALLET", "DIRECT_DEBIT"]), "bob dan"),
    case("enum NOT_IN", cond("paymentMethodType", "NOT_IN", ["CARD", "WALLET"]), "bob"),
    case("enum IN caseInsensitive", cond("paymentMethodType", "IN", ["card"], ci=True), "ada fay"),
    case("enum NEQ caseInsensitive", cond("paymentMethodType", "NEQ", "Card", ci=True), "bob dan"),
    case("enum EXISTS", cond("paymentMethodType", "EXISTS"), "ada bob dan fay"),
    case("enum NOT_EXISTS", cond("paymentMethodType", "NOT_EXISTS"), "cleo eve gus hal"),
    case(
        "not enum EQ", negate(cond("paymentMethodType", "EQ", "CARD")), "bob cleo dan eve gus hal"
    ),
    case("hasParent EQ true", cond("hasParent", "EQ", True), "cleo dan fay"),
    case("hasParent EQ false", cond("hasParent", "EQ", False), "ada bob eve gus hal"),
    case("hasParent NEQ true", cond("hasParent", "NEQ", True), "ada bob eve gus hal"),
    case("hasChild EQ true", cond("hasChild", "EQ", True), "ada cleo"),
    case("hasChild NEQ false", cond("hasChild", "NEQ", False), "ada cleo"),
    case("hasChild EXISTS", cond("hasChild", "EXISTS"), ALL),
    case("hasParent NOT_EXISTS", cond("hasParent", "NOT_EXISTS"), ""),
    case("ordersCount EQ 0", cond("ordersCount", "EQ", 0), "bob dan eve gus hal"),
    case("ordersCount GT", cond("ordersCount", "GT", 1), "ada cleo fay"),
    case("ordersCount BETWEEN", cond("ordersCount", "BETWEEN", [2, 2]), "ada cleo"),
    case("ordersCount EXISTS", cond("ordersCount", "EXISTS"), ALL),
    case("ordersCount NOT_EXISTS", cond("ordersCount", "NOT_EXISTS"), ""),
    case("ordersCount NEQ", cond("ordersCount", "NEQ", 2), "bob dan eve fay gus hal"),
    case("ordersCount LTE fractional", cond("ordersCount", "LTE", 1.5), "bob dan eve gus hal"),
    case("totalSpent GTE", cond("totalSpent", "GTE", 50), "ada fay"),
    case("totalSpent EQ decimal", cond("totalSpent", "EQ", 15.25), "cleo"),
    case("totalSpent IN", cond("totalSpent", "IN", [0, 50]), "ada bob dan eve gus hal"),
    case("totalSpent NOT_IN", cond("totalSpent", "NOT_IN", [0]), "ada cleo fay"),
    case("totalSpent LT", cond("totalSpent", "LT", 0.01), "bob dan eve gus hal"),
    case("totalSpent BETWEEN", cond("totalSpent", "BETWEEN", [15.25, 300.5]), "ada cleo fay"),
]

DATETIME_CASES = [
    case("createdAt LT date", cond("createdAt", "LT", "2025-01-01"), "dan"),
    case("createdAt GTE offset", cond("createdAt", "GTE", "2025-01-01T00:59:59+01:00"), ALL),
    case(
        "createdAt GT offset",
        cond("createdAt", "GT", "2025-01-01T00:59:59+01:00"),
        "ada bob cleo eve fay gus hal",
    ),
    case("createdAt EQ offset", cond("createdAt", "EQ", "2025-06-01T10:30:00+02:00"), "bob"),
    case(
        "createdAt NEQ",
        cond("createdAt", "NEQ", "2025-06-01T08:30:00Z"),
        "ada cleo dan eve fay gus hal",
    ),
    case("createdAt GT relative", cond("createdAt", "GT", "now-7d"), "cleo"),
    case("createdAt defaults to ingestion", cond("createdAt", "EQ", "2026-02-15"), "eve"),
    case("createdAt EQ offset seconds", cond("createdAt", "EQ", "2025-09-09T07:09:09Z"), "gus"),
    case("updatedAt EQ", cond("updatedAt", "EQ", "2026-02-15T00:00:00Z"), ALL),
    case("lastOrderAt GTE relative", cond("lastOrderAt", "GTE", "now-30d"), "ada cleo fay"),
    case("lastOrderAt LT relative", cond("lastOrderAt", "LT", "now-30d"), ""),
    case(
        "not lastOrderAt GTE", negate(cond("lastOrderAt", "GTE", "now-30d")), "bob dan eve gus hal"
    ),
    case("lastOrderAt NOT_EXISTS", cond("lastOrderAt", "NOT_EXISTS"), "bob dan eve gus hal"),
    case("lastOrderAt EQ relative", cond("lastOrderAt", "EQ", "now-5d"), "fay"),
    case(
        "firstOrderAt BETWEEN relative",
        cond("firstOrderAt", "BETWEEN", ["now-45d", "now-30d"]),
        "fay",
    ),
    case("firstOrderAt NEQ", cond("firstOrderAt", "NEQ", "2026-01-05"), "cleo fay"),
    case("firstOrderAt LTE minutes", cond("firstOrderAt", "LTE", "now-57600m"), "ada fay"),
    case("firstOrderAt GT weeks", cond("firstOrderAt", "GT", "now-1w"), "cleo"),
    case("firstOrderAt GTE hours", cond("firstOrderAt", "GTE", "now-36h"), "cleo"),
]

PROPERTY_CASES = [
    case("string property EQ", cond("properties.plan", "EQ", "pro"), "ada"),
    case("string property empty", cond("properties.plan", "EQ", ""), "bob"),
    case("string property NEQ", cond("properties.plan", "NEQ", "pro"), "bob dan fay gus"),
    case(
        "string property EQ caseInsensitive",
        cond("properties.plan", "EQ", "PRO", ci=True),
        "ada dan",
    ),
    case("string property NOT_EXISTS", cond("properties.plan", "NOT_EXISTS"), "cleo eve hal"),
    case("string property MATCHES", cond("properties.plan", "MATCHES", "pro.*"), "ada gus"),
    case("string property GT", cond("properties.plan", "GT", "pro"), "gus"),
    case("string property IN", cond("properties.plan", "IN", ["Pro", "enterprise"]), "dan fay"),
    case("enum property EQ", cond("properties.tier", "EQ", "GOLD"), "ada"),
    case("enum property IN", cond("properties.tier", "IN", ["GOLD", "SILVER"]), "ada bob"),
    case("enum property NEQ", cond("properties.tier", "NEQ", "GOLD"), "bob dan"),
    case("enum property caseInsensitive", cond("properties.tier", "IN", ["gold"], ci=True), "ada"),
    case("enum property NOT_IN", cond("properties.tier", "NOT_IN", ["GOLD"]), "bob dan"),
    case("number property GT", cond("properties.score", "GT", 0), "ada dan fay"),
    case("number property EQ int and float", cond("properties.score", "EQ", 42), "ada fay"),
    case("number property LTE", cond("properties.score", "LTE", 0), "bob cleo"),
    case("number property BETWEEN", cond("properties.score", "BETWEEN", [-5, 0]), "bob cleo"),
    case("number property NOT_EXISTS", cond("properties.score", "NOT_EXISTS"), "eve gus hal"),
    case("number property NEQ", cond("properties.score", "NEQ", 42), "bob cleo dan"),
    case("number property NOT_IN", cond("properties.score", "NOT_IN", [0, 100.25]), "ada cleo fay"),
    case("boolean property true", cond("properties.vip", "EQ", True), "ada dan"),
    case("boolean property false", cond("properties.vip", "EQ", False), "bob"),
    case("boolean property NEQ", cond("properties.vip", "NEQ", True), "bob"),
    case(
        "not boolean property",
        negate(cond("properties.vip", "EQ", True)),
        "bob cleo eve fay gus hal",
    ),
    case("boolean property EXISTS", cond("properties.vip", "EXISTS"), "ada bob dan"),
    case("datetime property EQ date", cond("properties.renewal", "EQ", "2026-02-01"), "bob cleo"),
    case(
        "datetime property GT instant",
        cond("properties.renewal", "GT", "2026-03-09T22:00:00Z"),
        "ada",
    ),
    case(
        "datetime property GT offset",
        cond("properties.renewal", "GT", "2026-03-10T00:00:00+01:00"),
        "",
    ),
    case("datetime property LT now", cond("properties.renewal", "LT", "now"), "bob cleo"),
    case(
        "datetime property BETWEEN one instant",
        cond("properties.renewal", "BETWEEN", ["2026-03-09T23:00:00Z", "2026-03-09T23:00:00Z"]),
        "ada",
    ),
    case("datetime property NEQ", cond("properties.renewal", "NEQ", "2026-02-01T00:00:00Z"), "ada"),
    case("datetime property GTE relative", cond("properties.renewal", "GTE", "now+7d"), "ada"),
    case(
        "datetime property NOT_EXISTS",
        cond("properties.renewal", "NOT_EXISTS"),
        "dan eve fay gus hal",
    ),
]

LOGIC_CASES = [
    case("and", all_of(cond("country", "EQ", "FR"), cond("properties.plan", "EQ", "pro")), "ada"),
    case("or", any_of(cond("country", "EQ", "DE"), cond("city", "EQ", "")), "bob cleo"),
    case("not or", negate(any_of(cond("country", "EXISTS"), cond("city", "EXISTS"))), "eve"),
    case(
        "rules and conditions",
        any_of(
            all_of(cond("hasParent", "EQ", True), negate(cond("country", "EQ", "FR"))),
            cond("properties.plan", "EQ", ""),
        ),
        "bob cleo dan",
    ),
    case("double not", negate(negate(cond("country", "EQ", "FR"))), "ada fay"),
    case("not NEQ keeps missing", negate(cond("country", "NEQ", "FR")), "ada bob eve fay hal"),
    case(
        "not NOT_IN keeps missing",
        negate(cond("properties.score", "NOT_IN", [42])),
        "ada eve fay gus hal",
    ),
    case(
        "not of a missing comparison in and",
        all_of(
            negate(cond("properties.score", "GT", 0)), negate(cond("properties.score", "LTE", 0))
        ),
        "eve gus hal",
    ),
    case("single-child and", all_of(cond("id", "EQ", "eve")), "eve"),
    case(
        "nested or in and",
        all_of(
            any_of(cond("country", "EQ", "FR"), cond("country", "EQ", "US")),
            any_of(cond("hasChild", "EQ", True), cond("hasParent", "EQ", True)),
        ),
        "ada dan fay",
    ),
]

CASES = STRING_CASES + ENUM_BOOLEAN_NUMBER_CASES + DATETIME_CASES + PROPERTY_CASES + LOGIC_CASES


def _ids(cases: list[Case]) -> list[str]:
    return [c.name for c in cases]


@pytest.mark.parametrize("spec", CASES, ids=_ids(CASES))
async def test_preview_members_follow_the_spec(
    spec: Case, loaded: Loaded, runtime: Runtime
) -> None:
    node = parse_predicate(spec.predicate, CATALOG)
    with clock_at(runtime, NOW):
        got = await preview_ids(loaded.ws, spec.predicate)
    assert members(node, STORED, NOW) == spec.expected, "the reference disagrees with the hand"
    assert got == spec.expected


@pytest.mark.parametrize("spec", CASES[::7], ids=_ids(CASES[::7]))
async def test_customers_where_agrees_with_preview(
    spec: Case, loaded: Loaded, runtime: Runtime
) -> None:
    with clock_at(runtime, NOW):
        got = await filter_ids(loaded.ws, spec.predicate)
    assert got == spec.expected


async def test_relative_times_follow_the_injected_clock(loaded: Loaded, runtime: Runtime) -> None:
    predicate = cond("lastOrderAt", "GTE", "now-30d")
    node = parse_predicate(predicate, CATALOG)
    later = NOW + timedelta(days=25)  # ada's last order (2026-02-20) is now older than 30 days
    with clock_at(runtime, NOW):
        at_now = await preview_ids(loaded.ws, predicate)
    with clock_at(runtime, later):
        at_later = await preview_ids(loaded.ws, predicate)
    assert at_now == members(node, STORED, NOW) == {"ada", "cleo", "fay"}
    assert at_later == members(node, STORED, later) == {"cleo", "fay"}
    assert await sql_ids(runtime, loaded.pk, node, later) == at_later
