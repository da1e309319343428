"""Fan-out: mutation-to-subscriber latency at 1 and at N WebSocket subscribers, and memory.

Setup, reused from run to run: workspace `bench-fanout` (a few seeded
customers) with 100 ACTIVE segments `bench-fanout-NNN-probe`, all
`properties.industry EQ bench-fanout`. One upsert moving the customer
`bench-fanout-probe` in or out records one event in each of the 100, so each
subscriber (spread evenly over the 100 segments) has one event to receive per
write. One more ACTIVE segment, `bench-fanout-single`, has a customer of its own to
move: that write is compared with all 101 segments (all read the industry) and
records one event, for the latency of one event to one subscriber
(`live_fanout.1_event`). The subscribers are real graphql-transport-ws WebSockets, all in this
bench process (one asyncio loop), to the one server process; the latency of
an event is from sending the mutation to this process holding it, so at N
subscribers it includes this process reading N messages.
"""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

from bench.harness import Bench, BenchError, Latency, scenario
from bench.scenarios.ingest import UPSERT
from bench.scenarios.live import (
    Subscriber,
    ensure_active,
    last_event,
    seeded_workspace,
    subscribers,
)
from bench.scenarios.segments import cond

WORKSPACE = "bench-fanout"
CUSTOMERS = 100
SEGMENTS = 100
PREFIX = "bench-fanout-"
INDUSTRY = "bench-fanout"
PROBE = "bench-fanout-probe"
SINGLE_PREFIX = "bench-fanout-single-"
SINGLE_INDUSTRY = "bench-fanout-single"
SINGLE_PROBE = "bench-fanout-single-probe"
ONE_ROUNDS = 20
MANY_ROUNDS = 10
ROUND_TIMEOUT_S = 120.0
SETTLE_S = 5.0


@scenario(
    "live_fanout",
    order=82,
    description="WebSocket fan-out: latency at 1 and N subscribers over 100 segments, memory",
)
async def run(bench: Bench) -> None:
    pk, key = await seeded_workspace(bench, WORKSPACE, CUSTOMERS)
    probe = cond("properties.industry", "EQ", INDUSTRY)
    segment_ids = await ensure_active(
        bench, PREFIX, [("probe", probe)] * SEGMENTS, "_fanout", key, pk
    )
    toggle = Toggler(bench, key, pk, segment_ids)
    single = cond("properties.industry", "EQ", SINGLE_INDUSTRY)
    single_ids = await ensure_active(
        bench, SINGLE_PREFIX, [("single", single)], "_fanout_single", key, pk
    )
    one = Toggler(bench, key, pk, single_ids, SINGLE_PROBE, SINGLE_INDUSTRY)
    # Each write updates 100 segments' counters: without autovacuum, earlier runs' dead
    # rows slowed that update several times over (6 ms against 1.5 once vacuumed).
    await bench.tidy("segment", "segment_member", "segment_event", "workspace")
    await fan_out(bench, one, 1, ONE_ROUNDS, "live_fanout.1_event")
    await fan_out(bench, toggle, 1, ONE_ROUNDS)
    await commit_to_subscriber(bench, toggle, ONE_ROUNDS)
    if bench.subscribers > 1:
        await fan_out(bench, toggle, bench.subscribers, MANY_ROUNDS)


class Toggler:
    """Upserts a probe customer into or out of its segments (by its industry); the ids of
    the events of each write."""

    def __init__(
        self,
        bench: Bench,
        key: str,
        workspace_pk: int,
        segment_ids: list[str],
        probe: str = PROBE,
        industry: str = INDUSTRY,
    ) -> None:
        self.bench, self.key, self.workspace_pk = bench, key, workspace_pk
        self.segment_ids = segment_ids
        self.probe, self.industry = probe, industry
        self.inside: bool | None = None
        self.mutation_ms: list[float] = []
        """How long each upsert's HTTP round trip took (its events can arrive sooner)."""

    async def __call__(self) -> tuple[dict[str, str], float]:
        """{segment id: event id} of one write, and when it was sent (perf_counter)."""
        bench = self.bench
        if self.inside is None:
            self.inside = bool(
                await bench.conn.fetchval(
                    "SELECT properties->>'industry' = $3 FROM customer "
                    "WHERE workspace_pk = $1 AND id = $2",
                    self.workspace_pk,
                    self.probe,
                    self.industry,
                )
            )
        industry = "retail" if self.inside else self.industry
        variables = {"customers": [{"id": self.probe, "properties": {"industry": industry}}]}
        before = await last_event(bench, self.workspace_pk)
        sent = time.perf_counter()
        data, ms = await bench.gql(UPSERT, variables, self.key)
        self.mutation_ms.append(ms)
        if data["customersUpsert"]["userErrors"]:
            raise BenchError(f"customersUpsert: {data['customersUpsert']['userErrors']}")
        self.inside = not self.inside
        rows = await bench.conn.fetch(
            "SELECT segment_id, seq FROM segment_event WHERE workspace_pk = $1 AND seq > $2 "
            "AND customer_id = $3",
            self.workspace_pk,
            before,
            self.probe,
        )
        events = {r["segment_id"]: str(r["seq"]) for r in rows}
        missing = set(self.segment_ids) - events.keys()
        if missing:
            raise BenchError(f"the probe upsert recorded no event in {len(missing)} segments")
        return events, sent


def rss_kib(bench: Bench) -> int:
    """VmRSS of the server process, in KiB."""
    if bench.server is None:
        raise BenchError("no server process to measure")
    for line in Path(f"/proc/{bench.server.pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise BenchError("no VmRSS in /proc/<pid>/status")


def server_cpu_s(bench: Bench) -> float:
    """User plus system CPU seconds the server process has used so far."""
    if bench.server is None:
        raise BenchError("no server process to measure")
    fields = Path(f"/proc/{bench.server.pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def fan_out(
    bench: Bench, toggle: Toggler, count: int, rounds: int, name: str | None = None
) -> None:
    """`count` subscribers; `rounds` writes; every subscriber must get its segment's event."""
    name = name or f"live_fanout.{count}"
    await asyncio.sleep(SETTLE_S)
    rss_before = rss_kib(bench)
    started = time.perf_counter()
    async with subscribers(
        bench, count, toggle.segment_ids, toggle.key, toggle.workspace_pk
    ) as subs:
        bench.report(f"{name}.subscribe_seconds", time.perf_counter() - started, "s")
        warm, _ = await toggle()  # every subscription is live once all hold this write's events
        await arrivals(subs, warm)
        await asyncio.sleep(SETTLE_S)
        rss_idle = rss_kib(bench)
        samples: list[float] = []
        lasts: list[float] = []
        received = 0
        toggle.mutation_ms.clear()
        server_cpu, client_cpu = server_cpu_s(bench), time.process_time()
        for _ in range(rounds):
            events, sent = await toggle()
            times = await arrivals(subs, events)
            received += len(times)
            samples += [(t - sent) * 1000 for t in times]
            if times:
                lasts.append((max(times) - sent) * 1000)
        server_cpu = (server_cpu_s(bench) - server_cpu) / rounds * 1000
        client_cpu = (time.process_time() - client_cpu) / rounds * 1000
    bench.report(f"{name}.received", received, "events")
    bench.report(f"{name}.expected", count * rounds, "events")
    if samples:
        latency = Latency(samples)
        bench.report(f"{name}.latency.p50", latency.p50, "ms")
        bench.report(f"{name}.latency.p95", latency.p95, "ms")
        bench.report(f"{name}.all_received.p50", Latency(lasts).p50, "ms")
        bench.report(f"{name}.mutation.p50", Latency(toggle.mutation_ms).p50, "ms")
    bench.report(f"{name}.server_cpu_per_write", server_cpu, "ms")
    bench.report(f"{name}.bench_cpu_per_write", client_cpu, "ms")
    bench.report(f"{name}.server_rss_before", rss_before / 1024, "MiB")
    bench.report(f"{name}.server_rss_idle", rss_idle / 1024, "MiB")
    if count > 1:
        bench.report(f"{name}.rss_per_idle_subscriber", (rss_idle - rss_before) / count, "KiB")


# One event appended the way a recorder does (the workspace's counter, the row, the
# notification at commit), without the write that would decide it.
_APPEND = """
WITH next AS (UPDATE workspace SET event_seq = event_seq + 1 WHERE pk = $1 RETURNING event_seq),
event AS (
    INSERT INTO segment_event
        (workspace_pk, seq, segment_pk, segment_id, customer_pk, customer_id, kind, occurred_at)
    SELECT $1, next.event_seq, s.pk, s.id, c.pk, c.id, $4, now()
    FROM next, segment s, customer c
    WHERE s.workspace_pk = $1 AND s.id = $2 AND c.workspace_pk = $1 AND c.id = $3
)
SELECT event_seq, pg_notify('segmentql_events', $1::text || ':' || event_seq) FROM next
"""


async def commit_to_subscriber(bench: Bench, toggle: Toggler, rounds: int) -> None:
    """From sending COMMIT of a transaction that recorded one event to the subscriber holding it:
    the fan-out path alone (notification, reading the log, the selection, the frame),
    without the write's own work. The events are appended to the bench workspace's log
    only (the probe's ENTERED and LEFT in turn, as its membership does not change)."""
    segment_id = toggle.segment_ids[0]
    samples: list[float] = []
    async with subscribers(bench, 1, segment_id, toggle.key, toggle.workspace_pk) as (sub,):
        for i in range(rounds):
            kind = "ENTERED" if i % 2 == 0 else "LEFT"
            async with bench.conn.transaction():
                seq = await bench.conn.fetchval(
                    _APPEND, toggle.workspace_pk, segment_id, PROBE, kind
                )
                committing = time.perf_counter()
            arrived = await sub.wait_for(str(seq), ROUND_TIMEOUT_S)
            samples.append((arrived - committing) * 1000)
    latency = Latency(samples)
    bench.report("live_fanout.1.commit_to_subscriber.p50", latency.p50, "ms")
    bench.report("live_fanout.1.commit_to_subscriber.p95", latency.p95, "ms")


async def arrivals(subs: list[Subscriber], events: dict[str, str]) -> list[float]:
    """When each subscriber held the event of its segment (those that did within the timeout)."""
    results = await asyncio.gather(
        *(s.wait_for(events[s.variables["segmentId"]], ROUND_TIMEOUT_S) for s in subs),
        return_exceptions=True,
    )
    return [t for t in results if isinstance(t, float)]
