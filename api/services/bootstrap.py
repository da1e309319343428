"""Start-up: migrate, and on a brand-new embedded database, a default workspace and key."""

from __future__ import annotations

import logging

from api.runtime import Runtime
from api.services.import_jobs import fail_abandoned_jobs
from domain.access import Role
from persistence.migrate import migrate
from persistence.unit_of_work import UnitOfWork

log = logging.getLogger("segmentql")

DEFAULT_WORKSPACE = "default"


async def prepare_database(runtime: Runtime) -> None:
    await migrate(runtime.engine)
    failed = await fail_abandoned_jobs(runtime)
    if failed:
        log.warning(
            "%d import jobs were left unfinished by a stopped server: marked FAILED", failed
        )
    if runtime.database.embedded:
        key = await ensure_default_workspace(runtime)
        if key is not None:
            url = f"http://{runtime.settings.host}:{runtime.settings.port}/graphql"
            print(
                "\n  segmentql is ready on an embedded PostgreSQL.\n"
                f"  API explorer: {url}\n"
                f"  A WRITE key for workspace '{DEFAULT_WORKSPACE}' (shown once):\n"
                f"    {key}\n"
                "  Send it as the header  Authorization: Bearer <key>\n",
                flush=True,
            )


async def ensure_default_workspace(runtime: Runtime) -> str | None:
    """Creates the default workspace with a WRITE key once; None when it already existed."""
    async with UnitOfWork(runtime.engine, 0) as uow:
        pk, created = await uow.workspaces.ensure(DEFAULT_WORKSPACE)
        if not created:
            return None
        key = await uow.workspaces.create_key(pk, Role.WRITE, label="first start")
        await uow.commit()
    return key


async def create_key(runtime: Runtime, workspace: str, role: Role, label: str | None) -> str:
    async with UnitOfWork(runtime.engine, 0) as uow:
        pk, _ = await uow.workspaces.ensure(workspace)
        key = await uow.workspaces.create_key(pk, role, label)
        await uow.commit()
    return key
