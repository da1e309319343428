"""Running the `segmentql` command as a user would: a child process on the test database."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path


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
