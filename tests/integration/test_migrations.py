"""The migrations build exactly the schema the table classes describe."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection

from api.runtime import Runtime
from persistence.migrate import head_revision, is_current
from persistence.migrations.env_filter import include_object
from persistence.tables import metadata


def _differences(connection: Connection) -> list[object]:
    context = MigrationContext.configure(
        connection, opts={"compare_type": True, "include_object": include_object}
    )
    return list(compare_metadata(context, metadata))


async def test_migrated_database_matches_the_table_classes(runtime: Runtime) -> None:
    # given a database migrated to head (the session fixture did it)
    assert await is_current(runtime.engine)
    assert head_revision() is not None
    # when the live schema is compared with the metadata
    async with runtime.engine.connect() as conn:
        differences = await conn.run_sync(_differences)
    # then nothing is missing or extra
    assert differences == []
