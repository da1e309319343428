"""`segmentql segments list`: a plain-text table of a workspace's segments."""

from __future__ import annotations

from api.context import Context
from api.runtime import Runtime
from api.services import segment_reads as reads
from domain.access import Role
from persistence.unit_of_work import UnitOfWork
from persistence.workspaces import Caller, WorkspaceRepository


async def segment_table(runtime: Runtime, workspace: str) -> str:
    async with UnitOfWork(runtime.engine, 0) as uow:
        found = await WorkspaceRepository(uow.conn).find(workspace)
    if found is None:
        return f"no workspace named {workspace!r}"
    ctx = Context(runtime, Caller(found, workspace, Role.READ))
    async with ctx.uow() as uow:
        segments = await uow.segments.all()
    header = ("ID", "NAME", "KIND", "COUNT", "PERCENT", "COST", "SLOW")
    rows = [header]
    for segment in segments:
        stats = await reads.stats(ctx, segment)
        cost = await reads.evaluation_cost(ctx, segment)
        rows.append(
            (
                segment.id,
                segment.name[:40],
                segment.kind.value,
                str(stats.customer_count),
                f"{stats.percentage:.2f}",
                f"{cost.planner_cost:.0f}",
                "yes" if cost.slow else "",
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)) for r in rows]
    return "\n".join(lines) if segments else "no segments"
