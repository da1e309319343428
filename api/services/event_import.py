"""`segmentql import events FILE.jsonl`: bulk tracked events, chunk by chunk."""

from __future__ import annotations

from pathlib import Path

from api.runtime import Runtime
from api.services import membership
from api.services.tracked_events import tracked
from persistence.bulk_load import NoProgress, ProgressSink
from persistence.event_import import ImportReport, chunks, copy_chunk
from persistence.unit_of_work import UnitOfWork
from persistence.workspaces import WorkspaceRepository


async def import_events(
    runtime: Runtime, workspace: str, path: Path, progress: ProgressSink | None = None
) -> ImportReport:
    """`progress` hears lines read per chunk."""
    report = ImportReport()
    bar = progress or NoProgress()
    async with runtime.engine.connect() as conn:
        workspace_pk = await WorkspaceRepository(conn).find(workspace)
    if workspace_pk is None:
        raise SystemExit(f"no workspace named {workspace!r}")
    # utf-8-sig: a byte order mark is not part of line 1. surrogateescape: bytes that
    # are not UTF-8 spoil only their own line (refused as invalid Unicode), not the file.
    with path.open(encoding="utf-8-sig", errors="surrogateescape") as stream:
        lines_shown = 0
        for batch in chunks(stream, runtime.clock(), report):
            async with UnitOfWork(runtime.engine, workspace_pk) as uow:
                pks = await uow.customers.pk_map({e.customer_id for _, e in batch})
                known = []
                for line_no, event in batch:
                    if event.customer_id in pks:
                        known.append((line_no, event))
                    else:
                        report.reject(line_no, f"there is no customer {event.customer_id!r}")
                if known:
                    inserted = await copy_chunk(uow.conn, workspace_pk, known, pks)
                    report.loaded += inserted
                    report.duplicates += len(known) - inserted
                    await uow.events.remember_names({e.name for _, e in known})
                    changes = tracked([e for _, e in known], pks)
                    await membership.after_customer_write(uow, changes, runtime.clock)
                await uow.commit()
            bar.advance(report.lines - lines_shown)
            lines_shown = report.lines
    return report
