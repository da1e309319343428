"""PostgreSQL going away and coming back under a writer and a live subscriber.

Against a PostgreSQL this test starts itself (initdb and pg_ctl on a free
port), so that it may stop it: a writer in flight gets the retryable
DATABASE_UNAVAILABLE (never a hang), requests meanwhile get a 503 naming it,
/readyz is not ready, and after the restart the subscriber hears every event
committed since, in order, each once.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from api.runtime import Runtime
from domain.access import Role
from persistence.database import Database, async_url, create_engine
from persistence.migrate import migrate
from persistence.settings import Settings
from tests.api.documents import UPSERT
from tests.api.event_documents import active_segment, in_germany, last_event_id, subscribed
from tests.cli import free_port
from tests.conftest import Workspace, new_workspace, serving

PG_BIN = Path("/usr/lib/postgresql/15/bin")
WAIT_S = 20.0


class OwnPostgres:
    """A throwaway cluster in `folder`, run as the postgres user when the test runs as root."""

    def __init__(self, folder: Path) -> None:
        self.data = folder / "data"
        self.log = folder / "server.log"
        self.port = free_port()
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        self.as_owner: list[str] = []
        if os.geteuid() == 0:
            shutil.chown(folder, "postgres")
            self.as_owner = ["runuser", "-u", "postgres", "--"]

    def _run(self, *command: str) -> None:
        subprocess.run([*self.as_owner, *command], check=True, capture_output=True, timeout=120)

    def create(self) -> None:
        self._run(str(PG_BIN / "initdb"), "-D", str(self.data), "-U", "postgres", "-A", "trust")

    def start(self) -> None:
        options = f"-p {self.port} -k {self.data} -c listen_addresses=127.0.0.1 -c fsync=off"
        pg_ctl = str(PG_BIN / "pg_ctl")
        self._run(pg_ctl, "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "start")

    def stop(self) -> None:
        self._run(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")


@pytest.fixture
async def own_postgres() -> AsyncIterator[OwnPostgres]:
    if not (PG_BIN / "initdb").exists():
        pytest.skip(f"needs the PostgreSQL server binaries in {PG_BIN}")
    # Not pytest's tmp_path: its parents are private to the test's user, and the server
    # runs as postgres when the test runs as root.
    folder = Path(tempfile.mkdtemp(prefix="segmentql-pg-"))
    server = OwnPostgres(folder)
    try:
        server.create()
        server.start()
        yield server
    finally:
        subprocess.run(
            [
                *server.as_owner,
                str(PG_BIN / "pg_ctl"),
                "-D",
                str(server.data),
                "-m",
                "immediate",
                "stop",
            ],
            capture_output=True,
            timeout=60,
        )
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
async def own_runtime(own_postgres: OwnPostgres) -> AsyncIterator[Runtime]:
    settings = Settings(
        database_url=own_postgres.url,
        statement_timeout_ms=5_000,
        background_jobs=False,
        cost_bucket_size=0,
    )
    database = Database(url=async_url(own_postgres.url), embedded=False)
    runtime = Runtime(settings, database, create_engine(database, settings))
    await migrate(runtime.engine)
    yield runtime
    await runtime.close()


async def upsert(ws: Workspace, country: str) -> httpx.Response:
    body = {"query": UPSERT, "variables": {"customers": [{"id": "c1", "country": country}]}}
    headers = {"Authorization": f"Bearer {ws.keys[Role.ADMIN]}"}
    return await ws.http.post(f"{ws.base_url}/graphql", json=body, headers=headers)


def top_level_code(response: httpx.Response) -> str | None:
    errors: list[dict[str, Any]] = response.json().get("errors") or []
    return errors[0]["extensions"]["code"] if errors else None


async def blocked_on_a_lock(conn: asyncpg.Connection) -> bool:
    """Whether a service connection waits for a lock (`conn` outside a transaction: inside
    one, pg_stat_activity keeps showing what it showed first)."""
    waiting = await conn.fetchval(
        "SELECT count(*) FROM pg_stat_activity"
        " WHERE application_name = 'segmentql' AND wait_event_type = 'Lock'"
    )
    return bool(waiting)


async def test_a_restart_under_a_writer_and_a_subscriber(
    own_postgres: OwnPostgres, own_runtime: Runtime, http: httpx.AsyncClient
) -> None:
    async with serving(own_runtime) as base_url:
        # given an ACTIVE segment, a customer outside it, and a subscriber from now on
        ws = await new_workspace(own_runtime, base_url, http)
        germans = await active_segment(ws, "Germans", in_germany())
        assert (await upsert(ws, "FR")).status_code == 200
        after = await last_event_id(ws)
        async with subscribed(base_url, ws.keys[Role.READ], after=after) as subscriber:
            # and a writer of that customer in flight, held by a lock another session has
            holder = await asyncpg.connect(own_postgres.url)
            probe = await asyncpg.connect(own_postgres.url)
            await holder.execute("BEGIN")
            await holder.execute("SELECT 1 FROM customer WHERE id = 'c1' FOR UPDATE")
            writer = asyncio.create_task(upsert(ws, "DE"))
            for _ in range(int(WAIT_S / 0.05)):
                if await blocked_on_a_lock(probe) or writer.done():
                    break
                await asyncio.sleep(0.05)
            assert not writer.done(), writer.result().text

            # when PostgreSQL stops
            await asyncio.to_thread(own_postgres.stop)

            # then the writer gets the retryable code, soon
            in_flight = await asyncio.wait_for(writer, WAIT_S)
            assert in_flight.status_code == 200
            assert top_level_code(in_flight) == "DATABASE_UNAVAILABLE"
            assert in_flight.json()["errors"][0]["extensions"]["retryable"] is True
            # and a request arriving meanwhile is refused with 503, /readyz is not ready
            meanwhile = await asyncio.wait_for(upsert(ws, "DE"), WAIT_S)
            assert meanwhile.status_code == 503
            assert meanwhile.text.startswith("DATABASE_UNAVAILABLE")
            assert (await http.get(f"{base_url}/readyz")).status_code == 503

            # when it is back, the write is sent again until it goes through
            await asyncio.to_thread(own_postgres.start)
            for _ in range(int(WAIT_S / 0.2)):
                retried = await upsert(ws, "DE")
                if retried.status_code == 200 and top_level_code(retried) is None:
                    break
                assert retried.status_code == 503 or top_level_code(retried) == (
                    "DATABASE_UNAVAILABLE"
                ), retried.text
                await asyncio.sleep(0.2)
            assert retried.json()["data"]["customersUpsert"]["userErrors"] == []
            assert (await http.get(f"{base_url}/readyz")).status_code == 200
            assert (await upsert(ws, "FR")).status_code == 200

            # then the subscriber hears both changes since the restart, in order, once each
            first, second = await subscriber.take(2, timeout=WAIT_S)
            assert [(e["kind"], e["segmentId"]) for e in (first, second)] == [
                ("ENTERED", germans),
                ("LEFT", germans),
            ]
            assert int(first["id"]) == int(after) + 1 and int(second["id"]) == int(after) + 2
            await asyncio.sleep(1.0)
            assert subscriber.pending() == 0
