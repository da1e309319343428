"""SEGMENTQL_READ_REPLICA_URLS against a real streaming replica.

A primary and a replica of our own (tests/replication.py). To tell which one
answered, the replica's replay is paused (`pg_wal_replay_pause()`) before a
write: the primary has the new customer, the replica does not yet.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import asyncpg
import httpx
import pytest

from api.runtime import Runtime
from api.services.bootstrap import create_key
from domain.access import Role
from persistence.database import Database, async_url, create_engine
from persistence.migrate import migrate
from persistence.settings import Settings
from tests.api.segment_documents import MEMBERS, PREVIEW, create_ok, upsert_ok
from tests.api.test_metrics import scrape, value
from tests.cli import free_port
from tests.conftest import Workspace, serving
from tests.replication import Server, streaming_pair

DATABASE = "segmentql"
STATS = "query($id: ID!) { segment(id: $id) { stats { customerCount } } }"
CUSTOMER_IDS = "query { customers(first: 100) { edges { node { id } } } }"
IN_FRANCE = {"condition": {"field": "country", "operator": "IN", "values": ["FR"]}}
UPSERT_AND_CHECK = """
mutation($customers: [CustomerInput!]!) {
  customersUpsert(customers: $customers) {
    customers { id segments { name } }
    userErrors { code }
  }
}
"""


@pytest.fixture(scope="module")
def pair() -> Iterator[tuple[Server, Server]]:
    with streaming_pair() as servers:
        yield servers


@pytest.fixture(scope="module")
async def primary_url(pair: tuple[Server, Server]) -> str:
    primary, _ = pair
    conn = await asyncpg.connect(primary.url)
    try:
        await conn.execute(f'CREATE DATABASE "{DATABASE}"')
    finally:
        await conn.close()
    settings = Settings(database_url=primary.url_of(DATABASE))
    database = Database(url=async_url(primary.url_of(DATABASE)), embedded=False)
    engine = create_engine(database, settings)
    await migrate(engine)
    await engine.dispose()
    return primary.url_of(DATABASE)


@pytest.fixture
async def replicated(
    pair: tuple[Server, Server], primary_url: str
) -> AsyncIterator[tuple[Runtime, Workspace]]:
    async with reading_replica(pair, primary_url, max_lag_s=3600) as served:
        yield served


@contextlib.asynccontextmanager
async def reading_replica(
    pair: tuple[Server, Server], primary_url: str, max_lag_s: float
) -> AsyncIterator[tuple[Runtime, Workspace]]:
    """A server on the primary reading the replica, and a fresh workspace on it."""
    _, replica = pair
    await _resume(replica)  # a test that failed may have left replay paused
    settings = Settings(
        database_url=primary_url,
        read_replica_urls=[replica.url_of(DATABASE)],
        replica_max_lag_s=max_lag_s,
        background_jobs=False,
        cost_bucket_size=0,
    )
    database = Database(url=async_url(primary_url), embedded=False)
    runtime = Runtime(settings, database, create_engine(database, settings))
    name = f"ws-{uuid.uuid4().hex[:12]}"
    keys = {role: await create_key(runtime, name, role, "test") for role in Role}
    try:
        async with serving(runtime) as url, httpx.AsyncClient(timeout=30) as http:
            await _until(lambda: runtime.replicas.replicas[0].up, "the replica is up")
            yield runtime, Workspace(name, keys, url, http)
    finally:
        await _resume(replica)
        await runtime.close()


async def _until(condition: Any, what: str, timeout_s: float = 15) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"waited {timeout_s} s for: {what}"
        await asyncio.sleep(0.1)


async def _caught_up(primary: Server, replica: Server) -> None:
    """Until the replica has replayed everything the primary committed so far.

    The primary runs with synchronous_commit off, so a commit may still be in its
    WAL buffers, before pg_current_wal_lsn(): a synchronous commit flushes it first."""
    p = await asyncpg.connect(primary.url)
    r = await asyncpg.connect(replica.url)
    try:
        await p.execute("SET synchronous_commit = on")
        await p.fetchval("SELECT txid_current()")  # a commit record, flushed with all before it
        target = await p.fetchval("SELECT pg_current_wal_lsn()")
        deadline = time.monotonic() + 15
        while not await r.fetchval("SELECT pg_last_wal_replay_lsn() >= $1", target):
            assert time.monotonic() < deadline, "the replica never caught up"
            await asyncio.sleep(0.05)
    finally:
        await p.close()
        await r.close()


async def _replica_has(replica: Server, customer_id: str) -> None:
    """Until the replica itself shows the customer (checked there, not through the API)."""
    conn = await asyncpg.connect(replica.url_of(DATABASE))
    try:
        deadline = time.monotonic() + 15
        query = "SELECT count(*) FROM customer WHERE id = $1"
        while not await conn.fetchval(query, customer_id):
            assert time.monotonic() < deadline, f"the replica never showed {customer_id}"
            await asyncio.sleep(0.05)
    finally:
        await conn.close()


async def _pause(replica: Server) -> None:
    conn = await asyncpg.connect(replica.url)
    try:
        await conn.execute("SELECT pg_wal_replay_pause()")
    finally:
        await conn.close()


async def _resume(replica: Server) -> None:
    try:
        conn = await asyncpg.connect(replica.url)
    except OSError:
        return  # stopped (the last test stops it)
    try:
        await conn.execute("SELECT pg_wal_replay_resume()")
    finally:
        await conn.close()


async def _reads_show(ws: Workspace, ids: list[str], timeout_s: float = 5) -> None:
    """Until the API's customer list is `ids`: on a standby, a replayed commit can take a
    moment (about 0.1 s measured here) to show in the snapshots of connections already open."""
    deadline = time.monotonic() + timeout_s
    while (seen := await customer_ids(ws)) != ids:
        assert time.monotonic() < deadline, f"reads show {seen}, not {ids}"
        await asyncio.sleep(0.05)


async def customer_ids(ws: Workspace) -> list[str]:
    edges = (await ws.gql(CUSTOMER_IDS)).data["customers"]["edges"]
    return sorted(e["node"]["id"] for e in edges)


async def test_reads_go_to_the_replica_and_writes_see_themselves(
    pair: tuple[Server, Server], replicated: tuple[Runtime, Workspace]
) -> None:
    primary, replica = pair
    _, ws = replicated
    # given: a segment and a customer, replayed on the replica; then replay paused
    segment = await create_ok(ws, name="French", predicate=IN_FRANCE)
    await upsert_ok(ws, {"id": "c-old", "country": "FR"})
    await _caught_up(primary, replica)
    await _replica_has(replica, "c-old")
    before = await scrape(ws.http, ws.base_url)
    await _pause(replica)

    # when: another customer is written (on the primary)
    written = await ws.gql(UPSERT_AND_CHECK, {"customers": [{"id": "c-new", "country": "FR"}]})

    # then: the mutation's payload sees its own write, memberships included
    payload = written.data["customersUpsert"]
    assert payload["customers"] == [{"id": "c-new", "segments": [{"name": "French"}]}]
    # and reads answer from the replica, which has not replayed it
    assert await customer_ids(ws) == ["c-old"]
    preview = (await ws.gql(PREVIEW, {"predicate": IN_FRANCE})).data["segmentPreview"]
    assert preview["totalCount"] == 1
    members = (await ws.gql(MEMBERS, {"id": segment["id"]})).data["segment"]["members"]
    assert [e["node"]["id"] for e in members["edges"]] == ["c-old"]
    export = await ws.http.get(
        f"{ws.base_url}/segments/{segment['id']}/export.csv?fields=id",
        headers={"Authorization": f"Bearer {ws.keys[Role.READ]}"},
    )
    assert export.status_code == 200 and export.text.split() == ["id", "c-old"]
    # and a count made while listing is made (and stored) on the primary: no write refused
    stats = await ws.gql(STATS, {"id": segment["id"]})
    assert stats.data["segment"]["stats"]["customerCount"] in (1, 2)
    after = await scrape(ws.http, ws.base_url)
    replica_reads = "segmentql_replica_reads_total"
    assert value(after, replica_reads, replica=_name(replica)) >= (
        value(before, replica_reads, replica=_name(replica)) + 4
    )

    # when: replay resumes, the replica has it too
    await _resume(replica)
    await _caught_up(primary, replica)
    await _reads_show(ws, ["c-new", "c-old"])


async def test_a_replica_lagging_too_far_is_skipped_for_the_primary(
    pair: tuple[Server, Server], primary_url: str
) -> None:
    _, replica = pair
    async with reading_replica(pair, primary_url, max_lag_s=1.0) as (runtime, ws):
        await lagging_replica_is_skipped(replica, runtime, ws)


async def lagging_replica_is_skipped(replica: Server, runtime: Runtime, ws: Workspace) -> None:
    # given: the replica stops replaying, and a customer is written after
    await _pause(replica)
    await upsert_ok(ws, {"id": "c-late", "country": "DE"})
    before = await scrape(ws.http, ws.base_url)

    # when: its lag passes SEGMENTQL_REPLICA_MAX_LAG_S (1 s here)
    status = runtime.replicas.replicas[0]
    await _until(lambda: (status.lag_s or 0) > 1.0, "the replica lags over 1 s")

    # then: reads go to the primary, which has the customer
    assert "c-late" in await customer_ids(ws)
    after = await scrape(ws.http, ws.base_url)
    skipped = "segmentql_replica_skipped_total"
    assert value(after, skipped, reason="lagging") > value(before, skipped, reason="lagging")
    assert value(after, "segmentql_replica_lag_seconds", replica=_name(replica)) > 1.0
    assert value(after, "segmentql_replica_up", replica=_name(replica)) == 1


async def test_a_replica_whose_wal_receiver_stopped_is_skipped_for_the_primary(
    pair: tuple[Server, Server], primary_url: str
) -> None:
    primary, replica = pair
    async with reading_replica(pair, primary_url, max_lag_s=1.0) as (runtime, ws):
        status = runtime.replicas.replicas[0]
        await _caught_up(primary, replica)
        await _until(lambda: status.lag_s == 0, "the replica is current")
        # given: the replica's WAL receiver stops (it streams from a port nobody serves);
        # it has replayed all it received, so on its own it looks current
        async with _receiver_stopped(replica):
            # when: a customer is written on the primary, and a moment passes
            await upsert_ok(ws, {"id": "c-unsent", "country": "DE"})
            before = await scrape(ws.http, ws.base_url)
            await _until(lambda: (status.lag_s or 0) > 1.0, "the replica lags over 1 s")

            # then: reads go to the primary, which has the customer, and the metrics say so
            assert await customer_ids(ws) == ["c-unsent"]
            after = await scrape(ws.http, ws.base_url)
            skipped = "segmentql_replica_skipped_total"
            lagging = value(after, skipped, reason="lagging")
            assert lagging > value(before, skipped, reason="lagging")
            assert value(after, "segmentql_replica_lag_seconds", replica=_name(replica)) > 1.0
            assert value(after, "segmentql_replica_up", replica=_name(replica)) == 1

        # when: it streams again, it catches up and is read again
        await _caught_up(primary, replica)
        await _until(lambda: status.lag_s == 0, "the replica is current again")
        reads = "segmentql_replica_reads_total"
        before = value(await scrape(ws.http, ws.base_url), reads, replica=_name(replica))
        await _reads_show(ws, ["c-unsent"])
        after = value(await scrape(ws.http, ws.base_url), reads, replica=_name(replica))
        assert after > before


@contextlib.asynccontextmanager
async def _receiver_stopped(replica: Server) -> AsyncIterator[None]:
    """The replica's WAL receiver stopped (primary_conninfo names a closed port) in the block."""
    conn = await asyncpg.connect(replica.url)
    try:
        streaming = await conn.fetchval("SHOW primary_conninfo")
        await _set_conninfo(conn, f"host=127.0.0.1 port={free_port()} user=postgres")
        deadline = time.monotonic() + 15
        while await conn.fetchval("SELECT count(*) FROM pg_stat_wal_receiver"):
            assert time.monotonic() < deadline, "the WAL receiver kept running"
            await asyncio.sleep(0.1)
        yield
    finally:
        await _set_conninfo(conn, streaming)
        await conn.close()


async def _set_conninfo(conn: asyncpg.Connection, conninfo: str) -> None:
    quoted = conninfo.replace("'", "''")
    await conn.execute(f"ALTER SYSTEM SET primary_conninfo = '{quoted}'")
    await conn.execute("SELECT pg_reload_conf()")


async def test_a_replica_down_is_skipped_for_the_primary(
    pair: tuple[Server, Server], replicated: tuple[Runtime, Workspace]
) -> None:
    primary, replica = pair
    runtime, ws = replicated
    # given: a customer both servers have, read once through the replica
    await upsert_ok(ws, {"id": "c-both", "country": "FR"})
    await _caught_up(primary, replica)
    await _replica_has(replica, "c-both")
    assert await customer_ids(ws) == ["c-both"]

    # when: the replica stops
    replica.stop("fast")

    # then: reads at once, and after the next check, answer from the primary, no error
    assert await customer_ids(ws) == ["c-both"]
    status = runtime.replicas.replicas[0]
    await _until(lambda: not status.up, "the replica is seen down")
    await upsert_ok(ws, {"id": "c-after", "country": "FR"})
    before = await scrape(ws.http, ws.base_url)
    assert await customer_ids(ws) == ["c-after", "c-both"]
    after = await scrape(ws.http, ws.base_url)
    skipped = "segmentql_replica_skipped_total"
    assert value(after, skipped, reason="down") > value(before, skipped, reason="down")
    # and the metrics say it is down from the next check on
    deadline = time.monotonic() + 5
    while value(await scrape(ws.http, ws.base_url), "segmentql_replica_up", replica=_name(replica)):
        assert time.monotonic() < deadline, "segmentql_replica_up stayed 1"
        await asyncio.sleep(0.2)


def _name(server: Server) -> str:
    return f"127.0.0.1:{server.port}/{DATABASE}"
