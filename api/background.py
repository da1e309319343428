"""Periodic work the service does on its own, each job in its own loop.

Jobs marked `leader_only` run in one process of all those sharing the
database: the one holding the leader lock (persistence.leader). Every process
tries to take it every `LEADER_RETRY_S`, so when the leader dies another leads
within that time. The others (webhook delivery, which shares its work out
with SKIP LOCKED) run in every process. The sweeper and the snapshot
scheduler keep their own advisory locks too, so a leader cut off from the
database for a moment, still finishing a run while a new leader starts, does
no harm.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from dataclasses import dataclass

from api.metrics import JOB_FAILURES, JOB_SECONDS, LEADER
from api.runtime import Runtime
from persistence.database import libpq_dsn
from persistence.leader import LeaderLock

log = logging.getLogger("segmentql.background")

Job = Callable[[Runtime], Awaitable[object]]
Waker = Callable[[Runtime], asyncio.Event]
"""Gives a job's loop an event that, once set, runs the job at once rather than after
its interval (which stays, as the fallback for a missed wake-up)."""


LEADER_RETRY_S = 5.0
"""How often a process that does not lead tries to (and the leader checks it still does)."""


@dataclass(frozen=True)
class Periodic:
    name: str
    interval_s: float
    job: Job
    leader_only: bool = False
    wake: Waker | None = None


async def _pause(seconds: float, woken: asyncio.Event | None) -> None:
    """`seconds`, or less if `woken` is set meanwhile."""
    if woken is None:
        await asyncio.sleep(seconds)
        return
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(woken.wait(), seconds)


async def _loop(runtime: Runtime, periodic: Periodic) -> None:
    woken = periodic.wake(runtime) if periodic.wake is not None else None
    while True:
        if woken is not None:
            woken.clear()  # a wake-up from now on runs the job again after this run
        started = time.perf_counter()
        try:
            await periodic.job(runtime)
        except asyncio.CancelledError:
            raise
        except Exception:
            JOB_FAILURES.labels(periodic.name).inc()
            log.exception("background job %s failed; retrying next interval", periodic.name)
        JOB_SECONDS.labels(periodic.name).observe(time.perf_counter() - started)
        await _pause(periodic.interval_s, woken)


async def prune_events(runtime: Runtime) -> int:
    from datetime import timedelta

    from persistence.event_log import prune

    retention = timedelta(days=runtime.settings.event_retention_days)
    return await prune(runtime.engine, runtime.clock() - retention)


async def prune_tracked_events(runtime: Runtime) -> int:
    from datetime import timedelta

    from api.services.tracked_events import prune

    retention = timedelta(days=runtime.settings.tracked_event_retention_days)
    return await prune(runtime, runtime.clock() - retention)


def _webhook_waker(runtime: Runtime) -> asyncio.Event:
    from api.live import hub_of

    return hub_of(runtime).waker()


def default_jobs(runtime: Runtime) -> list[Periodic]:
    from api.services.membership import sweep
    from api.services.snapshots import run_due
    from api.services.stats_refresher import refresh_stale_stats
    from api.services.webhook_delivery import deliver_webhooks

    settings = runtime.settings
    stats_every = max(1.0, settings.stats_max_age_s / 4)
    return [
        Periodic("segment stats", stats_every, refresh_stale_stats, leader_only=True),
        Periodic("time sweeper", max(0.05, settings.sweep_interval_s), sweep, leader_only=True),
        Periodic("event retention", 3600.0, prune_events, leader_only=True),
        Periodic("snapshot scheduler", 30.0, run_due, leader_only=True),
        Periodic("tracked event retention", 3600.0, prune_tracked_events, leader_only=True),
        # Every process takes a share of the deliveries (SKIP LOCKED, api.services.webhooks),
        # woken at once by the commit of new events (NOTIFY); the poll is the fallback.
        Periodic(
            "webhook delivery",
            settings.webhook_poll_ms / 1000,
            deliver_webhooks,
            wake=_webhook_waker,
        ),
    ]


def is_leader(runtime: Runtime) -> bool:
    """Whether this process runs the leader's jobs now."""
    return bool(runtime.extras.get("background_leader"))


async def _lead(runtime: Runtime, jobs: list[Periodic]) -> None:
    """Take the leader lock when it is free, run `jobs` while it is held, and again."""
    lock = LeaderLock(libpq_dsn(runtime.database))
    try:
        while True:
            try:
                if await lock.try_acquire():
                    await _run_while_held(runtime, lock, jobs)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("the background leader lock failed; retrying")
                await lock.release()
            await asyncio.sleep(LEADER_RETRY_S)
    finally:
        await lock.release()


async def _run_while_held(runtime: Runtime, lock: LeaderLock, jobs: list[Periodic]) -> None:
    log.info("this process leads the background jobs")
    _set_leader(runtime, True)
    try:
        async with _started(runtime, jobs):
            while await lock.still_held():
                await asyncio.sleep(LEADER_RETRY_S)
        log.warning("lost the background leader lock; the jobs stop here")
    finally:
        _set_leader(runtime, False)
        await lock.release()


def _set_leader(runtime: Runtime, leading: bool) -> None:
    runtime.extras["background_leader"] = leading
    LEADER.set(1 if leading else 0)


@contextlib.asynccontextmanager
async def _started(
    runtime: Runtime, jobs: list[Periodic], *more: Coroutine[None, None, None]
) -> AsyncIterator[None]:
    tasks = [asyncio.create_task(_loop(runtime, job), name=job.name) for job in jobs]
    tasks += [asyncio.create_task(work) for work in more]
    try:
        yield
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task


@contextlib.asynccontextmanager
async def running(runtime: Runtime, jobs: list[Periodic]) -> AsyncIterator[None]:
    """Run `jobs`: those for every process here, the `leader_only` ones while leading."""
    everywhere = [job for job in jobs if not job.leader_only]
    once = [job for job in jobs if job.leader_only]
    leading = [_lead(runtime, once)] if once else []
    async with _started(runtime, everywhere, *leading):
        yield
