"""Live predicates on the seeded workspace: segmentPreview over HTTP beside its own SQL.

Each figure has a twin `_sql` figure: the statement the service runs for that
request, compiled by the service's own compiler (bench.statements), run
alone on the harness's asyncpg connection; `_http_vs_sql` is the ratio of the
medians, what the API adds around the database (parsing, checking the
predicate against the catalog, HTTP, JSON).
"""

from __future__ import annotations

from typing import Any

from bench.harness import Bench, BenchError, Latency, scenario
from bench.scenarios.segments import cond, related
from bench.statements import compiled, condition_of, count_statement, page_statement

FIRST_PAGE = """
query Preview($predicate: JSON!) {
  segmentPreview(predicate: $predicate, first: 50) {
    userErrors { field message code }
    members { edges { cursor node { id email name country createdAt } } }
  }
}
"""
TOTAL_COUNT = """
query Count($predicate: JSON!) {
  segmentPreview(predicate: $predicate) { userErrors { field message code } totalCount }
}
"""
INDEXED = {
    "and": [
        cond("country", "IN", values=["FR", "DE", "ES", "IT"]),
        cond("paymentMethodType", "EQ", "CARD"),
    ]
}
OPEN_INVOICE = related("INVOICES", "ANY", cond("status", "EQ", "OPEN"))


async def compare(
    bench: Bench, name: str, document: str, predicate: dict[str, Any], statement: Any, runs: int
) -> None:
    """`name` over HTTP and `name_sql` alone, p50/p95 each, and their ratio."""

    async def http(i: int) -> float:
        data, ms = await bench.gql(document, {"predicate": predicate})
        if data["segmentPreview"]["userErrors"]:
            raise BenchError(f"segmentPreview refused {predicate}: {data['segmentPreview']}")
        return ms

    sql, args = compiled(bench, statement)

    async def raw(i: int) -> float:
        return (await bench.sql_timed(sql, *args))[1]

    warmup = min(bench.warmup, max(runs // 5, 1))  # counts are slow: fewer of everything
    over_http: Latency = await bench.latencies(name, http, runs=runs, warmup=warmup)
    alone: Latency = await bench.latencies(f"{name}_sql", raw, runs=runs, warmup=warmup)
    bench.report(f"{name}_http_vs_sql", over_http.p50 / alone.p50, "x")


@scenario(
    "predicates",
    order=40,
    description="segmentPreview: first page and totalCount over HTTP, beside the same SQL",
)
async def run(bench: Bench) -> None:
    ws = bench.workspace_pk
    counts = max(bench.runs // 10, 5)  # a count reads every match: fewer runs
    # One instant for the whole scenario: these predicates hold no relative time anyway.
    now = bench.runtime.clock()
    indexed = await condition_of(bench, INDEXED, now)
    await compare(
        bench,
        "predicates.indexed.first_page_50",
        FIRST_PAGE,
        INDEXED,
        page_statement(ws, indexed, 50),
        bench.runs,
    )
    # totalCount alone still makes the service read the first page (50 by default) first.
    await compare(
        bench,
        "predicates.indexed.total_count",
        TOTAL_COUNT,
        INDEXED,
        count_statement(ws, indexed),
        counts,
    )

    invoices = await condition_of(bench, OPEN_INVOICE, now)
    await compare(
        bench,
        "predicates.open_invoice_exists.first_page_50",
        FIRST_PAGE,
        OPEN_INVOICE,
        page_statement(ws, invoices, 50),
        bench.runs,
    )
    await compare(
        bench,
        "predicates.open_invoice_exists.total_count",
        TOTAL_COUNT,
        OPEN_INVOICE,
        count_statement(ws, invoices),
        counts,
    )
