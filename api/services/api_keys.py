"""API keys managed through the API and the CLI: create (shown once), list, revoke."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from api.runtime import Runtime
from domain.access import Role
from domain.errors import DomainError, ErrorCode
from persistence.unit_of_work import UnitOfWork
from persistence.workspaces import KeyInfo, key_pk

MAX_NAME_LENGTH = 200


@dataclass(frozen=True)
class CreatedKey:
    info: KeyInfo
    key: str


def _check(name: str | None, expires_at: datetime | None, now: datetime) -> None:
    if name is not None and len(name) > MAX_NAME_LENGTH:
        raise DomainError(ErrorCode.TOO_LONG, f"At most {MAX_NAME_LENGTH} characters.", ["name"])
    if expires_at is not None:
        if expires_at.tzinfo is None:
            raise DomainError(ErrorCode.INVALID_DATETIME, "Give a time zone.", ["expiresAt"])
        if expires_at <= now:
            raise DomainError(ErrorCode.INVALID, "expiresAt must be in the future.", ["expiresAt"])


async def create_key(
    runtime: Runtime,
    workspace_pk: int,
    role: Role,
    name: str | None,
    expires_at: datetime | None,
) -> CreatedKey:
    _check(name, expires_at, runtime.clock())
    async with UnitOfWork(runtime.engine, workspace_pk) as uow:
        key, info = await uow.workspaces.create_key_info(workspace_pk, role, name, expires_at)
        await uow.commit()
    return CreatedKey(info, key)


async def list_keys(runtime: Runtime, workspace_pk: int) -> list[KeyInfo]:
    async with UnitOfWork(runtime.reader, workspace_pk) as uow:
        return await uow.workspaces.keys(workspace_pk)


async def revoke_key(runtime: Runtime, workspace_pk: int, key_id: str) -> KeyInfo:
    """Refused from the next request on, by every process (keys are not cached)."""
    pk = key_pk(key_id)
    async with UnitOfWork(runtime.engine, workspace_pk) as uow:
        info = None if pk is None else await uow.workspaces.revoke_key(workspace_pk, pk)
        if info is None:
            raise DomainError(ErrorCode.NOT_FOUND, f"There is no API key {key_id!r}.", ["id"])
        await uow.commit()
    return info


async def workspace_pk_of(runtime: Runtime, workspace: str) -> int:
    """For the CLI: the named workspace's pk."""
    async with UnitOfWork(runtime.reader, 0) as uow:
        pk = await uow.workspaces.find(workspace)
    if pk is None:
        raise DomainError(ErrorCode.NOT_FOUND, f"There is no workspace {workspace!r}.")
    return pk
