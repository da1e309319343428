"""The version of a workspace's definitions: its segments and custom property declarations.

Every transaction that changes a definition bumps the version before it commits,
so whoever read version N and then loaded the definitions holds definitions at
least as new as N: a process may cache what it compiles from them under N and
reuse it while the version it reads (with the caller's key, at no extra round
trip) is still N.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, ColumnElement, func, literal, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from persistence.tables import WorkspaceDefinitions

table = WorkspaceDefinitions.__table__  # type: ignore[attr-defined]


def version_of(workspace_pk: ColumnElement[int] | int) -> ColumnElement[int]:
    """The version as a scalar subquery (0 before the first change)."""
    if isinstance(workspace_pk, int):
        workspace_pk = literal(workspace_pk, BigInteger)
    found = select(table.c.version).where(table.c.workspace_pk == workspace_pk)
    return func.coalesce(found.scalar_subquery(), 0)


async def definitions_version(conn: AsyncConnection, workspace_pk: int) -> int:
    return int((await conn.execute(select(version_of(workspace_pk)))).scalar_one())


async def bump_definitions_version(conn: AsyncConnection, workspace_pk: int) -> None:
    """Take the next version. Call it last in the transaction: it locks the version row
    until commit, and nothing may be waited for while holding it."""
    stmt = insert(table).values(workspace_pk=workspace_pk, version=1)
    await conn.execute(
        stmt.on_conflict_do_update(
            index_elements=["workspace_pk"], set_={"version": table.c.version + 1}
        )
    )
