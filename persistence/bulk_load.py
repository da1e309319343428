"""Helpers for loading many rows at once: pk reservation, index drop and rebuild, the
progress sink they report to.

Used by persistence/seed.py; kept apart because they know nothing of what is
loaded, only of the tables it goes to.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Protocol

import asyncpg
from sqlalchemy import Index
from sqlalchemy.engine import Dialect
from sqlalchemy.schema import CreateIndex

from persistence.tables import metadata


async def reserve_pks(conn: asyncpg.Connection, table: str, count: int) -> int:
    """Take `count` consecutive values of `table`'s identity pk; returns the first.

    The table lock waits for the inserts in flight and holds new ones back for
    the two statements, so no other session draws a value inside the range.
    """
    async with conn.transaction():
        await conn.execute(f'LOCK TABLE "{table}" IN SHARE ROW EXCLUSIVE MODE')
        sequence = await conn.fetchval("SELECT pg_get_serial_sequence($1, 'pk')", table)
        first = int(await conn.fetchval("SELECT nextval($1::regclass)", sequence))
        await conn.execute("SELECT setval($1::regclass, $2)", sequence, first + count - 1)
    return first


REPLICATION_ROLE = (
    "SELECT set_config('session_replication_role', {role}, true) "
    "FROM pg_roles WHERE rolname = current_user AND rolsuper"
)
"""session_replication_role for the rest of this transaction where the role may set it (a
superuser): `replica` skips the foreign-key checks, a row at a time, of rows valid by
construction; `origin` brings them back. For other roles nothing happens (no error either).
`{role}` is the driver's parameter marker."""


async def is_superuser(conn: asyncpg.Connection) -> bool:
    """Whether this role may set session_replication_role (load without FK triggers)."""
    return bool(await conn.fetchval("SELECT rolsuper FROM pg_roles WHERE rolname = current_user"))


async def drop_secondary_indexes(
    conn: asyncpg.Connection, tables: Sequence[str], dialect: Dialect
) -> list[str]:
    """Drop the non-unique indexes of `tables`; returns the DDL that rebuilds them.

    An index the models in persistence/tables.py declare is rebuilt from its
    model; any other (the migration's trigram index, custom-property indexes)
    from the definition the database reports. The DDL comes slowest first
    (GIN, then the biggest tables), so builds run in parallel end together.
    """
    found = await conn.fetch(
        "SELECT c.relname AS name, pg_get_indexdef(c.oid) AS ddl, "
        "pg_total_relation_size(x.indrelid) AS size "
        "FROM pg_index x JOIN pg_class c ON c.oid = x.indexrelid "
        "WHERE x.indrelid IN (SELECT to_regclass(t) FROM unnest($1::text[]) AS t) "
        "AND NOT x.indisunique",
        list(tables),
    )
    models: dict[str, Index] = {
        str(index.name): index
        for table in tables
        for index in metadata.tables[table].indexes
        if not index.unique
    }
    found = sorted(found, key=lambda row: (" gin " not in row["ddl"].lower(), -row["size"]))
    ddl = [
        str(CreateIndex(models[row["name"]], if_not_exists=True).compile(dialect=dialect))
        if row["name"] in models
        else row["ddl"].replace("CREATE INDEX ", "CREATE INDEX IF NOT EXISTS ", 1)
        for row in found
    ]
    async with conn.transaction():
        for row in found:
            await conn.execute(f'DROP INDEX IF EXISTS "{row["name"]}"')
    return ddl


async def run_parallel(dsn: str, statements: Sequence[str], connections: int) -> None:
    """Run statements over a few connections, each taking the next one when it is free."""
    pending = list(reversed(statements))

    async def worker() -> None:
        conn = await asyncpg.connect(dsn)
        try:
            await conn.execute("SET maintenance_work_mem = '512MB'; SET statement_timeout = 0")
            while pending:
                await conn.execute(pending.pop())
        finally:
            await conn.close()

    await asyncio.gather(*(worker() for _ in range(max(1, min(connections, len(statements))))))


class ProgressSink(Protocol):
    """What a loader tells the command line's progress display (api/progress.py)."""

    def advance(self, items: int, rows: int = 0) -> None: ...

    def note(self, text: str) -> None: ...

    def describe(self, extra: str) -> None: ...


class NoProgress:
    """A sink that shows nothing (library callers and tests)."""

    def advance(self, items: int, rows: int = 0) -> None:
        pass

    def note(self, text: str) -> None:
        pass

    def describe(self, extra: str) -> None:
        pass
