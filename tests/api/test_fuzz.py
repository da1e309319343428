"""schemathesis fuzzes the running service: every GraphQL operation, then the plain-HTTP routes.

A real `segmentql serve` on the session's throwaway database, an ADMIN key of a
fresh workspace, and the schemathesis command with the project's hooks
(tests/fuzz/hooks.py: strategies for the JSON and DateTime scalars, and the
`no_server_fault` check). It fails on any HTTP 5xx or INTERNAL_SERVER_ERROR.

Time budget: SEGMENTQL_FUZZ_SECONDS for the GraphQL run (default 60) and a
third of it for the routes; `SEGMENTQL_FUZZ_SECONDS=300 uv run pytest
tests/api/test_fuzz.py -s` is the long run.
"""

from __future__ import annotations

import asyncio
import os
import re
import sys
from pathlib import Path

from api.runtime import Runtime
from api.services.bootstrap import create_key
from domain.access import Role
from tests.cli import ROOT, serve_process

ROUTES = ROOT / "tests" / "fuzz" / "routes.json"


def _seconds() -> int:
    return int(os.environ.get("SEGMENTQL_FUZZ_SECONDS", "60"))


async def schemathesis(location: str, key: str, seconds: int, *extra: str) -> tuple[int, str]:
    st = Path(sys.executable).parent / "st"
    env = {**os.environ, "SCHEMATHESIS_HOOKS": "tests.fuzz.hooks"}
    process = await asyncio.create_subprocess_exec(
        str(st), "run", location, "-H", f"Authorization: Bearer {key}",
        "--max-time", str(seconds), "--checks", "no_server_fault", "--workers", "1",
        "--request-timeout", "30", "--no-color", *extra,
        cwd=ROOT, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    out, _ = await asyncio.wait_for(process.communicate(), timeout=seconds + 120)
    assert process.returncode is not None
    return process.returncode, out.decode()


def _generated(report: str) -> int:
    found = re.search(r"(\d+) generated", report)
    return int(found.group(1)) if found else 0


async def test_fuzzing_every_operation_finds_no_server_fault(
    runtime: Runtime, database_url: str, tmp_path: Path
) -> None:
    key = await create_key(runtime, "fuzzing", Role.ADMIN, "schemathesis")
    async with serve_process(database_url, tmp_path / "serve.log") as (url, _):
        graphql_code, graphql = await schemathesis(f"{url}/graphql", key, _seconds())
        routes_code, routes = await schemathesis(
            str(ROUTES), key, max(_seconds() // 3, 5), "--url", url
        )
    print(graphql[-1500:], routes[-1500:], sep="\n")
    assert graphql_code == 0, graphql[-6000:]
    assert routes_code == 0, routes[-6000:]
    assert _generated(graphql) > 100 and _generated(routes) > 10
