"""After the clock moves to any instant and the sweeper runs, stored membership is live membership.

Time-relative ACTIVE segments of every shape domain.boundaries handles (and one
it does not: a DATETIME custom property) over seeded random customers whose
records sit all around the clock; the clock then jumps forward to random
instants, some exactly on a record's boundary or a microsecond after it, with
new customers written between sweeps. After each sweep every segment's stored
members equal tests/reference.py's reading of PREDICATES.md at that instant.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any

from api.runtime import Runtime
from api.services.membership import sweep
from domain.predicate import Node
from domain.predicate_parser import parse_predicate
from tests.api.event_documents import active_segment
from tests.api.segment_documents import create_ok, upsert_ok
from tests.conftest import Workspace
from tests.integration.dataset import CATALOG, NOW, customer_input, ingest, stored
from tests.integration.membership_support import FakeClock, stored_member_ids
from tests.reference import Record, members

DAY = timedelta(days=1)
TICK = timedelta(microseconds=1)
SEED = 15


def cond(field: str, operator: str, value: Any) -> dict[str, Any]:
    key = "values" if isinstance(value, list) else "value"
    return {"condition": {"field": field, "operator": operator, key: value}}


def related(scope: str, quantifier: str, where: Any, **more: Any) -> dict[str, Any]:
    return {"related": {"scope": scope, "quantifier": quantifier, "where": where, **more}}


LAPSED = cond("lastOrderAt", "LT", "now-5d")
SEGMENTS: dict[str, dict[str, Any]] = {
    "recent": cond("lastOrderAt", "GTE", "now-7d"),
    "between": cond("lastOrderAt", "BETWEEN", ["now-20d", "now-3d"]),
    "not early": {"not": cond("firstOrderAt", "LTE", "now-10d")},
    "two in 14d": related(
        "ORDERS",
        "COUNT",
        {"and": [cond("status", "EQ", "PLACED"), cond("placedAt", "GTE", "now-14d")]},
        count={"operator": "GTE", "value": 2},
    ),
    "future order": related("ORDERS", "ANY", cond("placedAt", "GT", "now+1d")),
    "checkout 3d": related(
        "EVENTS",
        "ANY",
        {"and": [cond("name", "EQ", "checkout"), cond("occurredAt", "BETWEEN", ["now-3d", "now"])]},
    ),
    "last 2 invoices fresh": related("INVOICES", "ALL", cond("issuedAt", "GTE", "now-10d"), last=2),
    "one old of last 3 events or many orders": {
        "or": [
            related(
                "EVENTS",
                "COUNT",
                cond("occurredAt", "LT", "now-2d"),
                last=3,
                count={"operator": "EQ", "value": 1},
            ),
            cond("ordersCount", "GTE", 3),
        ]
    },
    "french and not recent": {"and": [cond("country", "EQ", "FR"), {"not": LAPSED}]},
    "renewing (rescanned)": cond("properties.renewal", "LTE", "now+5d"),
}


def random_time(rng: random.Random, around: datetime) -> datetime:
    return around + timedelta(seconds=rng.randrange(-40 * 86400, 15 * 86400))


def random_customer(rng: random.Random, name: str, around: datetime) -> Record:
    customer: Record = {"id": name, "country": rng.choice(["FR", "DE", None])}
    if customer["country"] is None:
        del customer["country"]
    customer["orders"] = [
        {
            "id": f"{name}-o{i}",
            "status": rng.choice(["PLACED", "PLACED", "CANCELED"]),
            "amount": 5,
            "currency": "EUR",
            "placedAt": random_time(rng, around),
        }
        for i in range(rng.randrange(5))
    ]
    customer["invoices"] = [
        {"id": f"{name}-i{i}", "status": "PAID", "total": 10, "issuedAt": random_time(rng, around)}
        for i in range(rng.randrange(4))
    ]
    customer["events"] = [
        {
            "id": f"{name}-e{i}",
            "name": rng.choice(["checkout", "login"]),
            "occurredAt": random_time(rng, around),
            "properties": {},
        }
        for i in range(rng.randrange(5))
    ]
    if rng.random() < 0.5:
        customer["properties"] = {"renewal": random_time(rng, around).isoformat()}
    return customer


def boundary_instants(customers: list[Record]) -> list[datetime]:
    """Instants on, and a tick after, the boundaries of the segments' windows."""
    found = []
    for customer in customers:
        for record in customer["orders"] + customer["invoices"] + customer["events"]:
            when = record.get("placedAt") or record.get("issuedAt") or record["occurredAt"]
            for days in (3, 7, 10, 14, 20):
                found.append(when + days * DAY)
                found.append(when + days * DAY + TICK)
    return found


async def test_stored_membership_equals_live_evaluation_at_every_swept_instant(
    workspace: Workspace, runtime: Runtime, clock: FakeClock
) -> None:
    # given: random customers, events and properties around NOW, and the segments ACTIVE
    rng = random.Random(SEED)
    customers = [random_customer(rng, f"c{n:02d}", NOW) for n in range(40)]
    await ingest(workspace, runtime, customers)
    clock.now = NOW
    lapsed = await create_ok(workspace, name="Lapsed", predicate=LAPSED)
    nodes: dict[str, Node] = {}
    ids: dict[str, str] = {}
    for name, predicate in SEGMENTS.items():
        if name == "french and not recent":  # through a reference, as the reference reads it
            predicate = {"and": [cond("country", "EQ", "FR"), {"not": {"segment": lapsed["id"]}}]}
        ids[name] = await active_segment(workspace, name, predicate)
        nodes[name] = parse_predicate(SEGMENTS[name], CATALOG)

    # when: the clock jumps to random instants, often onto a boundary, with writes in between
    candidates = sorted(rng.sample(boundary_instants(customers), 25))
    candidates += [NOW + timedelta(seconds=rng.randrange(0, 40 * 86400)) for _ in range(10)]
    written = 0
    for instant in sorted(t for t in candidates if t > NOW):
        clock.now = instant
        if rng.random() < 0.3:
            written += 1
            fresh = random_customer(rng, f"w{written:02d}", instant)
            fresh.pop("events")  # tracked events have no upsert: keep the data as written
            await upsert_ok(workspace, customer_input(fresh))
            customers.append({**fresh, "events": []})
        await sweep(runtime)

        # then: every segment's stored members are the reference's, at this instant
        for name, node in nodes.items():
            expected = members(node, stored(customers), instant)
            assert await stored_member_ids(runtime, ids[name]) == expected, (name, instant)
