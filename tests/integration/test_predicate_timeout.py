"""A predicate that would run long ends as QUERY_TIMEOUT, and the service goes on answering.

A second app on the same database runs with a 250 ms statement timeout. The
predicate is a MATCHES pattern that passes validation yet costs PostgreSQL
about a tenth of a second per 2000-character value, over 60 such values:
several seconds of work, so the timeout must cut it (the test asserts the
refusal, not a duration it slept for). PREDICATES.md's "a pattern can never
hang the service" rests on this statement timeout.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from sqlalchemy import text

from api.runtime import Runtime
from persistence.database import Database, async_url, create_engine
from persistence.settings import Settings
from tests.conftest import Workspace, new_workspace, serving
from tests.integration.dataset import ingest, preview, preview_ids, workspace_pk
from tests.integration.predicate_json import cond

TIMEOUT_MS = 250
COUNTED = "query ($where: JSON) { customers(where: $where) { totalCount } }"
LONG_VALUE = "ab" * 1000  # the longest a STRING property may be
SLOW_PATTERN = "([ab]{1,255}){1,19}c"  # within the pattern budget, but a heavy automaton


@asynccontextmanager
async def app_with_timeout(database_url: str, timeout_ms: int) -> AsyncIterator[str]:
    """The real app with its own runtime and a short statement timeout; yields its base URL."""
    settings = Settings(
        database_url=database_url, statement_timeout_ms=timeout_ms, background_jobs=False
    )
    database = Database(url=async_url(database_url), embedded=False)
    runtime = Runtime(settings, database, create_engine(database, settings))
    try:
        async with serving(runtime) as url:
            yield url
    finally:
        await runtime.close()


async def test_slow_predicate_ends_as_query_timeout(
    runtime: Runtime, server: str, database_url: str, module_http: httpx.AsyncClient
) -> None:
    # given 60 customers whose plan is a long string
    ws = await new_workspace(runtime, server, module_http)
    customers = [{"id": f"t{n:02d}", "properties": {"plan": LONG_VALUE}} for n in range(60)]
    await ingest(ws, runtime, customers)
    try:
        await _check_timeout_then_service(ws, database_url, module_http, customers)
    finally:  # long values would only slow down other workspaces' scans
        wpk = await workspace_pk(runtime, ws)
        async with runtime.engine.begin() as conn:
            await conn.execute(text("DELETE FROM customer WHERE workspace_pk = :w"), {"w": wpk})


async def _check_timeout_then_service(
    ws: Workspace, database_url: str, http: httpx.AsyncClient, customers: list[dict[str, Any]]
) -> None:
    async with app_with_timeout(database_url, TIMEOUT_MS) as base_url:
        impatient = Workspace(ws.name, ws.keys, base_url, http)

        # when a predicate needs seconds of regex work
        started = time.perf_counter()
        result = await preview(impatient, cond("properties.plan", "MATCHES", SLOW_PATTERN))
        elapsed = time.perf_counter() - started

        # then it is refused as data, cut off near the timeout rather than run to the end
        assert [(e["code"], e["field"]) for e in result.errors] == [
            ("QUERY_TIMEOUT", ["predicate"])
        ]
        assert f"{TIMEOUT_MS} ms" in result.errors[0]["message"]
        assert result.ids is None
        assert elapsed < 3, elapsed

        # when only the count of such customers is asked for (no page is read first)
        counted = await impatient.gql(
            COUNTED, {"where": cond("properties.plan", "MATCHES", SLOW_PATTERN)}
        )

        # then the count is refused with its code at its own path, not masked as a fault
        assert [(e["path"], e["extensions"]["code"]) for e in counted.errors] == [
            (["customers", "totalCount"], "QUERY_TIMEOUT")
        ]
        assert f"{TIMEOUT_MS} ms" in counted.errors[0]["message"]

        # and the same service still answers, with the right members
        everyone = {c["id"] for c in customers}
        assert await preview_ids(impatient, cond("properties.plan", "MATCHES", "(ab)+")) == everyone
        assert await preview_ids(impatient, cond("properties.plan", "EQ", "ab")) == set()
