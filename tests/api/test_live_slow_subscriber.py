"""A subscriber that stops reading gets SUBSCRIBER_TOO_SLOW; nothing is buffered without bound.

The subscription runs through the real schema, hub and LISTEN connection of a
second runtime whose buffer holds 5 events; not pulling the result stream is
what "not reading" means here (over a socket the server stops pulling when its
send blocks, which takes megabytes of kernel buffers to provoke).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import replace
from typing import Any

import pytest
from graphql import ExecutionResult

from api.context import Context
from api.runtime import Runtime
from api.schema import schema
from domain.access import Role
from persistence.database import create_engine
from persistence.workspaces import Caller
from tests.api.event_documents import (
    CHANGED,
    active_segment,
    in_germany,
    last_event_id,
    logged_events,
    move,
)
from tests.api.segment_documents import upsert_ok
from tests.conftest import Workspace
from tests.integration.dataset import workspace_pk

BUFFER = 5


@pytest.fixture
async def small_buffer_runtime(runtime: Runtime) -> AsyncIterator[Runtime]:
    """Another 'process': its own engine, hub and LISTEN connection, and a 5-event buffer."""
    settings = replace(runtime.settings, subscriber_buffer=BUFFER)
    own = Runtime(settings, runtime.database, create_engine(runtime.database, settings))
    yield own
    await own.close()


@contextlib.asynccontextmanager
async def subscription(
    rt: Runtime, ws: Workspace, **variables: str | None
) -> AsyncIterator[AsyncGenerator[ExecutionResult, None]]:
    caller = Caller(await workspace_pk(rt, ws), ws.name, Role.READ)
    results = await schema.subscribe(CHANGED, variables, Context(rt, caller))
    assert not isinstance(results, ExecutionResult), results.errors
    try:
        yield results
    finally:
        await results.aclose()


async def pull(stream: AsyncGenerator[ExecutionResult, None]) -> ExecutionResult:
    return await asyncio.wait_for(anext(stream), 15)


def event(result: ExecutionResult) -> dict[str, Any]:
    assert result.errors is None and result.data is not None, result.errors
    changed: dict[str, Any] = result.data["segmentMembershipChanged"]
    return changed


async def test_a_subscriber_that_stops_reading_is_cut_off_and_can_resume(
    workspace: Workspace, small_buffer_runtime: Runtime
) -> None:
    # given: a live subscriber (it has read one event) on a process with a 5-event buffer
    segment_id = await active_segment(workspace, "Germans", in_germany())
    start = await last_event_id(workspace)
    async with subscription(
        small_buffer_runtime, workspace, segmentId=segment_id, after=start
    ) as stream:
        await move(workspace, "c0", "DE")
        first = event(await pull(stream))

        # when: 20 customers enter at once while it reads nothing
        await upsert_ok(workspace, *({"id": f"p{i:02}", "country": "DE"} for i in range(20)))

        # then: it gets at most what its buffer held, then a clear error instead of more buffering
        delivered = [first]
        while (result := await pull(stream)).errors is None:
            delivered.append(event(result))
        assert len(delivered) <= 1 + BUFFER
        [error] = result.errors
        assert error.extensions is not None
        assert error.extensions["code"] == "SUBSCRIBER_TOO_SLOW"
        assert error.extensions["lastEventId"] == delivered[-1]["id"]
        assert "after" in error.message
        with pytest.raises(StopAsyncIteration):
            await pull(stream)

    # when: it resubscribes with after = the id the error named
    logged = [e for e in await logged_events(workspace) if int(e["id"]) > int(start)]
    async with subscription(
        small_buffer_runtime, workspace, segmentId=segment_id, after=delivered[-1]["id"]
    ) as resumed:
        rest = [event(await pull(resumed)) for _ in range(len(logged) - len(delivered))]

        # then: nothing was lost and nothing repeats, and it continues live
        assert [*delivered, *rest] == logged
        await move(workspace, "c0", "FR")
        live = event(await pull(resumed))
        assert (live["kind"], live["customerId"]) == ("LEFT", "c0")
        assert int(live["id"]) == int(logged[-1]["id"]) + 1
