"""Streaming a segment's (or an instance's) members, chosen fields only, from a server cursor."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Sequence
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, case, exists, select
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.fields import CUSTOM_PROPERTY_PREFIX, FieldCatalog
from persistence.compiler import typed_json
from persistence.field_map import customer_table, snake
from persistence.tables import SegmentInstanceMember

c = customer_table
child = customer_table.alias("export_child")
instance_members = SegmentInstanceMember.__table__  # type: ignore[attr-defined]
STREAM_BATCH = 2000
STALLED_CLIENT_MS = 300_000


def field_column(path: str, catalog: FieldCatalog) -> ColumnElement[Any]:
    """The SQL value of a customer field path (validated against `catalog` by the caller)."""
    if path == "hasParent":
        return c.c.parent_id.is_not(None)
    if path == "hasChild":
        return exists().where(child.c.workspace_pk == c.c.workspace_pk, child.c.parent_id == c.c.id)
    if path.startswith(CUSTOM_PROPERTY_PREFIX):
        key = path[len(CUSTOM_PROPERTY_PREFIX) :]
        descriptor = catalog.customer_field(path)
        assert descriptor is not None and descriptor.type is not None
        return typed_json(c.c.properties, key, descriptor.type)
    return c.c[snake(path)]


def members_query(
    workspace_pk: int, condition: ColumnElement[bool], fields: Sequence[str], catalog: FieldCatalog
) -> Select[Any]:
    columns = [field_column(f, catalog).label(f"f{i}") for i, f in enumerate(fields)]
    return select(*columns).where(c.c.workspace_pk == workspace_pk, condition).order_by(c.c.id)


def instance_query(
    workspace_pk: int, instance_pk: int, fields: Sequence[str], catalog: FieldCatalog
) -> Select[Any]:
    """Members as snapshotted; other fields as they are now (empty once a customer is deleted)."""
    m = instance_members
    columns = []
    for i, f in enumerate(fields):
        if f == "id":
            columns.append(m.c.customer_id.label(f"f{i}"))
        elif f == "email":
            columns.append(m.c.email.label(f"f{i}"))
        else:  # hasParent and hasChild would read false, not empty, for a deleted customer
            present = c.c.pk.is_not(None)
            columns.append(case((present, field_column(f, catalog))).label(f"f{i}"))
    joined = m.outerjoin(c, and_(c.c.pk == m.c.customer_pk, c.c.workspace_pk == workspace_pk))
    return (
        select(*columns)
        .select_from(joined)
        .where(m.c.workspace_pk == workspace_pk, m.c.instance_pk == instance_pk)
        .order_by(m.c.customer_id)
    )


async def stream_rows(
    engine: AsyncEngine, query: Select[Any], timeout_ms: int
) -> AsyncGenerator[Sequence[Any], None]:
    """Rows a batch at a time from a server-side cursor; memory stays flat whatever the size.

    A client that stops reading leaves the transaction idle between fetches;
    after STALLED_CLIENT_MS the server ends it rather than hold its snapshot.
    """
    async with engine.connect() as conn:
        await conn.exec_driver_sql(f"SET LOCAL statement_timeout = {int(timeout_ms)}")
        await conn.exec_driver_sql(
            f"SET LOCAL idle_in_transaction_session_timeout = {STALLED_CLIENT_MS}"
        )
        result = await conn.stream(query.execution_options(yield_per=STREAM_BATCH))
        async for partition in result.partitions(STREAM_BATCH):
            yield partition
