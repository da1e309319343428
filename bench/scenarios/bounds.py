"""Time boundaries on schedule: sweep work for a `now-30d` segment follows who crosses.

One ACTIVE segment `lastOrderAt GTE now-30d` on the bench workspace
(`bench-bounds-last-order-30d`). The bench process drives its own clock
(runtime.clock, a still instant): the server's own sweeper runs on the wall
clock, which stays behind it, so it finds nothing due meanwhile.

Figures (each sweep is `membership.sweep`, the server's job, committed):

* `bounds.prime.seconds`, `.rows`: the first sweep after the segment's rows
  were marked stale: the whole comparison and every customer's instant.
* `bounds.sweep_0_cross`: sweeping again at the same instant (nobody crosses);
  `.customers_reevaluated` from the sweeper's counter.
* `bounds.sweep_1000_cross`: the clock moved to the instant of the 1000th next
  boundary, so 1000 customers cross (they leave); `.customers_reevaluated` and
  `.transitions` per sweep.
* `bounds.rescan_0_cross`: what a sweep cost before, for comparison: the whole
  segment compared (MembershipLog.sweep), nobody crossing, rolled back.
"""

from __future__ import annotations

import statistics
import time
from datetime import UTC, datetime

from api.services import membership
from api.services.tracked_segments import tracked_segments
from bench.harness import Bench, BenchError, scenario
from bench.scenarios.live import ensure_active, sweep_lock_free
from bench.scenarios.segments import cond
from persistence import boundaries
from persistence.membership import MembershipLog
from persistence.reevaluations import SWEEPS
from persistence.unit_of_work import UnitOfWork

CROSSING = 1000
CROSS_RUNS = 5
RESCAN_RUNS = 3


class StillClock:
    """The instant the bench sets; every reading returns it."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@scenario(
    "bounds",
    order=85,
    description="time boundaries: sweep work for a now-30d segment, 1000 crossing vs none",
)
async def run(bench: Bench) -> None:
    (segment_id,) = await ensure_active(
        bench, "bench-bounds-", [("last-order-30d", cond("lastOrderAt", "GTE", "now-30d"))], ""
    )
    segment_pk = int(await bench.conn.fetchval("SELECT pk FROM segment WHERE id = $1", segment_id))
    saved = bench.runtime.clock
    clock = StillClock(datetime.now(UTC))
    bench.runtime.clock = clock
    try:
        await prime(bench, segment_pk)
        await sweeps(bench, "bounds.sweep_0_cross", clock, segment_pk, crossing=0)
        await sweeps(bench, "bounds.sweep_1000_cross", clock, segment_pk, crossing=CROSSING)
        await rescan(bench, clock)
    finally:
        bench.runtime.clock = saved


async def timed_sweep(bench: Bench) -> tuple[float, int, int]:
    """One committed sweep: ms, customers re-evaluated in the bench workspace, transitions."""
    await sweep_lock_free(bench)
    started = time.perf_counter()
    transitions = await membership.sweep(bench.runtime)
    elapsed = (time.perf_counter() - started) * 1000
    due, _, _ = SWEEPS.last.get(bench.workspace_pk, (0, 0, 0))
    return elapsed, due, transitions


async def prime(bench: Bench, segment_pk: int) -> None:
    async with bench.runtime.engine.begin() as conn:
        await boundaries.forget(conn, segment_pk)
    elapsed, _, _ = await timed_sweep(bench)
    rows = await bench.conn.fetchval(
        "SELECT count(*) FROM segment_boundary WHERE segment_pk = $1", segment_pk
    )
    bench.report("bounds.prime.seconds", elapsed / 1000, "s")
    bench.report("bounds.prime.rows", rows, "rows")


async def sweeps(
    bench: Bench, name: str, clock: StillClock, segment_pk: int, crossing: int
) -> None:
    """Sweeps at instants chosen so that exactly `crossing` boundaries have passed since the
    last one (0: the clock stays)."""
    samples: list[float] = []
    due: list[int] = []
    moved: list[int] = []
    for _ in range(CROSS_RUNS if crossing else bench.runs // 10 + 3):
        if crossing:
            instant = await bench.conn.fetchval(
                "SELECT next_at FROM segment_boundary WHERE segment_pk = $1 AND next_at > $2"
                " ORDER BY next_at OFFSET $3 LIMIT 1",
                segment_pk,
                clock.now,
                crossing - 1,
            )
            if instant is None:
                break
            clock.now = instant
        elapsed, customers, transitions = await timed_sweep(bench)
        samples.append(elapsed)
        due.append(customers)
        moved.append(transitions)
    if not samples:
        raise BenchError(f"fewer than {crossing} customers left to cross")
    bench.report(f"{name}.p50", statistics.median(samples), "ms")
    bench.report(f"{name}.max", max(samples), "ms")
    bench.report(f"{name}.customers_reevaluated", statistics.mean(due), "customers")
    bench.report(f"{name}.transitions", statistics.mean(moved), "events")


async def rescan(bench: Bench, clock: StillClock) -> None:
    """The sweep as it was: every time-relative segment compared whole (rolled back)."""
    samples = []
    for _ in range(RESCAN_RUNS):
        async with UnitOfWork(bench.runtime.engine, bench.workspace_pk) as uow:
            tracked = await tracked_segments(uow)
            if tracked is None:
                raise BenchError("no ACTIVE segment in the bench workspace")
            started = time.perf_counter()
            await MembershipLog(uow.conn, bench.workspace_pk).sweep(
                tracked.at(tracked.reaches_time), clock
            )
            samples.append((time.perf_counter() - started) * 1000)
    bench.report("bounds.rescan_0_cross.p50", statistics.median(samples), "ms")
