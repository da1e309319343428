"""A server killed with SIGKILL in the middle of a batch write leaves none of it.

The batch's customers are written, then its recorder waits for the workspace
row (held by this test's session), which is where the process dies: nothing
of the batch, and no event, may be left once the held lock is released.
"""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

import asyncpg
import httpx
import pytest

from api.runtime import Runtime
from domain.access import Role
from tests.api.documents import UPSERT
from tests.api.event_documents import active_segment, in_germany
from tests.cli import serve_process
from tests.conftest import Workspace, new_workspace
from tests.integration.dataset import workspace_pk

BATCH = 500


async def count(conn: asyncpg.Connection, sql: str, pk: int) -> int:
    found: int = await conn.fetchval(sql, pk)
    return found


async def test_sigkill_mid_batch_leaves_none_of_it(
    runtime: Runtime, http: httpx.AsyncClient, database_url: str, tmp_path: Path
) -> None:
    async with serve_process(database_url, tmp_path / "server.log") as (base_url, proc):
        await killed_mid_batch(runtime, http, database_url, base_url, proc)


async def killed_mid_batch(
    runtime: Runtime,
    http: httpx.AsyncClient,
    database_url: str,
    base_url: str,
    proc: asyncio.subprocess.Process,
) -> None:
    # given an ACTIVE segment every customer of the batch would enter
    ws: Workspace = await new_workspace(runtime, base_url, http)
    await active_segment(ws, "Germans", in_germany())
    pk = await workspace_pk(runtime, ws)
    # and the workspace row held, so that the batch stops after writing its customers
    holder = await asyncpg.connect(database_url)
    probe = await asyncpg.connect(database_url)
    try:
        await holder.execute("BEGIN")
        # NO KEY UPDATE, as a recorder takes it: the batch's inserts (whose foreign keys
        # take KEY SHARE on the row) go through, its recorder waits
        await holder.execute("SELECT 1 FROM workspace WHERE pk = $1 FOR NO KEY UPDATE", pk)
        batch = [{"id": f"k{i:04d}", "country": "DE"} for i in range(BATCH)]
        body = {"query": UPSERT, "variables": {"customers": batch}}
        headers = {"Authorization": f"Bearer {ws.keys[Role.WRITE]}"}
        writer = asyncio.create_task(http.post(f"{base_url}/graphql", json=body, headers=headers))
        for _ in range(600):
            waiting = await probe.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'segmentql'"
                " AND wait_event_type = 'Lock' AND query LIKE '%FROM workspace%'"
            )
            if waiting or writer.done():
                break
            await asyncio.sleep(0.05)
        assert waiting and not writer.done()

        # when the server process is killed there
        os.kill(proc.pid, signal.SIGKILL)
        await asyncio.wait_for(proc.wait(), 30)
        with pytest.raises(httpx.HTTPError):
            await writer
        await holder.execute("ROLLBACK")

        # then none of the batch is stored, and no event was recorded
        for _ in range(100):  # the dead backend's transaction ends once it notices
            alive = await probe.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'segmentql'"
                " AND state <> 'idle' AND datname = current_database()"
            )
            if not alive:
                break
            await asyncio.sleep(0.1)
        customers = "SELECT count(*) FROM customer WHERE workspace_pk = $1"
        events = "SELECT count(*) FROM segment_event WHERE workspace_pk = $1"
        assert await count(probe, customers, pk) == 0
        assert await count(probe, events, pk) == 0
    finally:
        await holder.close()
        await probe.close()
