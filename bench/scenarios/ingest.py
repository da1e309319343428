"""Writing over HTTP: customersUpsert in batches of 1000 with related records, and one by one."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

from bench.harness import Bench, BenchError, Latency, scenario
from persistence.seed import COUNTRIES

UPSERT = """
mutation Upsert($customers: [CustomerInput!]!) {
  customersUpsert(customers: $customers) {
    customers { id }
    userErrors { field message code }
  }
}
"""
BATCH = 1000
BATCHES = 10
WARMUP_BATCHES = 1
RECORDS = 9  # rows a customer input writes: itself and 8 related records
NOW = datetime(2026, 11, 1, tzinfo=UTC)


def _at(rng: random.Random, days: int) -> str:
    return (NOW - timedelta(seconds=rng.randrange(days * 86_400))).isoformat()


def customer_input(rng: random.Random, customer_id: str) -> dict[str, Any]:
    """A customer as a client would send it: fields, properties and 8 related records."""
    country = rng.choice(COUNTRIES)
    currency = country.currency
    return {
        "id": customer_id,
        "email": f"{customer_id}@example.com",
        "name": f"Bench {customer_id}",
        "country": country.code,
        "currency": currency,
        "language": country.languages[0],
        "city": rng.choice(country.cities),
        "source": "import",
        "paymentMethodType": rng.choice(["CARD", "DIRECT_DEBIT", "BANK_TRANSFER"]),
        "createdAt": _at(rng, 1000),
        "properties": {
            "plan": rng.choice(["free", "pro", "enterprise"]),
            "seats": rng.randrange(1, 200),
        },
        "subscriptions": [
            {
                "id": "sub_1",
                "status": "ACTIVE",
                "planId": "pro_monthly",
                "amount": 49.0,
                "currency": currency,
                "startedAt": _at(rng, 700),
            }
        ],
        "invoices": [
            {
                "id": f"inv_{k}",
                "status": rng.choice(["PAID", "OPEN"]),
                "total": rng.randrange(1000, 90000) / 100,
                "currency": currency,
                "issuedAt": _at(rng, 700),
            }
            for k in (1, 2)
        ],
        "orders": [
            {
                "id": f"ord_{k}",
                "status": rng.choice(["FULFILLED", "PLACED", "CANCELED"]),
                "amount": rng.randrange(500, 30000) / 100,
                "currency": currency,
                "placedAt": _at(rng, 700),
            }
            for k in (1, 2, 3)
        ],
        "wallets": [
            {"id": "wal_1", "currency": currency, "balance": rng.randrange(0, 50000) / 100}
        ],
        "verifications": [
            {"id": "ver_1", "kind": "EMAIL", "status": "VERIFIED", "verifiedAt": _at(rng, 700)}
        ],
    }


async def _upsert(bench: Bench, key: str, customers: list[dict[str, Any]]) -> float:
    data, elapsed = await bench.gql(UPSERT, {"customers": customers}, key=key)
    payload = data["customersUpsert"]
    if payload["userErrors"] or len(payload["customers"]) != len(customers):
        raise BenchError(f"customersUpsert refused the batch: {payload['userErrors'][:3]}")
    return elapsed


@scenario("ingest", order=20, description="customersUpsert over HTTP, batches of 1000 and single")
async def run(bench: Bench) -> None:
    rng = random.Random(20)
    async with bench.scratch_workspace("bench-ingest") as (_name, key):
        batches = [
            [customer_input(rng, f"ing_{b:03d}_{i:04d}") for i in range(BATCH)]
            for b in range(WARMUP_BATCHES + BATCHES)
        ]
        for batch in batches[:WARMUP_BATCHES]:
            await _upsert(bench, key, batch)
        batch_ms = Latency([await _upsert(bench, key, batch) for batch in batches[WARMUP_BATCHES:]])
        bench.report("ingest.batch_1000.p50", batch_ms.p50, "ms")
        bench.report("ingest.batch_1000.p95", batch_ms.p95, "ms")
        seconds = sum(batch_ms.samples) / 1000
        customers = BATCH * BATCHES
        bench.report("ingest.batch_1000.customers_per_second", customers / seconds, "customers/s")
        bench.report("ingest.batch_1000.rows_per_second", RECORDS * customers / seconds, "rows/s")
        again = [dict(c, name=f"Renamed {c['id']}") for c in batches[WARMUP_BATCHES]]
        update_ms = Latency([await _upsert(bench, key, again) for _ in range(3)])
        bench.report("ingest.batch_1000_update.p50", update_ms.p50, "ms")

        singles = [customer_input(rng, f"one_{i:05d}") for i in range(bench.warmup + bench.runs)]
        single = await bench.latencies("ingest.single", lambda i: _upsert(bench, key, [singles[i]]))
        per_customer = batch_ms.p50 / BATCH
        bench.report("ingest.single_vs_batch_per_customer", single.p50 / per_customer, "x")
