"""1000 ACTIVE segments: a write costs what it changes, not how many segments there are.

Setup, reused from run to run: at `--customers 10000` a workspace
`bench-scale-10k` of 10,000 seeded customers, at any other size the seeded
`bench` workspace itself (so run it on a database of its own: the `live`
scenario's figures there would include these segments), and 1000 ACTIVE
segments `bench-scale-NNN-...`: 990 from the mix of bench.scenarios.segments
(absolute instants, the city templates left out, each narrowed to customers
created in a window of WINDOW_DAYS so that no two are alike and a million
customers make a few million membership rows, not two hundred million), none
reading `city` or `name`, and 10 reading `city` (`city EQ Scale-A` or
`Scale-B`, five each). The scenario checks those counts with the service's
own dependency analysis. The segments are created over HTTP and activated
many to a transaction with the service's own baseline (`activate_together`):
one `segmentUsageAttach` at a time is a transaction, a lock on the write gate
and a baseline statement each (it also reloaded every segment of the workspace
each time until 2026-12-06, and a thousand took twenty minutes at 10,000
customers).

Figures: one customer's write changing its city (read by 10 segments; it
enters five and leaves none, or moves between them) and one changing its
name (read by none), each as the service call `write_changes` in the bench
process (rolled back) with the time its SQL took and the segments the counter
saw evaluated, and as `customersUpsert` over HTTP; then 1000-customer batches
of each kind.
"""

from __future__ import annotations

import random
import sys
import time
from datetime import datetime, timedelta
from typing import Any

from api.services import membership
from api.services.customers import write_changes
from api.services.predicates import workspace_segments
from bench.harness import Bench, BenchError, Latency, scenario
from bench.scenarios.ingest import UPSERT
from bench.scenarios.live import StatementClock, seeded_workspace
from bench.scenarios.segments import (
    COUNTRY_SETS,
    Predicate,
    cond,
    ensure_segments,
    mixed_predicates,
)
from domain.customer import validate_batch
from domain.fields import FieldCatalog
from domain.footprint import changed_fields, dependencies
from domain.predicate_parser import parse_predicate
from domain.records import CustomerView
from domain.segment import UsageKind
from persistence.membership import MembershipLog
from persistence.reevaluations import REEVALUATIONS
from persistence.seed import SEED_PROPERTIES
from persistence.unit_of_work import UnitOfWork

SMALL_WORKSPACE = "bench-scale-10k"
SMALL_CUSTOMERS = 10_000
WINDOW_DAYS = 10
ACTIVATE_CHUNK = 100
SEGMENTS = 1000
CITY_READERS = 10
CITIES = ("Scale-A", "Scale-B")
PREFIX = "bench-scale-"
BATCH = 1000
BATCH_RUNS = 3
EVERY_RUNS = 10
RECORD_TABLES = ("customer_order", "invoice", "subscription", "verification", "wallet")


def scale_predicates(now: datetime) -> list[tuple[str, Predicate]]:
    """990 mixed segments that read neither city nor name, then 10 that read city."""
    mix = [(slug, p) for slug, p in mixed_predicates(now, relative=False) if "city" not in slug]
    predicates = []
    for i in range(SEGMENTS - CITY_READERS):
        slug, predicate = mix[i % len(mix)]
        until = now - timedelta(days=1 + i // len(mix))
        window = [
            cond("createdAt", "GTE", (until - timedelta(days=WINDOW_DAYS)).isoformat()),
            cond("createdAt", "LT", until.isoformat()),
        ]
        predicates.append((slug, {"and": [predicate, *window]}))
    for k in range(CITY_READERS):
        countries = cond("country", "IN", values=COUNTRY_SETS[k % len(COUNTRY_SETS)])
        city = cond("city", "EQ", CITIES[k % 2])
        predicates.append((f"city-{k}", city if k < 2 else {"and": [city, countries]}))
    return predicates


def readers_of(predicates: list[tuple[str, Predicate]], field: str) -> int:
    """How many of the predicates read `field`, by the service's own dependency analysis."""
    catalog = FieldCatalog.for_workspace(SEED_PROPERTIES)
    change = changed_fields(field)
    return sum(
        dependencies(parse_predicate(p, catalog), lambda _: None).overlaps(change)
        for _, p in predicates
    )


@scenario(
    "live_scale",
    order=85,
    description="1000 ACTIVE segments: one-customer and 1000-customer writes touching 10 or none",
)
async def run(bench: Bench) -> None:
    predicates = scale_predicates(bench.runtime.clock())
    if (readers_of(predicates, "city"), readers_of(predicates, "name")) != (CITY_READERS, 0):
        raise BenchError("the scale segments do not read city and name as intended")
    if bench.customers == SMALL_CUSTOMERS:
        workspace_pk, key = await seeded_workspace(bench, SMALL_WORKSPACE, SMALL_CUSTOMERS)
    else:
        workspace_pk = bench.workspace_pk
        key = bench.http.headers["Authorization"].removeprefix("Bearer ")
    customers = bench.customers
    # Statistics first: a baseline planned without them can run past the statement timeout.
    await bench.tidy(*RECORD_TABLES, "customer", "segment_member", "segment")
    segments = await ensure_segments(bench, PREFIX, predicates, key, workspace_pk)
    started = time.perf_counter()
    if await activate_together(bench, workspace_pk, segments):
        bench.report("live_scale.activate_all.seconds", time.perf_counter() - started, "s")
    await bench.tidy("segment_member", "segment", "customer")
    rng = random.Random(85)
    ids = [f"cus_{rng.randrange(1, customers + 1):07d}" for _ in range(bench.warmup + bench.runs)]

    city = await service_writes(bench, "live_scale.write_city", workspace_pk, ids, city_of)
    name = await service_writes(bench, "live_scale.write_name", workspace_pk, ids, name_of)
    every = await service_writes(
        bench, "live_scale.write_city_every_segment", workspace_pk, ids, city_of, every=True
    )
    bench.report("live_scale.write_city_sql_vs_every_segment", city.p50 / every.p50, "x")
    bench.report("live_scale.write_name_sql_vs_city", name.p50 / city.p50, "x")
    for label, values in (("city", city_of), ("name", name_of)):
        await bench.latencies(
            f"live_scale.upsert_{label}_http",
            lambda i, values=values: upsert(bench, key, [{"id": ids[i % len(ids)], **values(i)}]),
        )
    batch = [f"cus_{n:07d}" for n in range(1, BATCH + 1)]
    for label, values in (("city", city_of), ("name", name_of)):
        await bench.latencies(
            f"live_scale.batch_{BATCH}_{label}_http",
            lambda i, values=values: upsert(bench, key, [{"id": c, **values(i)} for c in batch]),
            runs=BATCH_RUNS,
            warmup=1,
        )


async def activate_together(
    bench: Bench, workspace_pk: int, segments: list[tuple[str, str]]
) -> int:
    """Make the PASSIVE ones ACTIVE, ACTIVATE_CHUNK to a transaction; returns how many.

    What `segmentUsageAttach` does for each (a loyalty rule attached, the
    baseline stored under the exclusive gate), with the segment rows locked
    in id order and the workspace's definitions loaded once a chunk.
    """
    passive = sorted(segment_id for segment_id, kind in segments if kind != "ACTIVE")
    for start in range(0, len(passive), ACTIVATE_CHUNK):
        async with UnitOfWork(bench.runtime.engine, workspace_pk) as uow:
            log = MembershipLog(uow.conn, workspace_pk)
            await log.enter_exclusively()
            known = await workspace_segments(uow)
            now = bench.runtime.clock()
            for segment_id in passive[start : start + ACTIVATE_CHUNK]:
                segment = await uow.segments.get(segment_id, lock=True)
                if segment is None:
                    raise BenchError(f"segment {segment_id} vanished")
                if segment.attach(UsageKind.LOYALTY_EARNING_RULE, f"rule-{segment_id}", now):
                    condition = known.condition(segment, now)
                    assert segment.pk is not None
                    count = await uow.segments.store_members_where(segment.pk, condition)
                    await log.set_baseline(segment.pk, count)
                await uow.segments.save(segment)
            await uow.commit()
        print(f"# activated {start + ACTIVATE_CHUNK} of {len(passive)}", file=sys.stderr)
    return len(passive)


def city_of(i: int, stored: CustomerView | None = None) -> dict[str, Any]:
    """A city other than the stored one (when known), so that the write changes it."""
    city = CITIES[i % 2]
    if stored is not None and stored.city == city:
        city = CITIES[(i + 1) % 2]
    return {"city": city}


def name_of(i: int, stored: CustomerView | None = None) -> dict[str, Any]:
    """A name never stored before."""
    return {"name": f"Scale name {i} {time.time_ns()}"}


async def upsert(bench: Bench, key: str, customers: list[dict[str, Any]]) -> float:
    data, ms = await bench.gql(UPSERT, {"customers": customers}, key)
    if data["customersUpsert"]["userErrors"]:
        raise BenchError(f"customersUpsert: {data['customersUpsert']['userErrors'][:3]}")
    return ms


async def service_writes(
    bench: Bench, name: str, workspace_pk: int, ids: list[str], values: Any, every: bool = False
) -> Latency:
    """`write_changes` of one customer, each its own transaction, rolled back.

    Reports the whole call, `name_sql` (its SQL statements, round trips
    included), and `name.segments_evaluated` per write from the counter;
    returns the SQL times. With `every`, the same upsert is re-evaluated
    against every ACTIVE segment, as every write was before dependencies.
    """
    clock = StatementClock(bench.runtime.engine)
    sql_ms: list[float] = []
    async with UnitOfWork(bench.runtime.engine, workspace_pk) as uow:
        declared = await uow.properties.all()

    async def once(i: int) -> float:
        async with UnitOfWork(bench.runtime.engine, workspace_pk) as uow:
            stored = await uow.customers.get(ids[i % len(ids)])
            assert stored is not None
            changes = validate_batch([{"id": stored.id, **values(i, stored)}], declared)
            clock.start()
            started = time.perf_counter()
            try:
                if every:
                    await membership.begin_write(uow)
                    outcome = await uow.customers.upsert(changes, bench.runtime.clock())
                    await membership.after_customer_write(uow, outcome.pks, bench.runtime.clock)
                else:
                    await write_changes(uow, changes, bench.runtime.clock)
            finally:
                elapsed = (time.perf_counter() - started) * 1000
                sql_ms.append(clock.stop())
            return elapsed  # leaving rolls it all back

    before = REEVALUATIONS.of(workspace_pk).segments_evaluated
    whole = await bench.latencies(name, once, runs=EVERY_RUNS if every else None)
    writes = bench.warmup + len(whole.samples)
    evaluated = REEVALUATIONS.of(workspace_pk).segments_evaluated - before
    sql = Latency(sql_ms[-len(whole.samples) :])
    bench.report(f"{name}_sql.p50", sql.p50, "ms")
    bench.report(f"{name}_sql.p95", sql.p95, "ms")
    bench.report(f"{name}.segments_evaluated", evaluated / writes, "per write")
    return sql
