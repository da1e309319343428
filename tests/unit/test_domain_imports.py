"""domain/ is plain Python: it never imports the API, persistence or a database library."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

DOMAIN = Path(__file__).resolve().parents[2] / "domain"
FORBIDDEN = {"api", "persistence", "strawberry", "sqlalchemy", "sqlmodel", "asyncpg", "alembic"}
# the predicate language itself is standard library only
STDLIB_ONLY = {
    "custom_property.py", "errors.py", "fields.py", "instant.py", "pattern.py", "predicate.py",
    "predicate_parser.py", "predicate_text.py", "segment_graph.py",
}  # fmt: skip


def imported_roots(path: Path) -> set[str]:
    roots: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
    return roots


@pytest.mark.parametrize("path", sorted(DOMAIN.glob("*.py")), ids=lambda p: p.name)
def test_domain_modules_import_no_outer_layer(path: Path) -> None:
    assert imported_roots(path).isdisjoint(FORBIDDEN)


@pytest.mark.parametrize("name", sorted(STDLIB_ONLY))
def test_predicate_modules_import_the_standard_library_only(name: str) -> None:
    outside = (
        imported_roots(DOMAIN / name) - set(sys.stdlib_module_names) - {"domain", "__future__"}
    )
    assert outside == set()
