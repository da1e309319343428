"""Shared fixtures: a real PostgreSQL, the real app on a real port, one workspace per test.

Database: TEST_DATABASE_URL or DATABASE_URL names a server; without either, an
embedded PostgreSQL (pgserver) is started in .pytest-pgdata/. Either way a
fresh database is created for the session and dropped at the end.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import traceback
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
import uvicorn

from api.app import create_app
from api.runtime import Runtime
from api.services.bootstrap import create_key
from domain.access import Role
from persistence.database import Database, async_url, create_engine, start_embedded
from persistence.migrate import migrate
from persistence.settings import Settings

ROOT = Path(__file__).resolve().parent.parent


def _record_where_connections_are_opened() -> None:
    """An asyncpg connection collected unclosed names its origin only in asyncio debug
    mode; record the origin always, so that warning (an error here) says who leaked it."""
    opened = asyncpg.Connection.__init__

    def recording(self: asyncpg.Connection, *args: Any, **kwargs: Any) -> None:
        opened(self, *args, **kwargs)
        self._source_traceback = "".join(traceback.format_stack(limit=20)[:-1])

    asyncpg.Connection.__init__ = recording  # type: ignore[method-assign]


_record_where_connections_are_opened()


def _server_url() -> str:
    url = os.environ.get("TEST_DATABASE_URL") or os.environ.get("DATABASE_URL")
    if url:
        return url
    return start_embedded(str(ROOT / ".pytest-pgdata"))


def _with_database(url: str, name: str) -> str:
    parsed = async_url(url).set(database=name)
    host = parsed.host or ""
    if host.startswith("/"):
        return f"postgresql://{parsed.username or 'postgres'}@/{name}?host={host}"
    auth = parsed.username or "postgres"
    if parsed.password:
        auth += f":{parsed.password}"
    port = f":{parsed.port}" if parsed.port else ""
    return f"postgresql://{auth}@{host}{port}/{name}"


async def _admin(url: str) -> asyncpg.Connection:
    return await asyncpg.connect(_with_database(url, "postgres"))


@pytest.fixture(scope="session")
async def database_url() -> AsyncIterator[str]:
    server = _server_url()
    name = f"segmentql_test_{os.getpid()}"
    conn = await _admin(server)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    yield _with_database(server, name)
    conn = await _admin(server)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


@pytest.fixture(scope="session")
async def runtime(database_url: str) -> AsyncIterator[Runtime]:
    settings = Settings(
        database_url=database_url,
        statement_timeout_ms=5_000,
        background_jobs=False,
        # One key per role stands in for many calls a second here; tests/api/test_throttling
        # turns the per-key rate limit on for itself.
        cost_bucket_size=0,
    )
    database = Database(url=async_url(database_url), embedded=False)
    rt = Runtime(settings, database, create_engine(database, settings))
    await migrate(rt.engine)
    yield rt
    await rt.close()


@contextlib.asynccontextmanager
async def serving(runtime: Runtime) -> AsyncIterator[str]:
    """The real app of `runtime` under uvicorn on a free loopback port; yields its base URL."""
    config = uvicorn.Config(
        create_app(runtime=runtime),
        host="127.0.0.1",
        port=0,
        log_level="warning",
        ws="websockets-sansio",
    )
    srv = uvicorn.Server(config)
    task = asyncio.create_task(srv.serve())
    try:
        while not srv.started:
            await asyncio.sleep(0.02)
        yield f"http://127.0.0.1:{srv.servers[0].sockets[0].getsockname()[1]}"
    finally:
        srv.should_exit = True
        await task


@pytest.fixture(scope="session")
async def server(runtime: Runtime) -> AsyncIterator[str]:
    """The real app under uvicorn on a free loopback port; yields its base URL."""
    async with serving(runtime) as url:
        yield url


@dataclass
class GraphQLResult:
    status: int
    body: dict[str, Any]

    @property
    def data(self) -> dict[str, Any]:
        assert "errors" not in self.body, self.body
        data: dict[str, Any] = self.body["data"]
        return data

    @property
    def errors(self) -> list[dict[str, Any]]:
        errors: list[dict[str, Any]] = self.body.get("errors") or []
        return errors


@dataclass
class Workspace:
    """A fresh workspace with one key per role, and a client to call the API with."""

    name: str
    keys: dict[Role, str]
    base_url: str
    http: httpx.AsyncClient

    async def gql(
        self, query: str, variables: dict[str, Any] | None = None, role: Role = Role.ADMIN
    ) -> GraphQLResult:
        response = await self.http.post(
            f"{self.base_url}/graphql",
            json={"query": query, "variables": variables or {}},
            headers={"Authorization": f"Bearer {self.keys[role]}"},
        )
        return GraphQLResult(response.status_code, response.json())


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=30) as client:
        yield client


async def new_workspace(runtime: Runtime, server: str, http: httpx.AsyncClient) -> Workspace:
    name = f"ws-{uuid.uuid4().hex[:12]}"
    keys = {role: await create_key(runtime, name, role, "test") for role in Role}
    return Workspace(name, keys, server, http)


@pytest.fixture
async def workspace(runtime: Runtime, server: str, http: httpx.AsyncClient) -> Workspace:
    return await new_workspace(runtime, server, http)


@pytest.fixture
async def other_workspace(runtime: Runtime, server: str, http: httpx.AsyncClient) -> Workspace:
    return await new_workspace(runtime, server, http)
