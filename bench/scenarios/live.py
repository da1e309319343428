"""ACTIVE segments: activation, re-evaluating a write, batch upserts, subscribers, the sweeper.

Setup, reused from run to run: 100 ACTIVE segments `bench-active-NNN-...` (the
mix of bench.scenarios.segments with absolute instants, so that none is
swept, each narrowed to a few countries unless it names countries already),
the same 100 in a second workspace `bench-10k` of 10,000 seeded customers,
a probe segment for subscriptions, and a time-relative one for the sweeper.
The customers this scenario writes are its own (`bench-live-...`), in the
bench workspace beside the seeded ones.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import websockets
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine
from websockets.asyncio.client import ClientConnection, connect

from api.services import membership
from api.services.bootstrap import create_key
from bench.harness import Bench, BenchError, Latency, scenario
from bench.scenarios.ingest import UPSERT, customer_input
from bench.scenarios.segments import (
    COUNTRY_SETS,
    Predicate,
    cond,
    ensure_segments,
    mixed_predicates,
)
from domain.access import Role
from persistence.seed import seed_customers
from persistence.sweeper import sweep_lock
from persistence.unit_of_work import UnitOfWork

ACTIVE_PREFIX = "bench-active-"
SMALL_WORKSPACE = "bench-10k"
SMALL_CUSTOMERS = 10_000
ATTACH = """
mutation Attach($id: ID!, $reference: String!) {
  segmentUsageAttach(segmentId: $id, kind: LOYALTY_EARNING_RULE, reference: $reference) {
    segment { id kind } userErrors { field message code }
  }
}
"""
DETACH = """
mutation Detach($id: ID!, $reference: String!) {
  segmentUsageDetach(segmentId: $id, kind: LOYALTY_EARNING_RULE, reference: $reference) {
    userErrors { field message code }
  }
}
"""
DELETE = "mutation Delete($id: ID!) { segmentDelete(id: $id) { userErrors { message } } }"
CHANGED = """
subscription Changed($segmentId: ID, $after: ID) {
  segmentMembershipChanged(segmentId: $segmentId, after: $after) { id kind segmentId customerId }
}
"""
PROBE_INDUSTRY = "bench-probe"
PROBE_CUSTOMER = "bench-live-probe"
BATCH = 1000
BATCH_RUNS = 3
CREATE_CHUNK = 250
LATENCY_RUNS = 20
SUBSCRIBERS = 1000
FANOUT_EVENTS = 5
SWEEP_RUNS = 5
ACTIVATION_PROBES = 3
EVENT_TIMEOUT_S = 120.0


def active_predicates(bench: Bench) -> list[tuple[str, Predicate]]:
    """The segments mix without relative times; those not on countries narrowed to a few."""
    mix = mixed_predicates(bench.runtime.clock(), relative=False)
    narrowed = []
    for i, (slug, predicate) in enumerate(mix):
        if "country" not in json.dumps(predicate):
            countries = cond("country", "IN", values=COUNTRY_SETS[(i + 1) % len(COUNTRY_SETS)])
            predicate = {"and": [predicate, countries]}
        narrowed.append((slug, predicate))
    return narrowed


async def activate(
    bench: Bench, segments: list[tuple[str, str]], key: str | None = None
) -> list[float]:
    """Attach a loyalty rule to each PASSIVE one; returns the milliseconds of each activation."""
    timings = []
    for segment_id, kind in segments:
        if kind == "ACTIVE":
            continue
        variables = {"id": segment_id, "reference": f"rule-{segment_id}"}
        data, ms = await bench.gql(ATTACH, variables, key)
        payload = data["segmentUsageAttach"]
        if payload["userErrors"] or payload["segment"]["kind"] != "ACTIVE":
            raise BenchError(f"segmentUsageAttach {segment_id}: {payload['userErrors']}")
        timings.append(ms)
    return timings


async def ensure_active(
    bench: Bench,
    prefix: str,
    predicates: list[tuple[str, Predicate]],
    label: str,
    key: str | None = None,
    workspace_pk: int | None = None,
) -> list[str]:
    segments = await ensure_segments(bench, prefix, predicates, key, workspace_pk)
    timings = await activate(bench, segments, key)
    if len(timings) == len(predicates) > 1:  # all activated now: the first run on this database
        bench.report(f"live.activate_{len(timings)}{label}.seconds", sum(timings) / 1000, "s")
    elif len(timings) > 1:
        print(f"# activated {len(timings)} segments {prefix}*{label}", file=sys.stderr)
    return [segment_id for segment_id, _ in segments]


@scenario(
    "live",
    order=80,
    description="ACTIVE segments: activation, re-evaluation, batches, subscribers, sweeper",
)
async def run(bench: Bench) -> None:
    mix = active_predicates(bench)
    await ensure_active(bench, ACTIVE_PREFIX, mix, "")
    small_pk, small_key = await small_workspace(bench)
    await ensure_active(bench, ACTIVE_PREFIX, mix, "_10k", small_key, small_pk)
    await bench.tidy("segment_member", "segment", "segment_event", "customer")

    full, full_sql = await reevaluation(
        bench, "live.reevaluate_one", bench.workspace_pk, bench.customers
    )
    small, small_sql = await reevaluation(
        bench, "live.reevaluate_one_10k", small_pk, SMALL_CUSTOMERS
    )
    bench.report("live.reevaluate_one_full_vs_10k", full.p50 / small.p50, "x")
    bench.report("live.reevaluate_one_sql_full_vs_10k", full_sql.p50 / small_sql.p50, "x")

    probe = cond("properties.industry", "EQ", PROBE_INDUSTRY)
    (probe_id,) = await ensure_active(bench, "bench-active-probe-", [("industry", probe)], "_probe")
    await each_step(
        lambda: batch_upserts(bench),
        lambda: subscriber_latency(bench, probe_id),
        lambda: fan_out(bench, probe_id),
        lambda: sweeper(bench),
        lambda: activation_probes(bench),
    )


async def each_step(*steps: Callable[[], Awaitable[None]]) -> None:
    """Run every step even when one fails (its figures are then missing), then raise the first.

    The steps measure unrelated things: a fan-out that times out must not cost
    the sweeper's figure.
    """
    failures: list[Exception] = []
    for step in steps:
        try:
            await step()
        except Exception as exc:
            print(f"# live step failed: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
            failures.append(exc)
    if failures:
        raise failures[0]


async def small_workspace(bench: Bench) -> tuple[int, str]:
    """`bench-10k` with its 10,000 customers (seeded when missing), and a WRITE key."""
    return await seeded_workspace(bench, SMALL_WORKSPACE, SMALL_CUSTOMERS)


async def seeded_workspace(bench: Bench, name: str, customers: int) -> tuple[int, str]:
    """Workspace `name` with `customers` seeded customers (seeded when missing), a WRITE key."""
    pk = await bench.conn.fetchval("SELECT pk FROM workspace WHERE name = $1", name)
    have = 0
    if pk is not None:
        have = await bench.conn.fetchval(
            "SELECT count(*) FROM customer WHERE workspace_pk = $1", pk
        )
    if have < customers:
        await seed_customers(bench.runtime, name, customers - have)
    key = await create_key(bench.runtime, name, Role.WRITE, "bench")
    pk = await bench.conn.fetchval("SELECT pk FROM workspace WHERE name = $1", name)
    return int(pk), key


# ---- re-evaluating one written customer, in the database --------------------------------------


class StatementClock:
    """Milliseconds spent executing SQL on an engine, between `start()` and `stop()`.

    SQLAlchemy's cursor events bracket each statement's round trip to the
    database; what lies outside them (loading and compiling the segments'
    predicates) is Python in the bench process.
    """

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine.sync_engine
        self.ms = 0.0
        self._started: list[float] = []

    def _before(self, *args: Any) -> None:
        self._started.append(time.perf_counter())

    def _after(self, *args: Any) -> None:
        self.ms += (time.perf_counter() - self._started.pop()) * 1000

    def start(self) -> None:
        self.ms = 0.0
        event.listen(self.engine, "before_cursor_execute", self._before)
        event.listen(self.engine, "after_cursor_execute", self._after)

    def stop(self) -> float:
        event.remove(self.engine, "before_cursor_execute", self._before)
        event.remove(self.engine, "after_cursor_execute", self._after)
        return self.ms


async def reevaluation(
    bench: Bench, name: str, workspace_pk: int, customers: int
) -> tuple[Latency, Latency]:
    """`membership.after_customer_write` for one customer whose country just changed.

    Each call is its own transaction, rolled back: the gate, the change (so that
    some segments see the customer enter or leave), then the timed
    re-evaluation against every ACTIVE segment of the workspace, with whatever
    membership rows and events it records. Reports the whole call and, as
    `name_sql`, the time its SQL statements took.
    """
    rng = random.Random(80)
    numbers = [rng.randrange(1, customers + 1) for _ in range(bench.warmup + bench.runs)]
    rows = await bench.conn.fetch(
        "SELECT pk FROM customer WHERE workspace_pk = $1 AND id = ANY($2::text[])",
        workspace_pk,
        [f"cus_{n:07d}" for n in numbers],
    )
    pks = [r["pk"] for r in rows]
    if not pks:
        raise BenchError(f"no seeded customers in workspace {workspace_pk}")
    countries = [c for group in COUNTRY_SETS for c in group]
    clock = StatementClock(bench.runtime.engine)
    sql_ms: list[float] = []

    async def once(i: int) -> float:
        async with UnitOfWork(bench.runtime.engine, workspace_pk) as uow:
            await membership.begin_write(uow)
            await uow.conn.execute(
                text("UPDATE customer SET country = :country, updated_at = now() WHERE pk = :pk"),
                {"country": countries[i % len(countries)], "pk": pks[i % len(pks)]},
            )
            clock.start()
            started = time.perf_counter()
            try:
                await membership.after_customer_write(uow, [pks[i % len(pks)]], bench.runtime.clock)
            finally:
                elapsed = (time.perf_counter() - started) * 1000
                sql_ms.append(clock.stop())
            return elapsed  # leaving rolls it all back

    whole = await bench.latencies(name, once)
    sql = Latency(sql_ms[-len(whole.samples) :])  # the timed calls, not the warm-up
    bench.report(f"{name}_sql.p50", sql.p50, "ms")
    bench.report(f"{name}_sql.p95", sql.p95, "ms")
    return whole, sql


# ---- customersUpsert of 1000 customers while ACTIVE segments are there ---------------------------


async def batch_upserts(bench: Bench) -> None:
    """The same 1000 `bench-live-NNNN` customers, sent whole, two versions alternating.

    The versions differ in name and seat count, as a CRM sync's updates would:
    the batch is re-evaluated against every ACTIVE segment, and a few customers
    move in or out of the seat-based ones. They are created first (untimed),
    CREATE_CHUNK at a time: a write recording more than 4095 transitions fails
    (the events go in one INSERT of 8 parameters each, past asyncpg's 32767),
    and a thousand new customers entering ~5 segments each would.
    """
    rng = random.Random(1)
    base = [customer_input(rng, f"bench-live-{i:04d}") for i in range(BATCH)]
    versions = [
        [
            dict(c, name=f"{c['name']} {v}", properties={**c["properties"], "seats": seats})
            for c, seats in zip(base, (rng.randrange(1, 200) for _ in base), strict=True)
        ]
        for v in ("A", "B")
    ]

    async def upsert(customers: list[dict[str, Any]]) -> float:
        data, ms = await bench.gql(UPSERT, {"customers": customers})
        if data["customersUpsert"]["userErrors"]:
            raise BenchError(f"customersUpsert: {data['customersUpsert']['userErrors'][:3]}")
        return ms

    have = await bench.conn.fetchval(
        "SELECT count(*) FROM customer WHERE workspace_pk = $1 AND id LIKE 'bench-live-____'",
        bench.workspace_pk,
    )
    if have < BATCH:
        for start in range(0, BATCH, CREATE_CHUNK):
            await upsert(versions[0][start : start + CREATE_CHUNK])
    await bench.latencies(
        "live.batch_1000_upsert", lambda i: upsert(versions[i % 2]), runs=BATCH_RUNS, warmup=1
    )


# ---- subscriptions over WebSocket ---------------------------------------------------------------


class Subscriber:
    """A bare graphql-transport-ws client: one subscription, the arrival time of each event id."""

    def __init__(self, url: str, key: str, variables: dict[str, Any]) -> None:
        self.url, self.key, self.variables = url, key, variables
        self.arrived: dict[str, float] = {}
        self.changed = asyncio.Event()
        self.failure: BaseException | None = None
        self.task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        ws = await connect(
            self.url,
            subprotocols=[websockets.Subprotocol("graphql-transport-ws")],
            max_queue=None,
            open_timeout=60,
        )
        auth = {"Authorization": f"Bearer {self.key}"}
        await ws.send(json.dumps({"type": "connection_init", "payload": auth}))
        ack = json.loads(await asyncio.wait_for(ws.recv(), 60))
        if ack.get("type") != "connection_ack":
            await ws.close()
            raise BenchError(f"the server refused the WebSocket: {ack}")
        payload = {"query": CHANGED, "variables": self.variables}
        await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": payload}))
        self.task = asyncio.create_task(self._read(ws))

    async def _read(self, ws: ClientConnection) -> None:
        try:
            async for raw in ws:
                message = json.loads(raw)
                kind = message.get("type")
                if kind == "next":
                    if message["payload"].get("errors"):
                        raise BenchError(f"subscription error: {message['payload']['errors']}")
                    event = message["payload"]["data"]["segmentMembershipChanged"]
                    self.arrived[event["id"]] = time.perf_counter()
                    self.changed.set()
                elif kind == "ping":
                    await ws.send(json.dumps({"type": "pong"}))
                elif kind in ("error", "complete"):
                    raise BenchError(f"subscription ended: {message}")
        except Exception as exc:
            self.failure = exc
            self.changed.set()
        finally:
            await ws.close()

    async def wait_for(self, event_id: str, timeout: float = EVENT_TIMEOUT_S) -> float:
        deadline = time.monotonic() + timeout
        while event_id not in self.arrived:
            if self.failure is not None:
                raise BenchError(f"subscriber failed: {self.failure}")
            self.changed.clear()
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise BenchError(f"event {event_id} did not arrive in {timeout:.0f} s")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.changed.wait(), remaining)
        return self.arrived[event_id]

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self.task


@contextlib.asynccontextmanager
async def subscribers(
    bench: Bench,
    count: int,
    segment_id: str | list[str],
    key: str | None = None,
    workspace_pk: int | None = None,
) -> AsyncIterator[list[Subscriber]]:
    """`count` subscribers, each resuming after the current last event.

    All follow `segment_id`, or given a list, subscriber i follows the (i mod n)th.
    """
    after = await last_event(bench, workspace_pk)
    url = bench.base_url.replace("http://", "ws://", 1) + "/graphql"
    key = key or bench.http.headers["Authorization"].removeprefix("Bearer ")
    segments = [segment_id] if isinstance(segment_id, str) else segment_id
    subs = [
        Subscriber(url, key, {"segmentId": segments[i % len(segments)], "after": str(after)})
        for i in range(count)
    ]
    try:
        for start in range(0, count, 50):  # a handful of handshakes at a time
            await asyncio.gather(*(s.start() for s in subs[start : start + 50]))
        yield subs
    finally:
        await asyncio.gather(*(s.stop() for s in subs))


async def last_event(bench: Bench, workspace_pk: int | None = None) -> int:
    return int(
        await bench.conn.fetchval(
            "SELECT coalesce(max(seq), 0) FROM segment_event WHERE workspace_pk = $1",
            workspace_pk or bench.workspace_pk,
        )
    )


def toggler(bench: Bench, probe_id: str) -> Callable[[int], Awaitable[tuple[str, float]]]:
    """Upsert the probe customer in or out of the probe segment: its event id, the send time."""
    state: dict[str, bool | None] = {"inside": None}

    async def toggle(i: int) -> tuple[str, float]:
        if state["inside"] is None:
            state["inside"] = (
                await bench.conn.fetchval(
                    "SELECT properties->>'industry' = $3 FROM customer "
                    "WHERE workspace_pk = $1 AND id = $2",
                    bench.workspace_pk,
                    PROBE_CUSTOMER,
                    PROBE_INDUSTRY,
                )
                or False
            )
        industry = "retail" if state["inside"] else PROBE_INDUSTRY
        variables = {"customers": [{"id": PROBE_CUSTOMER, "properties": {"industry": industry}}]}
        before = await last_event(bench)
        sent = time.perf_counter()
        data, _ms = await bench.gql(UPSERT, variables)
        if data["customersUpsert"]["userErrors"]:
            raise BenchError(f"customersUpsert: {data['customersUpsert']['userErrors']}")
        state["inside"] = not state["inside"]
        event_id = await bench.conn.fetchval(
            "SELECT seq FROM segment_event WHERE workspace_pk = $1 AND seq > $2 "
            "AND customer_id = $3 AND segment_id = $4 ORDER BY seq LIMIT 1",
            bench.workspace_pk,
            before,
            PROBE_CUSTOMER,
            probe_id,
        )
        if event_id is None:
            raise BenchError("the probe upsert recorded no event")
        return str(event_id), sent

    return toggle


async def subscriber_latency(bench: Bench, probe_id: str) -> None:
    """From sending the mutation to the subscriber holding the ENTERED/LEFT event."""
    toggle = toggler(bench, probe_id)
    async with subscribers(bench, 1, probe_id) as (sub,):

        async def once(i: int) -> float:
            event_id, sent = await toggle(i)
            return (await sub.wait_for(event_id) - sent) * 1000

        await bench.latencies("live.mutation_to_subscriber", once, runs=LATENCY_RUNS, warmup=2)


async def fan_out(bench: Bench, probe_id: str) -> None:
    """1000 subscribers on the one server process: does every one get every event, how fast."""
    toggle = toggler(bench, probe_id)
    started = time.perf_counter()
    async with subscribers(bench, SUBSCRIBERS, probe_id) as subs:
        bench.report(
            f"live.fanout_{SUBSCRIBERS}.subscribe_seconds", time.perf_counter() - started, "s"
        )
        warm_id, _ = await toggle(-1)  # every subscription is live once all have this one
        await asyncio.gather(*(s.wait_for(warm_id) for s in subs))
        received, spans, firsts = 0, [], []
        for i in range(FANOUT_EVENTS):
            event_id, sent = await toggle(i)
            results = await asyncio.gather(
                *(s.wait_for(event_id, 30) for s in subs), return_exceptions=True
            )
            times = [t for t in results if isinstance(t, float)]
            received += len(times)
            if times:
                spans.append((max(times) - sent) * 1000)
                firsts.append((min(times) - sent) * 1000)
    bench.report(f"live.fanout_{SUBSCRIBERS}.received", received, "events")
    bench.report(f"live.fanout_{SUBSCRIBERS}.expected", SUBSCRIBERS * FANOUT_EVENTS, "events")
    if spans:
        bench.report(f"live.fanout_{SUBSCRIBERS}.first_received.p50", Latency(firsts).p50, "ms")
        bench.report(f"live.fanout_{SUBSCRIBERS}.all_received.p50", Latency(spans).p50, "ms")
        bench.report(f"live.fanout_{SUBSCRIBERS}.all_received.max", max(spans), "ms")


# ---- the time sweeper ------------------------------------------------------------------------


async def sweeper(bench: Bench) -> None:
    """`membership.sweep` with one time-relative ACTIVE segment, `lastOrderAt GTE now-30d`.

    The server runs the same sweep every SEGMENTQL_SWEEP_INTERVAL_S; a sweep that
    finds it running returns at once, so each timed one first waits for the lock
    to be free.
    """
    await ensure_active(
        bench,
        "bench-active-sweep-",
        [("last-order-30d", cond("lastOrderAt", "GTE", "now-30d"))],
        "_sweep",
    )

    failures = Failures()
    logger = logging.getLogger("segmentql.membership")

    async def once(i: int) -> float:
        await sweep_lock_free(bench)
        logger.addHandler(failures)
        try:
            started = time.perf_counter()
            await membership.sweep(bench.runtime)
            elapsed = (time.perf_counter() - started) * 1000
        finally:
            logger.removeHandler(failures)
        if failures.records:  # sweep logs a workspace's failure and goes on: not a timing
            raise BenchError(
                f"the sweep failed: {failures.records[0].getMessage()} "
                f"{failures.records[0].exc_info and failures.records[0].exc_info[1]}"
            )
        return elapsed

    await bench.latencies("live.sweep", once, runs=SWEEP_RUNS, warmup=1)


class Failures(logging.Handler):
    """Collects the errors a logger reports."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


async def sweep_lock_free(bench: Bench) -> None:
    """Wait until no sweep runs (the server's): taking the lock is how to know, then let go."""
    for _ in range(1200):
        async with sweep_lock(bench.runtime.engine) as acquired:
            if acquired:
                return
        await asyncio.sleep(0.1)
    raise BenchError("the sweep lock stayed taken for 2 minutes")


# ---- activation, measured on every run ---------------------------------------------------------


async def activation_probes(bench: Bench) -> None:
    """Create, activate (timed), detach and delete a segment of ~1 customer in 6 or so."""
    predicate = {
        "related": {
            "scope": "INVOICES",
            "quantifier": "ANY",
            "where": {"and": [cond("status", "EQ", "OPEN"), cond("total", "GTE", 50)]},
        }
    }
    seconds = []
    for i in range(ACTIVATION_PROBES):
        name = f"bench-activation-probe-{i}"
        await bench.conn.execute(
            "DELETE FROM segment WHERE workspace_pk = $1 AND name = $2", bench.workspace_pk, name
        )  # left over by an interrupted run
        ((segment_id, kind),) = await ensure_segments(bench, name + "-", [("x", predicate)])
        seconds.append((await activate(bench, [(segment_id, kind)]))[0] / 1000)
        await bench.gql(DETACH, {"id": segment_id, "reference": f"rule-{segment_id}"})
        await bench.gql(DELETE, {"id": segment_id})
    bench.report("live.activate_one.p50", Latency(seconds).p50, "s")
