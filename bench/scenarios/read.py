"""Reading over HTTP: one customer, a page of customers, search, on the seeded workspace."""

from __future__ import annotations

import random

from bench.harness import Bench, scenario
from persistence.customers import encode_cursor

CUSTOMER = """
query Customer($id: ID!) {
  customer(id: $id) {
    id email name country currency language paymentMethodType properties
    ordersCount totalSpent firstOrderAt lastOrderAt createdAt hasParent hasChild
  }
}
"""
CUSTOMER_WITH_RECORDS = """
query CustomerWithRecords($id: ID!) {
  customer(id: $id) {
    id email
    subscriptions { id status planId amount }
    invoices { id status total issuedAt }
    orders(first: 10) { edges { node { id status amount placedAt } } }
    wallets { id balance }
    verifications { id kind status }
  }
}
"""
PAGE = """
query Page($after: String) {
  customers(first: 50, after: $after) {
    edges { cursor node { id email name country totalSpent lastOrderAt } }
    pageInfo { hasNextPage endCursor }
  }
}
"""
COUNT = "query Count { customers(first: 1) { totalCount } }"
SEARCH = """
query Search($term: String!) {
  customers(first: 20, search: $term) { edges { node { id email name } } }
}
"""


@scenario("read", order=30, description="customer(id), customers pages and search over HTTP")
async def run(bench: Bench) -> None:
    rng = random.Random(30)
    n = bench.customers
    ids = [f"cus_{rng.randrange(1, n + 1):07d}" for _ in range(bench.warmup + bench.runs)]

    async def customer(i: int) -> float:
        return (await bench.gql(CUSTOMER, {"id": ids[i]}))[1]

    async def with_records(i: int) -> float:
        return (await bench.gql(CUSTOMER_WITH_RECORDS, {"id": ids[i]}))[1]

    plain = await bench.latencies("read.customer", customer)
    records = await bench.latencies("read.customer_with_records", with_records)
    bench.report("read.customer_with_records_vs_plain", records.p50 / plain.p50, "x")

    async def first_page(i: int) -> float:
        return (await bench.gql(PAGE, {"after": None}))[1]

    async def deep_page(i: int) -> float:
        return (await bench.gql(PAGE, {"after": encode_cursor(ids[i])}))[1]

    await bench.latencies("read.customers_first_page", first_page)
    await bench.latencies("read.customers_deep_page", deep_page)
    await bench.latencies(
        "read.customers_total_count",
        lambda i: _elapsed(bench, COUNT, {}),
        runs=max(bench.runs // 10, 5),
        warmup=1,
    )

    # Selective (a customer number, an email) and broad (a common last name) terms.
    selective = [ids[i][4:] if i % 2 else f"{ids[i][4:]}@" for i in range(len(ids))]
    broad = ["kowalski", "tanaka", "muller", "garcia", "wilson"]

    async def search_selective(i: int) -> float:
        return await _elapsed(bench, SEARCH, {"term": selective[i]})

    async def search_broad(i: int) -> float:
        return await _elapsed(bench, SEARCH, {"term": broad[i % len(broad)]})

    await bench.latencies("read.customers_search_selective", search_selective)
    await bench.latencies("read.customers_search_broad", search_broad)


async def _elapsed(bench: Bench, query: str, variables: dict[str, object]) -> float:
    return (await bench.gql(query, variables))[1]
