"""A re-import skips, unparsed, the lines its customers already took and were not written
since; every other line is read and merged as before."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

import api.services.customer_import as customer_import
from api.runtime import Runtime
from domain.customer import validate_customer
from domain.customer_file import customer_from_json as from_json
from domain.import_job import ImportMode, ImportOptions, ImportReport
from persistence.customer_fingerprints import CURRENT, PROBE_BY_INDEX
from tests.api.documents import DEFINE_PROPERTY
from tests.api.segment_documents import upsert_ok
from tests.conftest import Workspace
from tests.integration.test_customer_import import ADA, BOB, customer, declare_plan, jsonl, pk_of

CAT = {"id": "cat", "country": "IT", "city": "Roma", "parentId": "ada"}


@pytest.fixture
def parsed(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The ids of the lines the import validates (that is, reads), in order."""
    seen: list[str] = []

    def counting(raw: Any, *args: Any) -> Any:
        seen.append(raw.get("id"))
        return validate_customer(raw, *args)

    monkeypatch.setattr(customer_import, "validate_customer", counting)
    return seen


async def run(runtime: Runtime, ws: Workspace, path: Path, *lines: object, **opts: Any) -> Any:
    path.write_bytes(jsonl(*lines))
    report: ImportReport = await customer_import.import_customers(
        runtime, await pk_of(runtime, ws), customer_import.file_lines(path), ImportOptions(**opts)
    )
    assert report.rejected == 0, report.rejections
    return report


async def test_an_unchanged_file_is_not_read_again(
    runtime: Runtime, workspace: Workspace, tmp_path: Path, parsed: list[str]
) -> None:
    await declare_plan(workspace)
    await run(runtime, workspace, tmp_path / "c.jsonl", ADA, BOB, CAT)
    parsed.clear()

    again = await run(runtime, workspace, tmp_path / "c.jsonl", ADA, BOB, CAT)

    assert (again.lines, again.written, again.unchanged) == (3, 0, 3)
    assert parsed == []


async def test_a_customer_written_since_is_read_and_put_back(
    runtime: Runtime, workspace: Workspace, tmp_path: Path, parsed: list[str]
) -> None:
    # given the file imported, then bob moved through the API
    await declare_plan(workspace)
    await run(runtime, workspace, tmp_path / "c.jsonl", ADA, BOB, CAT)
    await upsert_ok(workspace, {"id": "bob", "email": "robert@example.com"})
    parsed.clear()

    # when the same file is imported again
    again = await run(runtime, workspace, tmp_path / "c.jsonl", ADA, BOB, CAT)

    # then only bob's line is read, and it puts his email back
    assert parsed == ["bob"]
    assert (again.written, again.unchanged) == (1, 2)
    bob = await customer(workspace, "bob")
    assert bob is not None and bob["email"] == "bob@example.com"


async def test_new_declarations_or_a_strict_import_read_every_line(
    runtime: Runtime, workspace: Workspace, tmp_path: Path, parsed: list[str]
) -> None:
    await declare_plan(workspace)
    await run(runtime, workspace, tmp_path / "c.jsonl", ADA, BOB)
    parsed.clear()

    strict = await run(runtime, workspace, tmp_path / "c.jsonl", ADA, BOB, strict=True)
    assert parsed == ["ada", "bob"] and strict.unchanged == 2

    payload = await workspace.gql(DEFINE_PROPERTY, {"input": {"key": "tier", "type": "NUMBER"}})
    assert payload.data["customPropertyDefine"]["userErrors"] == []
    parsed.clear()
    again = await run(runtime, workspace, tmp_path / "c.jsonl", ADA, BOB)
    assert parsed == ["ada", "bob"] and again.unchanged == 2


async def test_a_line_taken_before_still_wins_over_an_earlier_line_of_the_file(
    runtime: Runtime,
    workspace: Workspace,
    tmp_path: Path,
    parsed: list[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # given bob imported from a line that says Lyon
    lyon = {"id": "bob", "city": "Lyon"}
    await run(runtime, workspace, tmp_path / "c.jsonl", lyon)
    monkeypatch.setattr(customer_import, "CHUNK_CUSTOMERS", 2)

    # when a file moves him to Nice, then, chunks later, names the Lyon line again
    fillers = [{"id": f"f{i}"} for i in range(7)]
    report = await run(
        runtime, workspace, tmp_path / "c.jsonl", {"id": "bob", "city": "Nice"}, *fillers, lyon
    )

    # then the later line wins, as two upserts in a row would have it
    bob = await customer(workspace, "bob")
    assert bob is not None and bob["city"] == "Lyon"
    assert report.written == 9 and parsed.count("bob") == 3


async def test_a_replace_import_of_an_unchanged_file_parses_no_line(
    runtime: Runtime, workspace: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given the file imported, and one more customer the file does not name
    await declare_plan(workspace)
    await run(runtime, workspace, tmp_path / "c.jsonl", ADA, BOB, CAT)
    await upsert_ok(workspace, {"id": "dan"})
    decoded: list[str] = []

    def counting(text: str) -> Any:
        decoded.append(text)
        return from_json(text)

    monkeypatch.setattr(customer_import, "customer_from_json", counting)

    # when it is imported again as the whole truth
    report = await run(
        runtime, workspace, tmp_path / "c.jsonl", ADA, BOB, CAT, mode=ImportMode.REPLACE, force=True
    )

    # then neither pass parsed a line, and the customer absent from it is gone
    assert decoded == []
    assert (report.unchanged, report.deleted) == (3, 1)
    assert await customer(workspace, "dan") is None


async def test_the_look_up_probes_the_index_even_when_statistics_say_the_table_is_empty(
    runtime: Runtime,
) -> None:
    # given statistics saying the fingerprint table is empty (as after a vacuum of an emptied
    # workspace), set in a transaction that is rolled back
    explain = text(f"EXPLAIN {CURRENT.text}").bindparams(hashes=[b"\x00" * 16], workspace=1)
    async with runtime.engine.connect() as conn:
        await conn.execute(
            text(
                "UPDATE pg_class SET relpages = 0, reltuples = 0 "
                "WHERE relname = 'customer_import_fingerprint'"
            )
        )
        await conn.exec_driver_sql(PROBE_BY_INDEX)

        # when the look-up is planned as `current` plans it
        planned = "\n".join(row[0] for row in await conn.execute(explain))
        await conn.rollback()

    # then it probes the hash index (planned freely on an almost empty table, it scans the
    # table, once per line: so it does when this test runs alone)
    assert "customer_import_fingerprint_hash_idx" in planned
    assert "Seq Scan on customer_import_fingerprint" not in planned
