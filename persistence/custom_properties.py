"""Declared custom properties of a workspace, and their typed expression indexes."""

from __future__ import annotations

import hashlib

from sqlalchemy import select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from domain.custom_property import CustomPropertyDef, PropertyType
from persistence.definitions import bump_definitions_version
from persistence.tables import CustomProperty

table = CustomProperty.__table__  # type: ignore[attr-defined]


def index_name(workspace_pk: int, key: str) -> str:
    """A name unique per workspace and key within PostgreSQL's 63 characters."""
    name = f"customer_prop_{workspace_pk}_{key}"
    if len(name) <= 63:
        return name
    digest = hashlib.sha256(key.encode()).hexdigest()[:10]
    return f"{name[:52]}_{digest}"


class CustomPropertyRepository:
    def __init__(self, conn: AsyncConnection, workspace_pk: int) -> None:
        self.conn = conn
        self.workspace_pk = workspace_pk

    async def all(self) -> dict[str, CustomPropertyDef]:
        rows = await self.conn.execute(
            select(table).where(table.c.workspace_pk == self.workspace_pk).order_by(table.c.key)
        )
        return {
            r.key: CustomPropertyDef(
                key=r.key,
                type=PropertyType(r.type),
                allowed_values=tuple(r.allowed_values) if r.allowed_values else None,
                indexed=r.indexed,
                description=r.description,
            )
            for r in rows
        }

    async def get(self, key: str) -> CustomPropertyDef | None:
        return (await self.all()).get(key)

    async def save(self, definition: CustomPropertyDef) -> None:
        values = {
            "workspace_pk": self.workspace_pk,
            "key": definition.key,
            "type": definition.type.value,
            "allowed_values": list(definition.allowed_values)
            if definition.allowed_values
            else None,
            "indexed": definition.indexed,
            "description": definition.description,
        }
        stmt = insert(table).values(values)
        await self.conn.execute(
            stmt.on_conflict_do_update(
                index_elements=["workspace_pk", "key"],
                set_={k: stmt.excluded[k] for k in ("allowed_values", "indexed", "description")},
            )
        )
        if definition.indexed:
            await self._create_index(definition)
        await bump_definitions_version(self.conn, self.workspace_pk)

    async def _create_index(self, definition: CustomPropertyDef) -> None:
        expr = property_index_sql(definition)
        name = index_name(self.workspace_pk, definition.key)
        await self.conn.execute(
            text(
                f"CREATE INDEX IF NOT EXISTS {name} ON customer ((({expr}))) "
                f"WHERE workspace_pk = {int(self.workspace_pk)}"
            )
        )


def property_index_sql(definition: CustomPropertyDef) -> str:
    """The typed expression a predicate on this property compiles to (see compiler)."""
    key = definition.key
    if definition.type is PropertyType.NUMBER:
        return (
            f"CASE WHEN jsonb_typeof(properties -> '{key}') = 'number' "
            f"THEN (properties ->> '{key}')::numeric END"
        )
    if definition.type is PropertyType.BOOLEAN:
        return (
            f"CASE WHEN jsonb_typeof(properties -> '{key}') = 'boolean' "
            f"THEN (properties ->> '{key}')::boolean END"
        )
    return f"properties ->> '{key}'"
