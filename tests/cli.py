"""Running the `segmentql` command as a user would: a child process on the test database."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent


def segmentql() -> list[str]:
    script = Path(sys.executable).parent / "segmentql"
    return [str(script)] if script.exists() else [sys.executable, "-m", "api.cli"]


async def run_cli(
    database_url: str, *args: str, stdin: bytes | None = None
) -> tuple[int, str, str]:
    """Exit code, stdout and stderr of `segmentql ARGS` against `database_url`."""
    env = {**os.environ, "DATABASE_URL": database_url}
    env.pop("TEST_DATABASE_URL", None)
    process = await asyncio.create_subprocess_exec(
        *segmentql(),
        *args,
        env=env,
        stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(stdin), timeout=60)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


STARTUP_TIMEOUT_S = 60.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextlib.asynccontextmanager
async def serve_process(
    database_url: str | None, log: Path, workers: int = 1, **settings: str
) -> AsyncIterator[tuple[str, asyncio.subprocess.Process]]:
    """`segmentql serve` in its own process on a free port; yields its URL and the process
    (a test may kill it). Stopped with SIGTERM at the end if still running. With
    `workers`, `--workers N` (the process is uvicorn's parent). With no `database_url`,
    the service's embedded PostgreSQL (in SEGMENTQL_DATA_DIR, if given)."""
    port = free_port()
    env = {**os.environ, "SEGMENTQL_BACKGROUND_JOBS": "0"}
    env.pop("DATABASE_URL", None)
    if database_url is not None:
        env["DATABASE_URL"] = database_url
    env.update(settings)
    env.pop("TEST_DATABASE_URL", None)
    with log.open("wb") as out:
        process = await asyncio.create_subprocess_exec(
            *segmentql(), "serve", "--port", str(port), "--log-level", "warning",
            "--workers", str(workers), cwd=ROOT, env=env, stdout=out, stderr=out,
        )  # fmt: skip
    base_url = f"http://127.0.0.1:{port}"
    try:
        await _wait_ready(base_url, process, log)
        yield base_url, process
    finally:
        if process.returncode is None:
            process.terminate()
            try:
                await asyncio.wait_for(process.wait(), 45)
            except TimeoutError:
                process.kill()
                await process.wait()


async def _wait_ready(base_url: str, process: asyncio.subprocess.Process, log: Path) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + STARTUP_TIMEOUT_S
    async with httpx.AsyncClient(timeout=2) as client:
        while True:
            if process.returncode is not None:
                raise AssertionError(f"server exited early:\n{log.read_text()[-3000:]}")
            try:
                if (await client.get(f"{base_url}/readyz")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if loop.time() > deadline:
                raise AssertionError(f"server never became ready:\n{log.read_text()[-3000:]}")
            await asyncio.sleep(0.1)
