"""Fixtures for the predicate semantics tests: the hand-made dataset, loaded once per module."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest

from api.runtime import Runtime
from tests.conftest import Workspace, new_workspace
from tests.integration.dataset import ingest, workspace_pk
from tests.integration.fixture_customers import CUSTOMERS


@dataclass
class Loaded:
    """A workspace holding fixture_customers.CUSTOMERS."""

    ws: Workspace
    pk: int


@pytest.fixture(scope="module")
async def module_http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=30) as client:
        yield client


@pytest.fixture(scope="module")
async def loaded(runtime: Runtime, server: str, module_http: httpx.AsyncClient) -> Loaded:
    ws = await new_workspace(runtime, server, module_http)
    await ingest(ws, runtime, CUSTOMERS)
    return Loaded(ws, await workspace_pk(runtime, ws))
