"""Each API key's bucket of cost points is shared by every process of the service."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import replace

import httpx
import pytest
from gql.transport.exceptions import TransportQueryError
from graphql import parse

from api.cost import THROTTLED, document_cost
from api.runtime import Runtime
from api.schema import schema
from domain.access import Role
from tests.api.event_documents import CHANGED, subscribed
from tests.api.segment_documents import country_is, create_ok, upsert_ok
from tests.conftest import ROOT, Workspace, new_workspace, serving

SIZE = 1000
RATE = 1  # a point a second: nothing refills noticeably during the test
COSTS_600 = "{ customers(first: 599) { edges { node { id } } } }"
COSTS_300 = "{ customers(first: 299) { edges { node { id } } } }"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.asynccontextmanager
async def second_process(database_url: str) -> AsyncIterator[str]:
    """`segmentql serve` in its own process, on the same database, with the same bucket."""
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "SEGMENTQL_BACKGROUND_JOBS": "0",
        "SEGMENTQL_COST_BUCKET_SIZE": str(SIZE),
        "SEGMENTQL_COST_RESTORE_RATE": str(RATE),
    }
    command = [sys.executable, "-m", "api.cli", "serve", "--port", str(port)]
    process = subprocess.Popen(
        [*command, "--log-level", "warning"],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient() as client:
            for _ in range(300):
                with contextlib.suppress(httpx.TransportError):
                    if (await client.get(f"{url}/healthz")).status_code == 200:
                        break
                await asyncio.sleep(0.1)
            else:
                raise AssertionError("the second process never came up")
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)


@pytest.fixture
async def first_process(runtime: Runtime) -> AsyncIterator[str]:
    bucketed = Runtime(
        replace(runtime.settings, cost_bucket_size=SIZE, cost_restore_rate=RATE),
        runtime.database,
        runtime.engine,
    )
    async with serving(bucketed) as url:
        yield url


async def test_a_key_over_its_bucket_is_throttled_on_every_process_and_others_are_not(
    runtime: Runtime, first_process: str, database_url: str, http: httpx.AsyncClient
) -> None:
    ws = await new_workspace(runtime, first_process, http)
    async with second_process(database_url) as other:
        on_other = Workspace(ws.name, ws.keys, other, http)

        # given a READ key that spent 600 of its 1000 points on the first process
        # (599 customers: the page is full, so nothing of the charge is refunded; written
        # half by the ADMIN key, half by the WRITE key, so that neither bucket runs dry)
        customers = [{"id": f"c{n:03d}"} for n in range(599)]
        await upsert_ok(ws, *customers[:300])
        await upsert_ok(
            Workspace(ws.name, {Role.ADMIN: ws.keys[Role.WRITE]}, ws.base_url, http),
            *customers[300:],
        )
        spent = await ws.gql(COSTS_600, role=Role.READ)
        status = spent.body["extensions"]["cost"]["throttleStatus"]
        assert len(spent.data["customers"]["edges"]) == 599
        assert spent.body["extensions"]["cost"]["actualQueryCost"] == 600
        assert status["maximumAvailable"] == SIZE
        assert status["restoreRate"] == RATE
        assert 400 <= status["currentlyAvailable"] <= 410

        # when it asks for 600 more on the second process
        refused = await on_other.gql(COSTS_600, role=Role.READ)

        # then it is throttled there, with the time to retry, and nothing ran
        [error] = refused.errors
        assert error["extensions"]["code"] == THROTTLED
        assert error["extensions"]["requestedQueryCost"] == 600
        assert 150_000 <= error["extensions"]["retryAfterMs"] <= 200_000
        assert refused.body.get("data") is None
        # and on the first too
        again = await ws.gql(COSTS_600, role=Role.READ)
        assert [e["extensions"]["code"] for e in again.errors] == [THROTTLED]
        # while another key of the same workspace keeps working on both
        assert (await on_other.gql(COSTS_300, role=Role.WRITE)).errors == []
        assert (await ws.gql("{ customers(first: 10) { edges { node { id } } } }")).errors == []


async def test_what_a_query_was_charged_beyond_its_actual_cost_goes_back_to_the_bucket(
    runtime: Runtime, first_process: str, http: httpx.AsyncClient
) -> None:
    ws = await new_workspace(runtime, first_process, http)
    await upsert_ok(ws, *({"id": f"c{n}"} for n in range(3)))

    # when a key asks for 600 points' worth and gets 3 customers
    first = await ws.gql(COSTS_600, role=Role.READ)

    # then it is charged 600 up front and given back all but the 4 it cost
    cost = first.body["extensions"]["cost"]
    assert len(first.data["customers"]["edges"]) == 3
    assert (cost["requestedQueryCost"], cost["actualQueryCost"]) == (600, 4)
    assert SIZE - 4 - 2 <= cost["throttleStatus"]["currentlyAvailable"] <= SIZE - 4
    # so that two more such requests fit in the 1000 points (without refunds the second
    # would be throttled)
    for _ in range(2):
        again = await ws.gql(COSTS_600, role=Role.READ)
        assert again.errors == []
        assert again.body["extensions"]["cost"]["throttleStatus"]["currentlyAvailable"] >= 980


@pytest.fixture
async def tiny_buckets(runtime: Runtime) -> AsyncIterator[str]:
    """Buckets of 11 points that never refill: one count empties one."""
    drained = Runtime(
        replace(runtime.settings, cost_bucket_size=11, cost_restore_rate=0),
        runtime.database,
        runtime.engine,
    )
    async with serving(drained) as url:
        yield url


COSTS_11 = "{ customers(first: 1) { totalCount } }"


async def test_a_subscription_is_charged_on_subscribe_over_a_websocket(
    runtime: Runtime, tiny_buckets: str, http: httpx.AsyncClient
) -> None:
    ws = await new_workspace(runtime, tiny_buckets, http)
    # given a READ key whose bucket a count emptied (its actual cost is its requested one)
    spent = await ws.gql(COSTS_11, role=Role.READ)
    assert spent.body["extensions"]["cost"]["throttleStatus"]["currentlyAvailable"] == 0

    # when it subscribes over a real WebSocket
    async with subscribed(tiny_buckets, ws.keys[Role.READ]) as refused:
        # then the subscription is refused with THROTTLED before any event
        with pytest.raises(TransportQueryError) as caught:
            await refused.next()
    [error] = caught.value.errors or []
    assert error["extensions"]["code"] == THROTTLED
    assert error["extensions"]["requestedQueryCost"] == cost_of_changed()

    # while the ADMIN key, whose bucket is full, subscribes and stays subscribed
    async with subscribed(tiny_buckets, ws.keys[Role.ADMIN]) as accepted:
        await asyncio.sleep(0.3)
        assert accepted.pending() == 0  # no error arrived
        assert accepted.task is not None and not accepted.task.done()


def cost_of_changed() -> int:
    return document_cost(schema._schema, parse(CHANGED))


FAILS_UNDER_A_NULLABLE_ROOT = """
query M($id: ID!) { segment(id: $id) { members(first: 100) { edges { node {
  id events(first: 2, after: "bad") { totalCount } } } } } }
"""


async def test_a_page_read_then_nulled_by_a_field_error_is_not_refunded(
    runtime: Runtime, first_process: str, http: httpx.AsyncClient
) -> None:
    ws = await new_workspace(runtime, first_process, http)
    await upsert_ok(ws, *({"id": f"c{n}", "country": "DE"} for n in range(50)))
    segment_id = (await create_ok(ws, name="de", predicate=country_is("DE")))["id"]

    # when: a key evaluates the segment for a page of members, and a bad cursor under each
    # member makes the error's null swallow the page (up to the nullable `segment`)
    failed = await ws.gql(FAILS_UNDER_A_NULLABLE_ROOT, {"id": segment_id}, role=Role.READ)
    assert failed.errors and failed.body["data"] == {"segment": None}

    # then: the work was done, so the charge stays: an error is no way to read for free
    cost = failed.body["extensions"]["cost"]
    requested = cost["requestedQueryCost"]
    assert "actualQueryCost" not in cost
    assert SIZE - requested - 2 <= cost["throttleStatus"]["currentlyAvailable"] <= SIZE - requested
