"""`segmentql serve --workers 2`: one port, one background leader, caches right on both.

The server runs as a subprocess on the test database, with background jobs on
(their intervals long, so they run once at start and when a new leader takes
over). Each check opens a fresh connection, asks `/readyz` which worker it
reached, and sends its request on that same connection: every worker is
checked, not whichever the kernel happened to pick.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from api.runtime import Runtime
from api.services.bootstrap import create_key
from domain.access import Role
from tests.api.test_api_keys import REVOKE
from tests.cli import serve_process

WORKERS = 2
TAKEOVER_S = 30.0
SEGMENTS = "query { segments(first: 100) { edges { node { id name } } } }"
CREATE = """
mutation($name: String!) {
  segmentCreate(input: {name: $name, predicate: {condition:
    {field: "country", operator: "IN", values: ["FR"]}}}) { segment { id } userErrors { code } }
}
"""
KEY_ID = "query { apiKeys { id prefix } }"
LONG = "86400"


@pytest.fixture(scope="module")
async def workers(
    database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[str]:
    log = tmp_path_factory.mktemp("workers") / "serve.log"
    settings = {
        "SEGMENTQL_BACKGROUND_JOBS": "1",
        "SEGMENTQL_STATS_MAX_AGE_S": LONG,
        "SEGMENTQL_SWEEP_INTERVAL_S": LONG,
        "SEGMENTQL_WEBHOOK_POLL_MS": LONG + "000",
    }
    async with serve_process(database_url, log, workers=WORKERS, **settings) as (url, _):
        yield url


Call = Callable[[httpx.AsyncClient, dict[str, Any]], Awaitable[Any]]


async def on_each_worker(base_url: str, call: Call, timeout_s: float = 60) -> dict[int, Any]:
    """`call(client, readyz)` once on a connection to each worker; results by worker pid."""
    results: dict[int, Any] = {}
    deadline = time.monotonic() + timeout_s
    while len(results) < WORKERS:
        assert time.monotonic() < deadline, f"reached only workers {sorted(results)}"
        async with httpx.AsyncClient(base_url=base_url, timeout=10) as client:
            try:
                ready = (await client.get("/readyz")).json()
            except httpx.TransportError:
                await asyncio.sleep(0.2)  # a worker restarting
                continue
            if ready["pid"] not in results:
                results[ready["pid"]] = await call(client, ready)
    return results


async def readiness(client: httpx.AsyncClient, ready: dict[str, Any]) -> dict[str, Any]:
    return ready


def gql(key: str) -> Callable[..., Call]:
    def send(query: str, variables: dict[str, Any] | None = None) -> Call:
        async def call(client: httpx.AsyncClient, _ready: dict[str, Any]) -> httpx.Response:
            return await client.post(
                "/graphql",
                json={"query": query, "variables": variables or {}},
                headers={"Authorization": f"Bearer {key}"},
            )

        return call

    return send


async def leaders_in_metrics(base_url: str) -> dict[str, float]:
    async with httpx.AsyncClient(base_url=base_url, timeout=10) as client:
        text = (await client.get("/metrics")).text
    return {
        sample.labels["pid"]: sample.value
        for family in text_string_to_metric_families(text)
        if family.name == "segmentql_background_leader"
        for sample in family.samples
    }


async def test_two_workers_share_one_port_and_one_background_leader(workers: str) -> None:
    # when: each worker is asked whether it leads
    answers = await on_each_worker(workers, readiness)

    # then: two processes answer on the one port, and exactly one leads
    assert len(answers) == WORKERS
    assert sum(a["backgroundLeader"] for a in answers.values()) == 1
    # and the shared metrics say the same, whichever worker answers the scrape
    leaders = await leaders_in_metrics(workers)
    assert {pid: v for pid, v in leaders.items() if v == 1} == {
        str(pid): 1 for pid, a in answers.items() if a["backgroundLeader"]
    }


async def test_definitions_and_revocations_reach_every_worker(
    workers: str, runtime: Runtime
) -> None:
    # given: a workspace whose segments each worker has already read (and cached)
    send = gql(await create_key(runtime, f"workers-{os.getpid()}", Role.ADMIN, "test"))
    listed = await on_each_worker(workers, send(SEGMENTS))
    assert all(r.status_code == 200 for r in listed.values())
    assert all(r.json()["data"]["segments"]["edges"] == [] for r in listed.values())

    # when: a segment is created through one of them
    async with httpx.AsyncClient(base_url=workers) as client:
        created = await send(CREATE, {"name": "French"})(client, {})
    assert created.json()["data"]["segmentCreate"]["userErrors"] == []

    # then: every worker lists it on its next request
    listed = await on_each_worker(workers, send(SEGMENTS))
    names = {pid: [e["node"]["name"] for e in r.json()["data"]["segments"]["edges"]]
             for pid, r in listed.items()}  # fmt: skip
    assert names == {pid: ["French"] for pid in listed}

    # when: the key is revoked through one worker
    async with httpx.AsyncClient(base_url=workers) as client:
        key_id = (await send(KEY_ID)(client, {})).json()["data"]["apiKeys"][0]["id"]
        revoked = await send(REVOKE, {"id": key_id})(client, {})
    assert revoked.json()["data"]["apiKeyRevoke"]["userErrors"] == []

    # then: every worker refuses it
    refused = await on_each_worker(workers, send(SEGMENTS))
    assert {pid: r.status_code for pid, r in refused.items()} == {pid: 401 for pid in refused}


async def test_another_worker_leads_within_30_s_of_the_leaders_death(workers: str) -> None:
    # given: the leading worker
    answers = await on_each_worker(workers, readiness)
    leader = next(pid for pid, a in answers.items() if a["backgroundLeader"])

    # when: it is killed outright (no shutdown: its lock goes with its connection)
    os.kill(leader, signal.SIGKILL)
    killed_at = time.monotonic()

    # then: within 30 s another worker leads
    new_leader = None
    while new_leader is None:
        elapsed = time.monotonic() - killed_at
        assert elapsed < TAKEOVER_S, f"no worker took the lead {elapsed:.0f} s after the kill"
        async with httpx.AsyncClient(base_url=workers, timeout=5) as client:
            with contextlib.suppress(httpx.TransportError):
                ready = (await client.get("/readyz")).json()
                new_leader = ready["pid"] if ready["backgroundLeader"] else None
        await asyncio.sleep(0.2)
    assert new_leader != leader
    print(f"took over after {time.monotonic() - killed_at:.1f} s")
    # and the metrics list one leader, not the dead one
    leaders = await leaders_in_metrics(workers)
    assert [pid for pid, v in leaders.items() if v == 1] == [str(new_leader)]
    assert str(leader) not in leaders
