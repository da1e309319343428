"""What a replace-mode import remembers: the customer ids its file holds.

They go to a temporary table of one connection held for the whole import, so
ten million ids cost the database a table, not the process its memory; the
customers absent from it are then found by an anti-join on the primary key.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

ABSENT = """
    FROM customer c
    WHERE c.workspace_pk = :workspace AND c.updated_at < :started
      AND NOT EXISTS (SELECT 1 FROM import_seen s WHERE s.id = c.id)
"""


class SeenIds:
    """`async with SeenIds(conn, workspace_pk)`: an empty set of ids, dropped on exit."""

    def __init__(self, conn: AsyncConnection, workspace_pk: int) -> None:
        self.conn = conn
        self.workspace_pk = workspace_pk

    async def __aenter__(self) -> SeenIds:
        await self.conn.execute(
            text("CREATE TEMPORARY TABLE import_seen (id text PRIMARY KEY) ON COMMIT PRESERVE ROWS")
        )
        await self.conn.commit()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.conn.rollback()
        await self.conn.execute(text("DROP TABLE IF EXISTS import_seen"))
        await self.conn.commit()

    async def add(self, ids: Sequence[str]) -> None:
        if ids:
            await self.conn.execute(
                text(
                    "INSERT INTO import_seen SELECT unnest(CAST(:ids AS text[])) "
                    "ON CONFLICT DO NOTHING"
                ),
                {"ids": list(ids)},
            )
            await self.conn.commit()

    async def counts(self, started: datetime) -> tuple[int, int]:
        """(customers the workspace holds, those of them absent from the file)."""
        row = (
            await self.conn.execute(
                text(
                    "SELECT (SELECT count(*) FROM customer WHERE workspace_pk = :workspace), "
                    f"(SELECT count(*) {ABSENT})"
                ),
                {"workspace": self.workspace_pk, "started": started},
            )
        ).one()
        await self.conn.commit()
        return int(row[0]), int(row[1])

    async def absent(self, started: datetime, after: str, limit: int) -> list[str]:
        """The next `limit` absent ids after `after`, in id order (keyset)."""
        rows = await self.conn.execute(
            text(f"SELECT c.id {ABSENT} AND c.id > :after ORDER BY c.id LIMIT :limit"),
            {"workspace": self.workspace_pk, "started": started, "after": after, "limit": limit},
        )
        await self.conn.commit()
        return [row.id for row in rows]
