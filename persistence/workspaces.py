"""Workspaces and their API keys. Keys are random, shown once, stored as SHA-256."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from domain.access import Role
from persistence.definitions import version_of
from persistence.driver import Compiled
from persistence.tables import ApiKey, Workspace

workspace_table = Workspace.__table__  # type: ignore[attr-defined]
key_table = ApiKey.__table__  # type: ignore[attr-defined]

KEY_PREFIX = "sq_"


def hash_key(key: str) -> str:
    # Keys carry 256 bits of randomness, so a fast hash is enough: nothing to brute-force.
    return hashlib.sha256(key.encode()).hexdigest()


@dataclass(frozen=True)
class Caller:
    """Who is calling: the workspace a key belongs to, and what it may do."""

    workspace_pk: int
    workspace_name: str
    role: Role
    definitions_version: int | None = None
    """The workspace's definitions version when the key was checked (None: not read)."""
    key_pk: int | None = None
    """The API key's own id (its cost bucket); None for callers without a key (the CLI)."""
    last_used_at: datetime | None = None


@dataclass(frozen=True)
class KeyInfo:
    """An API key as an admin sees it: never the key itself, only its first characters."""

    id: str
    name: str | None
    role: Role
    prefix: str
    created_at: datetime
    last_used_at: datetime | None
    expires_at: datetime | None
    revoked_at: datetime | None


def key_id(pk: int) -> str:
    return f"key_{pk}"


KEY_PK_DIGITS = 18
"""A key's pk is a bigint: more digits than this name no key (and would overflow it)."""


def key_pk(value: str) -> int | None:
    """The pk a key id names (`key_42`), or None for anything else: ASCII digits only
    (`str.isdigit` also takes superscripts like `²`, which `int` refuses)."""
    digits = value.removeprefix("key_")
    well_formed = digits.isascii() and digits.isdigit() and len(digits) <= KEY_PK_DIGITS
    return int(digits) if value.startswith("key_") and well_formed else None


def _key_info(row: Any) -> KeyInfo:
    m = row._mapping
    return KeyInfo(
        key_id(m["pk"]),
        m["label"],
        Role(m["role"]),
        m["prefix"],
        m["created_at"],
        m["last_used_at"],
        m["expires_at"],
        m["revoked_at"],
    )


_AUTHENTICATE = (  # built once: every request runs it
    select(
        workspace_table.c.pk,
        workspace_table.c.name,
        key_table.c.role,
        version_of(workspace_table.c.pk).label("definitions_version"),
        key_table.c.pk.label("key_pk"),
        key_table.c.last_used_at,
    )
    .join(key_table, key_table.c.workspace_pk == workspace_table.c.pk)
    .where(
        key_table.c.key_hash == bindparam("key_hash"),
        key_table.c.revoked_at.is_(None),
        or_(key_table.c.expires_at.is_(None), key_table.c.expires_at > func.now()),
    )
)
# The same as the driver gets it: every request runs it, and through the driver's own
# connection it costs a fraction of SQLAlchemy's execution path.
_AUTHENTICATION = Compiled.of(_AUTHENTICATE, key_hash="")


_KEY_COLUMNS = (
    key_table.c.pk,
    key_table.c.label,
    key_table.c.role,
    key_table.c.prefix,
    key_table.c.created_at,
    key_table.c.last_used_at,
    key_table.c.expires_at,
    key_table.c.revoked_at,
)


class WorkspaceRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def ensure(self, name: str) -> tuple[int, bool]:
        """The workspace's pk, creating it if needed; the flag says it was just created."""
        created = await self.conn.execute(
            insert(workspace_table)
            .values(name=name)
            .on_conflict_do_nothing(index_elements=["name"])
            .returning(workspace_table.c.pk)
        )
        pk = created.scalar_one_or_none()
        if pk is not None:
            return int(pk), True
        found = await self.conn.execute(
            select(workspace_table.c.pk).where(workspace_table.c.name == name)
        )
        return int(found.scalar_one()), False

    async def find(self, name: str) -> int | None:
        found = await self.conn.execute(
            select(workspace_table.c.pk).where(workspace_table.c.name == name)
        )
        pk = found.scalar_one_or_none()
        return int(pk) if pk is not None else None

    async def names(self, limit: int = 2) -> list[str]:
        """Some workspace names, in name order (to tell "just one" from "several")."""
        found = await self.conn.execute(
            select(workspace_table.c.name).order_by(workspace_table.c.name).limit(limit)
        )
        return [row.name for row in found]

    async def create_key(
        self,
        workspace_pk: int,
        role: Role,
        label: str | None = None,
        expires_at: datetime | None = None,
    ) -> str:
        key, _ = await self.create_key_info(workspace_pk, role, label, expires_at)
        return key

    async def create_key_info(
        self,
        workspace_pk: int,
        role: Role,
        label: str | None = None,
        expires_at: datetime | None = None,
    ) -> tuple[str, KeyInfo]:
        key = KEY_PREFIX + secrets.token_urlsafe(32)
        row = await self.conn.execute(
            key_table.insert()
            .values(
                workspace_pk=workspace_pk,
                role=role.value,
                key_hash=hash_key(key),
                prefix=key[:10],
                label=label,
                expires_at=expires_at,
            )
            .returning(*_KEY_COLUMNS)
        )
        return key, _key_info(row.one())

    async def keys(self, workspace_pk: int) -> list[KeyInfo]:
        """The workspace's keys, revoked ones too, oldest first."""
        rows = await self.conn.execute(
            select(*_KEY_COLUMNS)
            .where(key_table.c.workspace_pk == workspace_pk)
            .order_by(key_table.c.pk)
        )
        return [_key_info(r) for r in rows]

    async def key(self, workspace_pk: int, pk: int) -> KeyInfo | None:
        """One of the workspace's keys, revoked or not; None: no such key here."""
        row = await self.conn.execute(
            select(*_KEY_COLUMNS).where(
                key_table.c.workspace_pk == workspace_pk, key_table.c.pk == pk
            )
        )
        found = row.first()
        return None if found is None else _key_info(found)

    async def revoke_key(self, workspace_pk: int, pk: int) -> KeyInfo | None:
        """Revoked from now on (a key revoked before keeps its time); None: no such key."""
        row = await self.conn.execute(
            update(key_table)
            .where(key_table.c.workspace_pk == workspace_pk, key_table.c.pk == pk)
            .values(revoked_at=func.coalesce(key_table.c.revoked_at, func.now()))
            .returning(*_KEY_COLUMNS)
        )
        found = row.first()
        return None if found is None else _key_info(found)

    async def mark_used(self, pk: int) -> None:
        await self.conn.execute(
            update(key_table).where(key_table.c.pk == pk).values(last_used_at=func.now())
        )

    async def authenticate(self, key: str) -> Caller | None:
        row = await _AUTHENTICATION.fetchrow(self.conn, key_hash=hash_key(key))
        if row is None:
            return None
        return Caller(
            int(row["pk"]),
            row["name"],
            Role(row["role"]),
            int(row["definitions_version"]),
            int(row["key_pk"]),
            row["last_used_at"],
        )
