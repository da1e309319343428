"""Apply Alembic migrations under an advisory lock, so concurrent starts don't race."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, text
from sqlalchemy.ext.asyncio import AsyncEngine

MIGRATIONS = Path(__file__).parent / "migrations"
MIGRATION_LOCK = 7_212_001  # arbitrary, constant: the key of the advisory lock


def alembic_config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def _upgrade(connection: Connection) -> None:
    command.upgrade(alembic_config(connection), "head")


def _current(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


async def migrate(engine: AsyncEngine) -> None:
    """Bring the schema to head. Waits for any other process migrating at the same time."""
    async with engine.connect() as conn:
        # Untimed here only: the service's statement timeout, sized for requests, would cut
        # off a backfill that rewrites a large table, and the wait for another migrator.
        await conn.execute(text("SET statement_timeout = 0"))
        await conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": MIGRATION_LOCK})
        try:
            await conn.commit()
            await conn.run_sync(_upgrade)
            await conn.commit()
        finally:
            await conn.rollback()  # a failed migration leaves its transaction aborted
            await conn.execute(text("RESET statement_timeout"))
            await conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": MIGRATION_LOCK})
            await conn.commit()


async def is_current(engine: AsyncEngine) -> bool:
    async with engine.connect() as conn:
        return await conn.run_sync(_current) == head_revision()
