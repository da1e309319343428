"""`segmentql serve` on its embedded PostgreSQL stops that PostgreSQL when it is stopped.

uvicorn ends a SIGTERM'd process by raising the signal again; without the serve
command's handler the process died by it, `atexit` never ran, and the embedded
server outlived the service (every `npm test` of clients/ left one running).
"""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

from tests.cli import serve_process


async def test_sigterm_stops_the_service_and_its_embedded_postgres(tmp_path: Path) -> None:
    # given: the service on an embedded PostgreSQL of its own
    data_dir = tmp_path / "data"
    pid_file = data_dir / "pgdata" / "postmaster.pid"
    async with serve_process(None, tmp_path / "serve.log", SEGMENTQL_DATA_DIR=str(data_dir)) as (
        _,
        process,
    ):
        postmaster = int(pid_file.read_text().split()[0])
        assert alive(postmaster)
        # when: it is stopped as a process manager stops it
        process.send_signal(signal.SIGTERM)
        status = await asyncio.wait_for(process.wait(), 45)
    # then: it exited by its own hand, and its PostgreSQL is gone with it
    assert status == 128 + signal.SIGTERM
    assert not pid_file.exists()
    assert not alive(postmaster)


def alive(pid: int) -> bool:
    """The process exists and has not exited (an exited one no parent reaped is a zombie)."""
    stat = Path(f"/proc/{pid}/stat")
    try:
        state = stat.read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"
