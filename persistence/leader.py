"""The background leader's lock: a session advisory lock on a connection of its own.

Of the processes sharing a database, the one holding this lock runs the jobs
that must run once (stats refresher, sweeper, snapshots, retention). The lock
lives as long as the connection: when the holder dies, even by SIGKILL, its
server backend sees the socket close and releases it, and the next process to
try takes it. The connection is asyncpg's own, not the pool's, so the lock
can never be handed to a request with a pooled connection.
"""

from __future__ import annotations

import zlib

import asyncpg

LEADER_LOCK = zlib.crc32(b"segmentql-background-leader")
"""The advisory-lock key (advisory locks are per database: one leader per database)."""

PING_TIMEOUT_S = 5.0


class LeaderLock:
    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self.conn: asyncpg.Connection | None = None

    async def try_acquire(self) -> bool:
        """Take the lock if free; False when another process holds it."""
        if self.conn is None or self.conn.is_closed():
            self.conn = await asyncpg.connect(
                self.dsn, server_settings={"application_name": "segmentql-leader"}
            )
        return bool(await self.conn.fetchval("SELECT pg_try_advisory_lock($1)", LEADER_LOCK))

    async def still_held(self) -> bool:
        """False once the connection (and so the lock) is gone."""
        if self.conn is None or self.conn.is_closed():
            return False
        try:
            await self.conn.fetchval("SELECT 1", timeout=PING_TIMEOUT_S)
        except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError):
            return False
        return True

    async def release(self) -> None:
        """Close the connection: the lock goes with it."""
        conn, self.conn = self.conn, None
        if conn is not None and not conn.is_closed():
            try:
                await conn.close(timeout=PING_TIMEOUT_S)
            except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError):
                conn.terminate()
