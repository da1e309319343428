"""API keys on HTTP and WebSocket: `Authorization: Bearer <key>`."""

from __future__ import annotations

from datetime import timedelta

from api.runtime import Runtime
from persistence.workspaces import Caller, WorkspaceRepository

LAST_USED_RESOLUTION = timedelta(minutes=1)
"""`lastUsedAt` is written at most this often a key: not one write for every request."""


async def authenticate(runtime: Runtime, header: object) -> Caller | None:
    """The key's caller, looked up on every request (uncached), so a revoked or expired
    key is refused at once by every process."""
    if not isinstance(header, str):
        return None
    scheme, _, key = header.strip().partition(" ")
    key = key.strip()
    if scheme.lower() != "bearer" or not key or len(key) > 200:
        return None
    async with runtime.reader.connect() as conn:
        keys = WorkspaceRepository(conn)
        caller = await keys.authenticate(key)
        if caller is not None and caller.key_pk is not None:
            seen = caller.last_used_at
            if seen is None or runtime.clock() - seen >= LAST_USED_RESOLUTION:
                await keys.mark_used(caller.key_pk)
        return caller
