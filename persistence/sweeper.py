"""What the time sweeper needs from the database: its lock, and where to look."""

from __future__ import annotations

import zlib
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from persistence.tables import Segment

segment_table = Segment.__table__  # type: ignore[attr-defined]


def sweep_lock(engine: AsyncEngine) -> AbstractAsyncContextManager[bool]:
    """A session advisory lock: True when this process may sweep now."""
    return advisory_lock(engine, "segmentql-sweeper")


async def workspaces_with_timed_segments(engine: AsyncEngine) -> list[int]:
    """Workspaces holding an ACTIVE segment and a time-relative segment of any kind.

    An ACTIVE segment can reach relative times through a segment it references,
    edited after it was saved, so its own stored flag is not enough: this is a
    superset, and the sweep decides per segment from the predicates.
    """
    active = select(segment_table.c.workspace_pk).where(segment_table.c.kind == "ACTIVE")
    timed = select(segment_table.c.workspace_pk).where(segment_table.c.time_relative)
    async with engine.connect() as conn:
        rows = await conn.execute(active.intersect(timed))
        return sorted(int(r.workspace_pk) for r in rows)


@asynccontextmanager
async def advisory_lock(engine: AsyncEngine, name: str) -> AsyncIterator[bool]:
    """A named session advisory lock, tried without waiting: True when held."""
    key = zlib.crc32(name.encode())
    async with engine.connect() as conn:
        got = (await conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key})).scalar()
        await conn.commit()
        try:
            yield bool(got)
        finally:
            if got:
                await conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
                await conn.commit()
