"""Periodic work the service does on its own, each job in its own loop.

Jobs are idempotent and safe to run in several processes at once; those that
must run in one process at a time take an advisory lock inside the job.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from api.metrics import JOB_FAILURES, JOB_SECONDS
from api.runtime import Runtime

log = logging.getLogger("segmentql.background")

Job = Callable[[Runtime], Awaitable[object]]


@dataclass(frozen=True)
class Periodic:
    name: str
    interval_s: float
    job: Job


async def _loop(runtime: Runtime, periodic: Periodic) -> None:
    while True:
        started = time.perf_counter()
        try:
            await periodic.job(runtime)
        except asyncio.CancelledError:
            raise
        except Exception:
            JOB_FAILURES.labels(periodic.name).inc()
            log.exception("background job %s failed; retrying next interval", periodic.name)
        JOB_SECONDS.labels(periodic.name).observe(time.perf_counter() - started)
        await asyncio.sleep(periodic.interval_s)


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


def default_jobs(runtime: Runtime) -> list[Periodic]:
    from api.services.membership import sweep
    from api.services.snapshots import run_due
    from api.services.stats_refresher import refresh_stale_stats
    from api.services.webhook_delivery import deliver_webhooks

    settings = runtime.settings
    return [
        Periodic("segment stats", max(1.0, settings.stats_max_age_s / 4), refresh_stale_stats),
        Periodic("time sweeper", max(1.0, settings.sweep_interval_s), sweep),
        Periodic("event retention", 3600.0, prune_events),
        Periodic("snapshot scheduler", 30.0, run_due),
        Periodic("tracked event retention", 3600.0, prune_tracked_events),
        Periodic("webhook delivery", settings.webhook_poll_ms / 1000, deliver_webhooks),
    ]


@contextlib.asynccontextmanager
async def running(runtime: Runtime, jobs: list[Periodic]):  # type: ignore[no-untyped-def]
    tasks = [asyncio.create_task(_loop(runtime, job), name=job.name) for job in jobs]
    try:
        yield tasks
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
