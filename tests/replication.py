"""A real primary and streaming replica, started from the machine's PostgreSQL binaries.

The test server may not allow replication connections (and copying it would
copy every other test's database), so a small primary of our own is made with
initdb, a replica is copied from it with `pg_basebackup -R` and both run on
free loopback ports until the tests are done. Run as root, the binaries run as
the `postgres` user (PostgreSQL refuses root).
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.cli import free_port

NEEDED = ("initdb", "pg_ctl", "pg_basebackup")


def postgres_bin() -> Path | None:
    """A directory holding initdb, pg_ctl and pg_basebackup: SEGMENTQL_PG_BIN, else the
    newest /usr/lib/postgresql/*/bin (Debian's), else one on PATH."""
    configured = os.environ.get("SEGMENTQL_PG_BIN")
    candidates = [Path(configured)] if configured else []
    debian = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=_major, reverse=True)
    candidates += [Path(d) for d in debian]
    candidates += [Path(p).resolve().parent for b in NEEDED if (p := shutil.which(b))]
    return next((d for d in candidates if all((d / b).exists() for b in NEEDED)), None)


def _major(path: str) -> int:
    version = Path(path).parent.name
    return int(version) if version.isdigit() else 0


def require_postgres_bin() -> Path:
    """The binaries, or a skip with the reason; on CI (CI set) their absence fails."""
    found = postgres_bin()
    if found is not None:
        return found
    reason = "no PostgreSQL server binaries (initdb, pg_ctl, pg_basebackup) on this machine"
    if os.environ.get("CI"):
        pytest.fail(f"{reason}; CI must have them")
    print(f"skipped: {reason}")
    pytest.skip(reason)


@dataclass
class Server:
    data: Path
    port: int
    bin: Path
    log: Path

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def url_of(self, database: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def start(self) -> None:
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories='' "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        )
        _run(self.bin / "pg_ctl", "-D", self.data, "-l", self.log, "-o", options, "-w", "start")

    def stop(self, mode: str = "fast") -> None:
        _run(self.bin / "pg_ctl", "-D", self.data, "-m", mode, "-w", "stop", check=False)


def _as_postgres() -> list[str]:
    return ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []


def _run(*args: object, check: bool = True) -> None:
    command = [*_as_postgres(), *map(str, args)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    if check and done.returncode != 0:
        raise AssertionError(f"{' '.join(command)} failed:\n{done.stdout}\n{done.stderr}")


@contextlib.contextmanager
def streaming_pair() -> Iterator[tuple[Server, Server]]:
    """(primary, replica), both running; stopped and removed afterwards."""
    bin_dir = require_postgres_bin()
    root = Path(tempfile.mkdtemp(prefix="segmentql-replication-"))
    if os.geteuid() == 0:
        account = pwd.getpwnam("postgres")
        os.chown(root, account.pw_uid, account.pw_gid)
    primary = Server(root / "primary", free_port(), bin_dir, root / "primary.log")
    replica = Server(root / "replica", free_port(), bin_dir, root / "replica.log")
    try:
        _run(bin_dir / "initdb", "-D", primary.data, "-U", "postgres", "--auth=trust",
             "-E", "UTF8", "--no-sync")  # fmt: skip
        primary.start()
        _run(bin_dir / "pg_basebackup", "-h", "127.0.0.1", "-p", primary.port, "-U", "postgres",
             "-D", replica.data, "-R", "-X", "stream", "--checkpoint=fast")  # fmt: skip
        replica.start()
        yield primary, replica
    finally:
        replica.stop("immediate")
        primary.stop("immediate")
        shutil.rmtree(root, ignore_errors=True)
