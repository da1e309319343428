"""The import rules of the house: domain/ is pure, api/ never touches tables."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOMAIN_FORBIDDEN = ("api", "persistence", "sqlalchemy", "sqlmodel", "strawberry", "starlette")


def imported_modules(path: Path) -> set[str]:
    """Every absolute module a file imports, at any depth (inside functions too)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def python_files(package: str) -> list[Path]:
    files = sorted((ROOT / package).rglob("*.py"))
    assert files, f"no Python files under {package}/"
    return files


def matches(module: str, prefix: str) -> bool:
    return module == prefix or module.startswith(prefix + ".")


@pytest.mark.parametrize("path", python_files("domain"), ids=lambda p: p.name)
def test_domain_imports_no_framework_or_other_layer(path: Path) -> None:
    bad = sorted(m for m in imported_modules(path) if any(matches(m, f) for f in DOMAIN_FORBIDDEN))
    assert bad == [], f"domain/{path.name} imports {bad}; domain/ must stay plain Python."


@pytest.mark.parametrize("path", python_files("api"), ids=lambda p: str(p.relative_to(ROOT)))
def test_api_never_imports_tables(path: Path) -> None:
    bad = sorted(m for m in imported_modules(path) if matches(m, "persistence.tables"))
    assert bad == [], (
        f"{path.relative_to(ROOT)} imports {bad}; tables stay in persistence/, "
        "api/ goes through repositories and read models."
    )


def test_the_import_parser_sees_nested_and_from_imports(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text(
        "import sqlalchemy.orm as orm\n"
        "from persistence import tables\n"
        "def f():\n    from strawberry.types import Info\n"
        "from . import sibling\n"
    )
    assert imported_modules(sample) == {
        "sqlalchemy.orm",
        "persistence",
        "persistence.tables",
        "strawberry.types",
        "strawberry.types.Info",
    }
