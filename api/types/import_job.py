"""An import job as the API shows it: state, figures, the first rejected lines."""

from __future__ import annotations

from datetime import datetime

import strawberry

from api.errors import ErrorCodeType
from domain.import_job import ImportJobView, JobState

ImportJobStateEnum = strawberry.enum(
    JobState, name="ImportJobState", description="Where an import job is."
)


@strawberry.type(description="A line of an import file that was refused; it changed nothing.")
class ImportRejection:
    line: int = strawberry.field(description="Line number in the file, from 1.")
    field: list[str] | None = strawberry.field(
        description="Path inside the line's CustomerInput, e.g. ['orders', '0', 'amount']."
    )
    code: ErrorCodeType = strawberry.field(description="Why, as customersUpsert would say.")  # type: ignore[valid-type]
    message: str = strawberry.field(description="What was wrong, for humans.")


@strawberry.type(description="A bulk customer import sent to POST /import/customers.")
class ImportJob:
    id: strawberry.ID = strawberry.field(description="The job id POST /import/customers gave.")
    state: ImportJobStateEnum = strawberry.field(
        description="QUEUED, RUNNING, SUCCEEDED or FAILED."
    )  # type: ignore[valid-type]
    mode: str = strawberry.field(description="upsert or replace.")
    strict: bool = strawberry.field(description="All or nothing.")
    lines_read: int = strawberry.field(description="Non-blank lines read so far.")
    customers_written: int = strawberry.field(description="Customers created or changed.")
    customers_unchanged: int = strawberry.field(
        description="Customers whose stored values already equalled the line (not written)."
    )
    customers_deleted: int = strawberry.field(description="Deleted by a replace import.")
    lines_rejected: int = strawberry.field(description="Lines refused (each changed nothing).")
    rejections: list[ImportRejection] = strawberry.field(
        description="The first 100 refused lines, with line number, field and code."
    )
    failure: str | None = strawberry.field(
        description="Why the job FAILED (a refusal, a broken file, an interrupted run)."
    )
    created_at: datetime = strawberry.field(description="When the file was received.")
    started_at: datetime | None = strawberry.field(description="When the import began.")
    finished_at: datetime | None = strawberry.field(description="When it SUCCEEDED or FAILED.")

    @classmethod
    def from_domain(cls, job: ImportJobView) -> ImportJob:
        report = job.report
        return cls(
            id=strawberry.ID(job.id),
            state=job.state,
            mode=str(job.options.get("mode", "upsert")),
            strict=bool(job.options.get("strict", False)),
            lines_read=report.lines,
            customers_written=report.written,
            customers_unchanged=report.unchanged,
            customers_deleted=report.deleted,
            lines_rejected=report.rejected,
            rejections=[
                ImportRejection(
                    line=r.line, field=list(r.field) or None, code=r.code, message=r.message
                )
                for r in report.rejections
            ],
            failure=report.failure,
            created_at=job.created_at,
            started_at=job.started_at,
            finished_at=job.finished_at,
        )
