"""Import jobs: one row each, mirrored from the running import, and who is running it.

The process that runs a job holds a session advisory lock on it, on a
connection of its own, for as long as it runs. A job still QUEUED or RUNNING
whose lock anybody can take has lost its runner (the process died or was
restarted): `fail_abandoned` marks it FAILED with the reason, so a job never
stays RUNNING forever. Re-running the same file is safe (imports skip what is
unchanged), so an interrupted job is not resumed but reported.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from domain.errors import ErrorCode
from domain.import_job import ImportJobView, ImportReport, JobState, Rejection
from persistence.tables import ImportJob

job = ImportJob.__table__  # type: ignore[attr-defined]
UNFINISHED = (JobState.QUEUED.value, JobState.RUNNING.value)
INTERRUPTED = (
    "interrupted: the server running it stopped before it finished (lines up to "
    "{lines:,} were read); send the file again, unchanged customers are skipped"
)


def _lock_key(job_id: str) -> Any:
    return func.hashtextextended("import_job:" + job_id, 0)


class ImportJobRepository:
    def __init__(self, conn: AsyncConnection, workspace_pk: int) -> None:
        self.conn = conn
        self.workspace_pk = workspace_pk

    async def create(self, job_id: str, options: dict[str, object]) -> None:
        await self.conn.execute(
            insert(job).values(
                workspace_pk=self.workspace_pk,
                id=job_id,
                state=JobState.QUEUED.value,
                options=options,
                rejections=[],
            )
        )

    async def hold(self, job_id: str) -> None:
        """Mark this connection's session as the job's runner (until it closes)."""
        await self.conn.execute(select(func.pg_advisory_lock(_lock_key(job_id))))

    async def save(self, job_id: str, state: JobState, report: ImportReport, now: datetime) -> None:
        values: dict[str, Any] = {
            "state": state.value,
            "lines_read": report.lines,
            "customers_written": report.written,
            "customers_unchanged": report.unchanged,
            "customers_deleted": report.deleted,
            "lines_rejected": report.rejected,
            "rejections": [
                {"line": r.line, "field": list(r.field), "code": r.code.value, "message": r.message}
                for r in report.rejections
            ],
            "failure": report.failure,
        }
        if state is JobState.RUNNING:
            values["started_at"] = func.coalesce(job.c.started_at, now)
        if state in (JobState.SUCCEEDED, JobState.FAILED):
            values["finished_at"] = now
        await self.conn.execute(
            update(job)
            .where(job.c.workspace_pk == self.workspace_pk, job.c.id == job_id)
            .values(**values)
        )

    async def get(self, job_id: str) -> ImportJobView | None:
        row = (
            await self.conn.execute(
                select(job).where(job.c.workspace_pk == self.workspace_pk, job.c.id == job_id)
            )
        ).one_or_none()
        return None if row is None else _view(row._mapping)


async def fail_abandoned(
    conn: AsyncConnection, now: datetime, job_id: str | None = None
) -> list[str]:
    """Mark FAILED every unfinished job (or just `job_id`) no session runs any more; their ids."""
    query = select(job.c.workspace_pk, job.c.id, job.c.lines_read).where(
        job.c.state.in_(UNFINISHED)
    )
    if job_id is not None:
        query = query.where(job.c.id == job_id)
    rows = await conn.execute(query)
    failed: list[str] = []
    for workspace_pk, found_id, lines in rows.all():
        taken = await conn.scalar(select(func.pg_try_advisory_lock(_lock_key(found_id))))
        if not taken:
            continue  # its runner still holds it
        try:
            result = await conn.execute(
                update(job)
                .where(
                    job.c.workspace_pk == workspace_pk,
                    job.c.id == found_id,
                    job.c.state.in_(UNFINISHED),
                )
                .values(
                    state=JobState.FAILED.value,
                    failure=INTERRUPTED.format(lines=lines),
                    finished_at=now,
                )
            )
            if result.rowcount:
                failed.append(found_id)
        finally:
            await conn.execute(select(func.pg_advisory_unlock(_lock_key(found_id))))
    return failed


def _view(m: Any) -> ImportJobView:
    report = ImportReport(
        lines=m["lines_read"],
        written=m["customers_written"],
        unchanged=m["customers_unchanged"],
        deleted=m["customers_deleted"],
        rejected=m["lines_rejected"],
        rejections=[
            Rejection(r["line"], tuple(r["field"]), ErrorCode(r["code"]), r["message"])
            for r in m["rejections"]
        ],
        failure=m["failure"],
    )
    return ImportJobView(
        id=m["id"],
        state=JobState(m["state"]),
        options=m["options"],
        report=report,
        created_at=m["created_at"],
        started_at=m["started_at"],
        finished_at=m["finished_at"],
    )
