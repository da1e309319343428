"""Alembic environment: always driven by persistence.migrate with a live connection."""

from __future__ import annotations

from alembic import context

from persistence.migrations.env_filter import include_object
from persistence.tables import metadata

connection = context.config.attributes["connection"]


context.configure(
    connection=connection,
    target_metadata=metadata,
    compare_type=True,
    include_object=include_object,
)
with context.begin_transaction():
    context.run_migrations()
