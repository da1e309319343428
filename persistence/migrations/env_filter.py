"""Which database objects Alembic's comparison leaves alone."""

from __future__ import annotations


def include_object(
    obj: object, name: str | None, type_: str, reflected: bool, compare_to: object
) -> bool:
    """Indexes made outside the metadata (trigram search, per-workspace property indexes)."""
    if type_ == "index" and reflected and compare_to is None and name:
        return not (name == "customer_search_trgm" or name.startswith("customer_prop_"))
    return True
