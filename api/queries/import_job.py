"""importJob."""

from __future__ import annotations

import strawberry

from api.context import Info
from api.services.import_jobs import get_job
from api.types.import_job import ImportJob


@strawberry.type
class ImportJobQueries:
    @strawberry.field(
        description="A bulk import sent to POST /import/customers: its state and figures "
        "(null if there is no such job in this workspace)."
    )
    async def import_job(self, info: Info, id: strawberry.ID) -> ImportJob | None:
        ctx = info.context
        job = await get_job(ctx.runtime, ctx.workspace_pk, str(id))
        return ImportJob.from_domain(job) if job is not None else None
