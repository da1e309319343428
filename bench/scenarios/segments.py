"""Saved segments on the seeded workspace: a listing of 100 with stats, members, point checks.

The 100 PASSIVE segments (`bench-passive-NNN-...`) are created on the first
run and reused after; `mixed_predicates` is also what bench.scenarios.live
makes ACTIVE. The mix covers every kind of condition the compiler produces:
indexed columns, custom properties (GIN and expression), activity columns,
related scopes with ANY, ALL, COUNT and `last`, MATCHES, derived booleans.
"""

from __future__ import annotations

import random
import sys
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from bench.harness import Bench, BenchError, scenario
from domain.instant import format_instant

CREATE = """
mutation Create($input: SegmentCreateInput!) {
  segmentCreate(input: $input) { segment { id kind } userErrors { field message code } }
}
"""
LIST = """
query List($search: String) {
  segments(first: 100, search: $search) {
    edges { node { id name kind stats { customerCount totalCustomers percentage computedAt } } }
  }
}
"""
MEMBERS = """
query Members($id: ID!) {
  segment(id: $id) {
    members(first: 50) { edges { cursor node { id email name country createdAt } } }
  }
}
"""
MEMBERSHIP = """
query Membership($segmentId: ID!, $customerId: ID!) {
  segmentMembership(segmentId: $segmentId, customerId: $customerId) { isMember }
}
"""
PASSIVE_PREFIX = "bench-passive-"
SEGMENTS = 100

Predicate = dict[str, Any]


def cond(
    field: str, operator: str, value: Any = None, values: list[Any] | None = None
) -> Predicate:
    body: dict[str, Any] = {"field": field, "operator": operator}
    if value is not None:
        body["value"] = value
    if values is not None:
        body["values"] = values
    return {"condition": body}


def related(scope: str, quantifier: str, where: Predicate | None = None, **extra: Any) -> Predicate:
    body: dict[str, Any] = {"scope": scope, "quantifier": quantifier, **extra}
    if where is not None:
        body["where"] = where
    return {"related": body}


COUNTRY_SETS = (["FR", "DE"], ["US"], ["GB", "IE"], ["ES", "IT", "PT"], ["JP", "IN", "AU", "SG"])
PAYMENTS = ("CARD", "DIRECT_DEBIT", "BANK_TRANSFER", "WALLET", "CARD")
PLANS = ("free", "pro", "enterprise", "pro", "enterprise")
INDUSTRIES = (["saas", "fintech"], ["retail"], ["media", "travel"], ["health"], ["logistics"])
SUB_PLANS = (
    ["pro_monthly"],
    ["team_monthly", "pro_yearly"],
    ["enterprise_yearly"],
    ["starter_monthly"],
    ["pro_monthly", "pro_yearly"],
)
DOMAINS = (
    r".*@gmail\.com",
    r".*@(outlook|yahoo)\.com",
    r".*@proton\.me",
    r".*@example\.com",
    r".*\.1[0-9]{3}@.*",
)
CITIES = (["Paris", "Lyon"], ["Berlin", "Munich"], ["London"], ["Tokyo", "Osaka"], ["Madrid"])
LANGUAGES = ("fr", "de", "en", "ja", "es")


def _template(t: int, k: int, now: datetime, relative: bool) -> tuple[str, Predicate]:
    """The k-th variant (0..4) of template t (0..19)."""
    days = (30, 60, 90, 180, 365)[k]
    since = f"now-{days}d" if relative else format_instant(now - timedelta(days=days))
    templates: list[tuple[str, Predicate]] = [
        ("country-in", cond("country", "IN", values=COUNTRY_SETS[k])),
        (
            "country-payment",
            {
                "and": [
                    cond("country", "IN", values=COUNTRY_SETS[k]),
                    cond("paymentMethodType", "EQ", PAYMENTS[k]),
                ]
            },
        ),
        ("plan", cond("properties.plan", "EQ", PLANS[k])),
        ("seats", cond("properties.seats", "GTE", (5, 20, 50, 200, 1000)[k])),
        ("industry", cond("properties.industry", "IN", values=INDUSTRIES[k])),
        (
            "beta-country",
            {
                "and": [
                    cond("properties.beta", "EQ", True),
                    cond("country", "IN", values=COUNTRY_SETS[k]),
                ]
            },
        ),
        ("total-spent", cond("totalSpent", "GTE", (50, 200, 500, 1000, 3000)[k])),
        ("orders-count", cond("ordersCount", "GTE", (2, 4, 6, 8, 10)[k])),
        ("last-order", cond("lastOrderAt", "GTE", since)),
        ("created", cond("createdAt", "GTE", format_instant(now - timedelta(days=4 * days)))),
        (
            "open-invoice",
            related(
                "INVOICES",
                "ANY",
                {
                    "and": [
                        cond("status", "EQ", "OPEN"),
                        cond("total", "GTE", (0, 50, 100, 500, 1000)[k]),
                    ]
                },
            ),
        ),
        (
            "fulfilled-count",
            related(
                "ORDERS",
                "COUNT",
                cond("status", "EQ", "FULFILLED"),
                count={"operator": "GTE", "value": (2, 3, 4, 5, 6)[k]},
            ),
        ),
        (
            "active-subscription",
            related(
                "SUBSCRIPTIONS",
                "ANY",
                {
                    "and": [
                        cond("status", "EQ", "ACTIVE"),
                        cond("planId", "IN", values=SUB_PLANS[k]),
                    ]
                },
            ),
        ),
        (
            "all-verified",
            {
                "and": [
                    related("VERIFICATIONS", "ALL", cond("status", "EQ", "VERIFIED")),
                    cond("country", "IN", values=COUNTRY_SETS[k]),
                ]
            },
        ),
        ("email-domain", cond("email", "MATCHES", DOMAINS[k])),
        (
            "no-tax-id",
            {
                "and": [
                    {"not": cond("taxId", "EXISTS")},
                    cond("country", "IN", values=COUNTRY_SETS[k]),
                ]
            },
        ),
        (
            "plan-or-spent",
            {
                "or": [
                    cond("properties.plan", "EQ", "enterprise"),
                    cond("totalSpent", "GTE", (500, 1000, 2000, 4000, 8000)[k]),
                ]
            },
        ),
        (
            "last-invoices-paid",
            related("INVOICES", "ALL", cond("status", "EQ", "PAID"), last=(1, 2, 3, 4, 5)[k]),
        ),
        (
            "parent-child",
            {
                "and": [
                    {"or": [cond("hasParent", "EQ", True), cond("hasChild", "EQ", True)]},
                    cond("country", "IN", values=COUNTRY_SETS[k]),
                ]
            },
        ),
        (
            "city-language",
            {"and": [cond("city", "IN", values=CITIES[k]), cond("language", "EQ", LANGUAGES[k])]},
        ),
    ]
    return templates[t]


def mixed_predicates(now: datetime, relative: bool = True) -> list[tuple[str, Predicate]]:
    """SEGMENTS (slug, predicate) pairs: 20 templates, 5 variants each.

    With `relative=False` no predicate is time-relative (absolute instants
    from `now` instead), so that ACTIVE ones are not swept.
    """
    return [_template(i % 20, i // 20, now, relative) for i in range(SEGMENTS)]


async def ensure_segments(
    bench: Bench,
    prefix: str,
    predicates: list[tuple[str, Predicate]],
    key: str | None = None,
    workspace_pk: int | None = None,
) -> list[tuple[str, str]]:
    """`prefix`NNN-slug segments, created over HTTP unless they exist: [(id, kind)] in order."""
    names = [f"{prefix}{i:03d}-{slug}" for i, (slug, _) in enumerate(predicates)]
    rows = await bench.conn.fetch(
        "SELECT name, id, kind FROM segment WHERE workspace_pk = $1 AND name = ANY($2)",
        workspace_pk or bench.workspace_pk,
        names,
    )
    found = {r["name"]: (r["id"], r["kind"]) for r in rows}
    created = 0
    for name, (_, predicate) in zip(names, predicates, strict=True):
        if name in found:
            continue
        data, _ms = await bench.gql(CREATE, {"input": {"name": name, "predicate": predicate}}, key)
        payload = data["segmentCreate"]
        if payload["userErrors"]:
            raise BenchError(f"segmentCreate {name}: {payload['userErrors']}")
        found[name] = (payload["segment"]["id"], payload["segment"]["kind"])
        created += 1
    if created > 1:
        print(f"# created {created} segments {prefix}*", file=sys.stderr, flush=True)
    return [found[name] for name in names]


@scenario(
    "segments",
    order=50,
    description="100 saved segments: listing with stats, a members page, segmentMembership",
)
async def run(bench: Bench) -> None:
    now = bench.runtime.clock()
    segments = await ensure_segments(bench, PASSIVE_PREFIX, mixed_predicates(now))
    ids = [segment_id for segment_id, _ in segments]

    max_age = timedelta(seconds=bench.runtime.settings.stats_max_age_s)
    tally = {"stale": 0, "failed": 0}

    async def listing(i: int) -> float:
        """Time one listing; count the stats older than the freshness bound, and failures."""
        started = time.perf_counter()
        document = {"query": LIST, "variables": {"search": PASSIVE_PREFIX}}
        response = await bench.http.post(f"{bench.base_url}/graphql", json=document)
        ms = (time.perf_counter() - started) * 1000
        body = response.json()
        if response.status_code != 200 or not (body.get("data") or body.get("errors")):
            raise BenchError(f"HTTP {response.status_code}: {str(body)[:500]}")
        if body.get("errors"):  # a count past the statement timeout nulls the whole listing
            tally["failed"] += 1
            print(f"# segments listing failed: {str(body['errors'])[:300]}", file=sys.stderr)
            return ms
        edges = body["data"]["segments"]["edges"]
        if len(edges) != SEGMENTS:
            raise BenchError(f"expected {SEGMENTS} segments, got {len(edges)}")
        listed_at = datetime.now(UTC)
        for edge in edges:
            computed = datetime.fromisoformat(edge["node"]["stats"]["computedAt"])
            if i >= bench.warmup and listed_at - computed > max_age:
                tally["stale"] += 1
        return ms

    # The first listing counts every segment that has no count yet (a new database); the
    # timed ones read the stored counts, which the server's background refresher keeps
    # within SEGMENTQL_STATS_MAX_AGE_S (60 s by default). `stale` says how many stats in
    # the timed listings were older than that bound; `failed`, listings that errored.
    bench.report("segments.list_100_stats.first", await listing(-1), "ms")
    await bench.latencies("segments.list_100_stats", listing, runs=max(bench.runs // 2, 20))
    bench.report("segments.list_100_stats.stale", tally["stale"], "stats")
    bench.report("segments.list_100_stats.failed", tally["failed"], "calls")

    async def members(i: int) -> float:
        return (await bench.gql(MEMBERS, {"id": ids[i % len(ids)]}))[1]

    await bench.latencies("segments.members_page_50", members)

    rng = random.Random(50)
    customers = [f"cus_{rng.randrange(1, bench.customers + 1):07d}" for _ in range(1000)]

    async def membership(i: int) -> float:
        variables = {"segmentId": ids[i % len(ids)], "customerId": customers[i % len(customers)]}
        return (await bench.gql(MEMBERSHIP, variables))[1]

    await bench.latencies("segments.membership", membership)

    async def one_segment(i: int) -> float:
        """As a loyalty rule checks its segment for customer after customer."""
        variables = {"segmentId": ids[1], "customerId": customers[i % len(customers)]}
        return (await bench.gql(MEMBERSHIP, variables))[1]

    await bench.latencies("segments.membership_one_segment", one_segment)
