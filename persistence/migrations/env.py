"""Alembic environment: always driven by persistence.migrate with a live connection."""

from __future__ import annotations

from alembic import context

from persistence.tables import metadata

connection = context.config.attributes["connection"]


def include_object(obj: object, name: str | None, type_: str, reflected: bool, compare_to: object) -> bool:
    """Indexes made outside the metadata (trigram search, per-workspace property indexes)."""
    if type_ == "index" and reflected and compare_to is None and name:
        return not (name == "customer_search_trgm" or name.startswith("customer_prop_"))
    return True


context.configure(
    connection=connection,
    target_metadata=metadata,
    compare_type=True,
    include_object=include_object,
)
with context.begin_transaction():
    context.run_migrations()
