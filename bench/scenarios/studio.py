"""What the studio's builder asks for, at the seeded size.

- `studio.impact.one_condition`: segmentImpact for an edit of a PASSIVE segment that
  changes one condition (card -> direct debit), with both sides' counts and a first
  page of each, as the builder asks on every change. Target: p50 under 1 s at 1M.
- `studio.preview.keystroke`: the builder's own preview document (first 20 members and
  a column) for a run of indexed predicates that differ at each call, as typing produces
  them (one request per change). Target: p50 under 50 ms. `keystroke_no_column` is the
  same without the adaptive column (`Customer.value`), and `column_cost` their ratio.
- `studio.preview.keystroke_count`: the count the builder asks for beside it (totalCount,
  percentage), shown when it arrives; it reads every match, so it has no such target.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from bench.harness import Bench, BenchError, scenario
from bench.scenarios.segments import cond, ensure_segments

IMPACT = """
query Impact($id: ID!, $p: JSON!) {
  segmentImpact(segmentId: $id, predicate: $p) {
    userErrors { field message code }
    leaving { count customers(first: 5) { edges { node { id email } } } }
    entering { count customers(first: 5) { edges { node { id email } } } }
  }
}
"""
PREVIEW = """
query Preview($p: JSON!) {
  segmentPreview(predicate: $p, first: 20) {
    userErrors { field message code }
    members { edges { node { id email c0: value(field: "country") } }
              pageInfo { hasNextPage endCursor } }
  }
}
"""
BARE = PREVIEW.replace(' c0: value(field: "country")', "")
COUNT = """
query Count($p: JSON!) {
  segmentPreview(predicate: $p, first: 1) { userErrors { code } totalCount percentage }
}
"""
COUNTRIES = ["FR", "DE", "ES", "IT", "NL", "BE", "PT", "AT", "SE", "DK", "PL", "IE"]
METHODS = ["CARD", "DIRECT_DEBIT", "BANK_TRANSFER", "WALLET"]


def rules(countries: list[str], method: str) -> dict[str, Any]:
    """The builder's shape: one group, country IN ... AND paymentMethodType EQ ..."""
    return {
        "or": [
            {
                "and": [
                    cond("country", "IN", values=countries),
                    cond("paymentMethodType", "EQ", method),
                ]
            }
        ]
    }


def typed(i: int) -> dict[str, Any]:
    """The i-th state of a user building rules: countries added one by one, methods cycled."""
    return rules(COUNTRIES[: 1 + i % len(COUNTRIES)], METHODS[(i // len(COUNTRIES)) % 4])


@scenario("studio", order=45, description="segmentImpact of a one-condition edit; the preview loop")
async def run(bench: Bench) -> None:
    [(segment_id, _)] = await ensure_segments(
        bench, "studio-", [("fr-de-card", rules(["FR", "DE"], "CARD"))]
    )
    edited = rules(["FR", "DE"], "DIRECT_DEBIT")

    async def impact(i: int) -> float:
        data, ms = await bench.gql(IMPACT, {"id": segment_id, "p": edited})
        if data["segmentImpact"]["userErrors"]:
            raise BenchError(f"segmentImpact refused: {data['segmentImpact']['userErrors']}")
        return ms

    runs = max(bench.runs // 10, 5)  # each call counts both sides over every customer
    await bench.latencies("studio.impact.one_condition", impact, runs=runs, warmup=1)

    def keystroke(document: str) -> Callable[[int], Awaitable[float]]:
        async def call(i: int) -> float:
            data, ms = await bench.gql(document, {"p": typed(i)})
            if data["segmentPreview"]["userErrors"]:
                raise BenchError(f"segmentPreview refused: {data['segmentPreview']}")
            return ms

        return call

    page = await bench.latencies("studio.preview.keystroke", keystroke(PREVIEW))
    bare = await bench.latencies("studio.preview.keystroke_no_column", keystroke(BARE))
    bench.report("studio.preview.column_cost", page.p50 / bare.p50, "x")
    await bench.latencies("studio.preview.keystroke_count", keystroke(COUNT), runs=runs)
