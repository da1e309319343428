"""API keys on HTTP and WebSocket: `Authorization: Bearer <key>`."""

from __future__ import annotations

from api.runtime import Runtime
from persistence.workspaces import Caller, WorkspaceRepository


async def authenticate(runtime: Runtime, header: object) -> Caller | None:
    if not isinstance(header, str):
        return None
    scheme, _, key = header.strip().partition(" ")
    key = key.strip()
    if scheme.lower() != "bearer" or not key or len(key) > 200:
        return None
    async with runtime.reader.connect() as conn:
        return await WorkspaceRepository(conn).authenticate(key)
