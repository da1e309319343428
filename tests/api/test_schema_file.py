"""schema.graphql, the published SDL, is exactly what the code exports."""

from __future__ import annotations

from pathlib import Path

from api.schema import schema

SCHEMA_FILE = Path(__file__).resolve().parents[2] / "schema.graphql"
REGENERATE = "uv run segmentql export-schema -o schema.graphql"


def test_schema_file_matches_the_code() -> None:
    # given the SDL the code exports now
    exported = schema.as_str() + "\n"

    # then the committed file holds exactly that
    assert SCHEMA_FILE.exists(), f"schema.graphql is missing; generate it with `{REGENERATE}`."
    committed = SCHEMA_FILE.read_text()
    assert committed == exported, (
        f"schema.graphql is out of date with the code; regenerate it with `{REGENERATE}` "
        "and commit the result."
    )
