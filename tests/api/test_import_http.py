"""POST /import/customers: an NDJSON (or gzip) body becomes a job that importJob shows."""

from __future__ import annotations

import asyncio
import gzip
import json
import signal
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from sqlalchemy import text

from api.runtime import Runtime
from api.services.import_jobs import fail_abandoned_jobs, spool_of
from domain.access import Role
from domain.import_job import ImportReport, JobState
from persistence.import_jobs import ImportJobRepository
from tests.api.documents import CUSTOMER
from tests.cli import serve_process
from tests.conftest import Workspace

IMPORT_JOB = """
query Job($id: ID!) {
  importJob(id: $id) {
    id state mode strict linesRead customersWritten customersUnchanged customersDeleted
    linesRejected rejections { line field code message } failure createdAt startedAt finishedAt
  }
}
"""


def ndjson(items: list[dict[str, Any]]) -> bytes:
    return "".join(json.dumps(item) + "\n" for item in items).encode()


async def post(
    ws: Workspace, body: bytes, role: Role = Role.WRITE, base_url: str | None = None, **params: str
) -> httpx.Response:
    return await ws.http.post(
        f"{base_url or ws.base_url}/import/customers",
        content=body,
        params=params,
        headers={
            "Authorization": f"Bearer {ws.keys[role]}",
            "Content-Type": "application/x-ndjson",
        },
    )


async def job(ws: Workspace, job_id: str) -> dict[str, Any]:
    found: dict[str, Any] = (await ws.gql(IMPORT_JOB, {"id": job_id}, Role.READ)).data["importJob"]
    return found


async def finished(ws: Workspace, job_id: str, timeout: float = 60) -> dict[str, Any]:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        found = await job(ws, job_id)
        if found["state"] in ("SUCCEEDED", "FAILED"):
            return found
        assert asyncio.get_running_loop().time() < deadline, found
        await asyncio.sleep(0.1)


async def test_a_gzip_body_is_imported_as_a_job_with_its_rejections(workspace: Workspace) -> None:
    # given a gzip NDJSON body whose line 2 is refused
    body = gzip.compress(
        ndjson(
            [
                {"id": "ada", "country": "DE", "orders": [{"id": "o1", "amount": 5}]},
                {"id": "bad", "country": "XX"},
                {"id": "bob", "email": "bob@example.com"},
            ]
        )
    )

    # when it is posted with a WRITE key
    response = await post(workspace, body)

    # then the job is queued at once, and ends SUCCEEDED with its figures
    assert response.status_code == 202, response.text
    job_id = response.json()["id"]
    assert job_id.startswith("imp_") and response.json()["state"] == "QUEUED"
    done = await finished(workspace, job_id)
    assert done["state"] == "SUCCEEDED" and done["failure"] is None
    assert (done["linesRead"], done["customersWritten"], done["linesRejected"]) == (3, 2, 1)
    assert done["rejections"] == [
        {
            "line": 2,
            "field": ["country"],
            "code": "INVALID_COUNTRY",
            "message": "'XX' is not an ISO 3166-1 alpha-2 country code.",
        }
    ]
    assert done["startedAt"] is not None and done["finishedAt"] is not None
    ada = (await workspace.gql(CUSTOMER, {"id": "ada"})).data["customer"]
    assert ada["ordersCount"] == 1


async def test_strict_over_http_fails_the_job_and_writes_nothing(workspace: Workspace) -> None:
    body = ndjson([{"id": "fine", "country": "FR"}, {"id": "bad", "country": "XX"}])

    response = await post(workspace, body, strict="true")

    done = await finished(workspace, response.json()["id"])
    assert done["state"] == "FAILED" and "nothing was written" in done["failure"]
    assert (await workspace.gql(CUSTOMER, {"id": "fine"})).data["customer"] is None


async def test_keys_and_parameters_are_checked_before_anything_is_stored(
    workspace: Workspace, other_workspace: Workspace
) -> None:
    body = ndjson([{"id": "nobody", "country": "FR"}])
    read_only = await post(workspace, body, role=Role.READ)
    no_key = await workspace.http.post(f"{workspace.base_url}/import/customers", content=body)
    bad_mode = await post(workspace, body, mode="merge")
    bad_flag = await post(workspace, body, strict="maybe")
    bad_share = await post(workspace, body, maxDelete="250")
    unknown = await post(workspace, body, colour="red")

    assert (read_only.status_code, no_key.status_code) == (403, 401)
    assert [r.status_code for r in (bad_mode, bad_flag, bad_share, unknown)] == [400] * 4
    assert "upsert or replace" in bad_mode.text and "colour" in unknown.text
    assert (await workspace.gql(CUSTOMER, {"id": "nobody"})).data["customer"] is None


async def test_a_job_of_another_workspace_or_unknown_id_is_null(
    workspace: Workspace, other_workspace: Workspace
) -> None:
    response = await post(workspace, ndjson([{"id": "ada"}]))
    job_id = response.json()["id"]
    await finished(workspace, job_id)

    assert await job(other_workspace, job_id) is None
    assert await job(workspace, "imp_nope") is None


async def test_a_server_killed_mid_job_leaves_the_job_failed_with_the_reason(
    workspace: Workspace, database_url: str, tmp_path: Path
) -> None:
    # given a job large enough to be running for a while, on a server of its own
    body = ndjson([{"id": f"k{i:06d}", "country": "FR"} for i in range(60_000)])
    async with serve_process(database_url, tmp_path / "serve.log") as (url, process):
        response = await post(workspace, body, base_url=url)
        assert response.status_code == 202, response.text
        job_id = response.json()["id"]
        while (await job(workspace, job_id))["linesRead"] == 0:
            await asyncio.sleep(0.05)

        # when the server is killed in the middle of it
        process.send_signal(signal.SIGKILL)
        await process.wait()

    # then the job is reported FAILED as interrupted, with how far it got
    done = await job(workspace, job_id)
    assert done["state"] == "FAILED", done
    assert done["failure"].startswith("interrupted") and "send the file again" in done["failure"]
    assert 0 < done["linesRead"] < 60_000
    assert not spool_of(job_id).parent.exists()  # what the dead server spooled is gone


async def test_a_finished_job_releases_its_lock_and_start_up_fails_orphans(
    runtime: Runtime, workspace: Workspace, database_url: str
) -> None:
    # given a job that ran to the end
    response = await post(workspace, ndjson([{"id": "lock-check"}]))
    job_id = response.json()["id"]
    await finished(workspace, job_id)

    # then no session holds its lock any more (asked from a session of our own: a pooled
    # one might be the very session that took it)
    probe = await asyncpg.connect(database_url)
    try:
        taken = await probe.fetchval(
            "SELECT pg_try_advisory_lock(hashtextextended('import_job:' || $1, 0))", job_id
        )
    finally:
        await probe.close()
    assert taken is True

    # given a job row some dead server left RUNNING
    async with runtime.engine.begin() as conn:
        workspace_pk = await conn.scalar(
            text("SELECT pk FROM workspace WHERE name = :name"), {"name": workspace.name}
        )
        await ImportJobRepository(conn, workspace_pk).create("imp_orphan", {"mode": "upsert"})
        await ImportJobRepository(conn, workspace_pk).save(
            "imp_orphan", JobState.RUNNING, ImportReport(lines=7), runtime.clock()
        )

    # when a server starts
    failed = await fail_abandoned_jobs(runtime)

    # then the job is FAILED with the reason
    orphan = await job(workspace, "imp_orphan")
    assert failed >= 1
    assert orphan["state"] == "FAILED" and orphan["failure"].startswith("interrupted")
