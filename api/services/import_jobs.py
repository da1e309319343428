"""Import jobs over HTTP: the body is spooled to disk, then imported in the background.

The request answers once the body is stored (a job id, state QUEUED); the job
then runs in this process, its row updated every second so `importJob(id)`
shows it moving. The runner holds the job's advisory lock on a connection of
its own (persistence.import_jobs): if the process dies, the lock goes with it
and the job is marked FAILED with the reason the next time anyone looks.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncConnection

from api.runtime import Runtime
from api.services.customer_import import ImportRefused, file_lines, import_customers
from domain.import_job import ImportJobView, ImportOptions, ImportReport, JobState
from domain.segment import sortable_id
from persistence.import_jobs import ImportJobRepository, fail_abandoned

log = logging.getLogger("segmentql.imports")

SAVE_EVERY_S = 1.0


class BodyTooLarge(Exception):
    pass


async def start_job(
    runtime: Runtime, workspace_pk: int, body: AsyncIterator[bytes], options: ImportOptions
) -> str:
    """Store the body, queue the job, start it; returns the job id."""
    job_id = sortable_id("imp_")
    spool = spool_of(job_id)
    spool.parent.mkdir(mode=0o700)
    try:
        await _spool(body, spool, runtime.settings.max_import_bytes)
    except BaseException:
        _remove(spool)
        raise
    holder = await runtime.engine.connect()
    try:
        jobs = ImportJobRepository(holder, workspace_pk)
        await jobs.hold(job_id)  # before the row exists: nobody can take it for abandoned
        await jobs.create(job_id, options.as_json())
        await holder.commit()
    except BaseException:
        await holder.close()
        _remove(spool)
        raise
    running: set[asyncio.Task[None]] = runtime.extras.setdefault("import_jobs", set())
    task = asyncio.create_task(_run(runtime, holder, workspace_pk, job_id, spool, options))
    running.add(task)
    task.add_done_callback(running.discard)
    return job_id


async def get_job(runtime: Runtime, workspace_pk: int, job_id: str) -> ImportJobView | None:
    async with runtime.engine.connect() as conn:
        found = await ImportJobRepository(conn, workspace_pk).get(job_id)
        unfinished = found is not None and found.state in (JobState.QUEUED, JobState.RUNNING)
        if unfinished and await _fail_abandoned(conn, runtime, job_id):
            found = await ImportJobRepository(conn, workspace_pk).get(job_id)
        await conn.commit()
    return found


async def fail_abandoned_jobs(runtime: Runtime) -> int:
    """At start-up: jobs a dead process left unfinished are marked FAILED."""
    async with runtime.engine.connect() as conn:
        failed = await _fail_abandoned(conn, runtime)
        await conn.commit()
    return failed


async def _fail_abandoned(
    conn: AsyncConnection, runtime: Runtime, job_id: str | None = None
) -> int:
    """Mark abandoned jobs FAILED, and drop what their runner spooled if it was on this host."""
    failed = await fail_abandoned(conn, runtime.clock(), job_id)
    for found in failed:
        _remove(spool_of(found))
    return len(failed)


def spool_of(job_id: str) -> Path:
    """Where a job's body waits while it runs (a folder of its own, readable by us only)."""
    return Path(tempfile.gettempdir()) / f"segmentql-import-{job_id}" / "body"


async def _spool(body: AsyncIterator[bytes], path: Path, limit: int) -> None:
    size = 0
    with path.open("wb") as out:
        async for chunk in body:
            size += len(chunk)
            if size > limit:
                raise BodyTooLarge(f"The import body is larger than {limit:,} bytes.")
            out.write(chunk)


async def _run(
    runtime: Runtime,
    holder: AsyncConnection,
    workspace_pk: int,
    job_id: str,
    spool: Path,
    options: ImportOptions,
) -> None:
    report = ImportReport()
    saver = asyncio.create_task(_save_while_running(runtime, workspace_pk, job_id, report))
    state = JobState.FAILED
    try:
        await import_customers(runtime, workspace_pk, file_lines(spool), options, report=report)
        state = JobState.SUCCEEDED if report.failure is None else JobState.FAILED
    except ImportRefused as refused:
        report.failure = str(refused)
    except asyncio.CancelledError:
        report.failure = "interrupted: the server stopped; send the file again"
        raise
    except Exception:
        log.exception("import job %s failed", job_id)
        report.failure = "the import failed on a server error; it is logged under the job id"
    finally:
        saver.cancel()
        await asyncio.gather(saver, return_exceptions=True)
        try:
            await _save(runtime, workspace_pk, job_id, state, report)
        finally:
            # Invalidated, not returned to the pool: ending the session is what releases the
            # job's advisory lock (a pooled connection would keep it).
            await holder.invalidate()
            await holder.close()
            _remove(spool)


async def _save_while_running(
    runtime: Runtime, workspace_pk: int, job_id: str, report: ImportReport
) -> None:
    while True:
        try:
            await _save(runtime, workspace_pk, job_id, JobState.RUNNING, report)
        except Exception:  # a figure saved late is no reason to stop the import
            log.warning("import job %s: progress not saved", job_id, exc_info=True)
        await asyncio.sleep(SAVE_EVERY_S)


async def _save(
    runtime: Runtime, workspace_pk: int, job_id: str, state: JobState, report: ImportReport
) -> None:
    async with runtime.engine.begin() as conn:
        await ImportJobRepository(conn, workspace_pk).save(job_id, state, report, runtime.clock())


def _remove(spool: Path) -> None:
    spool.unlink(missing_ok=True)
    with contextlib.suppress(OSError):
        spool.parent.rmdir()
