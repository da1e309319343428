"""Every key of a workspace's tables includes the workspace column, read from the catalog.

So the schema can be distributed by workspace (Citus: `create_distributed_table(t,
'workspace_pk')`) without change: there, a primary key or unique key of a
distributed table must include the distribution column, and a foreign key
between two distributed tables must join it to itself. Tables every workspace
shares (REFERENCE_TABLES) are copied whole to every node instead, and
distributed tables may point at them with any key.
"""

from __future__ import annotations

from sqlalchemy import text

from api.runtime import Runtime

REFERENCE_TABLES = {
    "workspace": "the workspaces themselves; every workspace table points at it",
    "api_key": "looked up by its hash before the workspace is known",
}
LOCAL_TABLES = {"alembic_version": "the schema's revision, kept on the coordinator only"}
WORKSPACE_COLUMN = "workspace_pk"


KEYS = text(
    """
    SELECT rel.relname AS table_name,
           con.conname AS key_name,
           con.contype AS kind,
           ARRAY(SELECT a.attname::text FROM unnest(con.conkey) WITH ORDINALITY k(n, i)
                 JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.n
                 ORDER BY k.i) AS columns,
           ref.relname AS referenced_table,
           ARRAY(SELECT a.attname::text FROM unnest(con.confkey) WITH ORDINALITY k(n, i)
                 JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.n
                 ORDER BY k.i) AS referenced_columns
    FROM pg_constraint con
    JOIN pg_class rel ON rel.oid = con.conrelid
    JOIN pg_namespace ns ON ns.oid = rel.relnamespace
    LEFT JOIN pg_class ref ON ref.oid = con.confrelid
    WHERE ns.nspname = current_schema() AND con.contype IN ('p', 'u', 'f')
    UNION ALL
    -- unique indexes that are no constraint (partial ones, say)
    SELECT rel.relname, idx.relname, 'i',
           ARRAY(SELECT coalesce(a.attname::text, '(expression)')
                 FROM unnest(ix.indkey) WITH ORDINALITY k(n, i)
                 LEFT JOIN pg_attribute a ON a.attrelid = ix.indrelid AND a.attnum = k.n
                 ORDER BY k.i),
           NULL, NULL
    FROM pg_index ix
    JOIN pg_class idx ON idx.oid = ix.indexrelid
    JOIN pg_class rel ON rel.oid = ix.indrelid
    JOIN pg_namespace ns ON ns.oid = rel.relnamespace
    WHERE ns.nspname = current_schema() AND ix.indisunique
      AND NOT EXISTS (SELECT FROM pg_constraint c WHERE c.conindid = ix.indexrelid)
    """
)

TABLES = text(
    """
    SELECT c.relname,
           EXISTS (SELECT FROM pg_attribute a WHERE a.attrelid = c.oid
                   AND a.attname = :column AND NOT a.attisdropped) AS has_workspace
    FROM pg_class c JOIN pg_namespace ns ON ns.oid = c.relnamespace
    WHERE ns.nspname = current_schema() AND c.relkind IN ('r', 'p')
    """
).bindparams(column=WORKSPACE_COLUMN)


def _workspace_column_of(table: str) -> str:
    return "pk" if table == "workspace" else WORKSPACE_COLUMN


async def offenders(runtime: Runtime) -> dict[str, list[str]]:
    """Per distributed table, what keeps it from being distributed by workspace."""
    async with runtime.engine.connect() as conn:
        tables = {row.relname: row.has_workspace for row in await conn.execute(TABLES)}
        keys = list(await conn.execute(KEYS))
    shared = REFERENCE_TABLES.keys() | LOCAL_TABLES.keys()
    found: dict[str, list[str]] = {}
    for table, has_workspace in tables.items():
        if table not in shared and not has_workspace:
            found.setdefault(table, []).append(f"no {WORKSPACE_COLUMN} column")
    for key in keys:
        if key.table_name in shared:
            continue
        if WORKSPACE_COLUMN not in key.columns:
            found.setdefault(key.table_name, []).append(
                f"{key.key_name} ({', '.join(key.columns)}) lacks {WORKSPACE_COLUMN}"
            )
            continue
        if key.kind != "f":
            continue
        # the workspace column must point at the referenced table's workspace column
        target = key.referenced_columns[key.columns.index(WORKSPACE_COLUMN)]
        if target != _workspace_column_of(key.referenced_table):
            found.setdefault(key.table_name, []).append(
                f"{key.key_name} joins {WORKSPACE_COLUMN} to {key.referenced_table}.{target}"
            )
    return found


async def test_every_key_of_a_workspace_table_includes_the_workspace(runtime: Runtime) -> None:
    # given: the schema migrated to head (the session fixture did it)
    # when: every primary key, unique key or index and foreign key is read from the catalog
    found = await offenders(runtime)
    # then: none of a distributed table lacks the workspace column
    assert found == {}


async def test_the_reference_tables_exist(runtime: Runtime) -> None:
    # a renamed reference table would silently stop being checked as one
    async with runtime.engine.connect() as conn:
        names = {row.relname for row in await conn.execute(TABLES)}
    assert REFERENCE_TABLES.keys() | LOCAL_TABLES.keys() <= names
