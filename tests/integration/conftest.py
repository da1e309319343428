"""Fixtures for the predicate semantics tests: the hand-made dataset, loaded once per module."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import httpx
import pytest

from api.runtime import Runtime
from tests.conftest import Workspace, new_workspace
from tests.integration.dataset import ingest, workspace_pk
from tests.integration.fixture_customers import CUSTOMERS
from tests.integration.membership_support import CLOCK_START, FakeClock


@dataclass
class Loaded:
    """A workspace holding fixture_customers.CUSTOMERS."""

    ws: Workspace
    pk: int


@pytest.fixture(scope="module")
async def module_http() -> AsyncIterator[httpx.AsyncClient]:
    """One client per module; TCP_NODELAY spares each small request a delayed-ACK wait."""
    nodelay = [(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)]
    transport = httpx.AsyncHTTPTransport(socket_options=nodelay)
    async with httpx.AsyncClient(transport=transport, timeout=30) as client:
        yield client


@pytest.fixture(scope="module")
async def loaded(runtime: Runtime, server: str, module_http: httpx.AsyncClient) -> Loaded:
    ws = await new_workspace(runtime, server, module_http)
    await ingest(ws, runtime, CUSTOMERS)
    return Loaded(ws, await workspace_pk(runtime, ws))


@pytest.fixture
def clock(runtime: Runtime) -> Iterator[FakeClock]:
    """runtime.clock replaced by a hand-driven one for the test, then restored."""
    original = runtime.clock
    fake = FakeClock(CLOCK_START)
    runtime.clock = fake
    try:
        yield fake
    finally:
        runtime.clock = original
