"""`segmentql export`: a segment's (or a snapshot's) members as CSV, as the HTTP export does."""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path
from typing import BinaryIO

from api.progress import CommandProgress
from api.runtime import Runtime
from domain.access import Role


async def export_csv(
    runtime: Runtime,
    workspace: str,
    segment_id: str,
    fields: str | None,
    out: BinaryIO,
    bar: CommandProgress,
    instance_id: str | None = None,
) -> int:
    """Stream the CSV to `out`; rows written. Refusals end the command with their message."""
    from api.context import Context
    from api.services.exports import export_total, segment_export
    from domain.errors import DomainError
    from persistence.unit_of_work import UnitOfWork
    from persistence.workspaces import Caller, WorkspaceRepository

    async with UnitOfWork(runtime.engine, 0) as uow:
        found = await WorkspaceRepository(uow.conn).find(workspace)
    if found is None:
        raise SystemExit(f"segmentql export: no workspace named {workspace!r}")
    ctx = Context(runtime, Caller(found, workspace, Role.READ))
    try:
        export = await segment_export(ctx, segment_id, fields, instance_id, on_rows=bar.advance)
        bar.set_total(await export_total(ctx, segment_id, instance_id))
    except DomainError as exc:
        raise SystemExit(f"segmentql export: {exc.message}") from exc
    with bar:
        async with contextlib.aclosing(export.rows) as rows:  # frees the connection on failure
            async for chunk in rows:
                out.write(chunk)
        out.flush()
    return bar.done


async def export_to(
    runtime: Runtime,
    workspace: str,
    segment_id: str,
    fields: str | None,
    output: Path | None,
    instance_id: str | None,
    quiet: bool,
) -> None:
    """To stdout, or to `output` through a `.partial` file renamed only when complete."""
    bar = CommandProgress("export", quiet=quiet)
    if output is None:
        try:
            await export_csv(
                runtime, workspace, segment_id, fields, sys.stdout.buffer, bar, instance_id
            )
        except BrokenPipeError:  # the reader went away (`| head`): stop quietly
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return
    partial = output.with_name(output.name + ".partial")
    try:
        with partial.open("wb") as out:
            await export_csv(runtime, workspace, segment_id, fields, out, bar, instance_id)
        partial.replace(output)  # a failed export never leaves a truncated file behind
    finally:
        partial.unlink(missing_ok=True)
