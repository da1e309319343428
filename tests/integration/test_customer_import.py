"""Bulk customer import: JSON Lines and CSV files in, validated as customersUpsert validates,
live segments kept exact; through the service and through the command."""

from __future__ import annotations

import asyncio
import gzip
import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.exc import IntegrityError

from api.commands.import_customers import EXIT_REJECTED
from api.runtime import Runtime
from api.services import customer_import
from api.services.customer_import import ImportRefused, file_lines, import_customers
from api.services.customers import write_staged
from domain.customer import validate_customer
from domain.customer_file import customer_from_json
from domain.errors import ErrorCode
from domain.import_job import FileFormat, ImportMode, ImportOptions, ImportReport
from persistence.customer_staging import StagedChunk, allow_import_time
from persistence.unit_of_work import UnitOfWork
from tests.api.documents import CUSTOMER, DEFINE_PROPERTY
from tests.api.event_documents import active_segment, in_germany, logged_events
from tests.api.segment_documents import member_ids, upsert_ok
from tests.cli import run_cli
from tests.conftest import Workspace

ADA = {
    "id": "ada",
    "email": "ada@example.com",
    "country": "DE",
    "createdAt": "2026-01-02T03:04:05Z",
    "properties": {"plan": "pro"},
    "orders": [
        {"id": "o1", "amount": 120.5, "placedAt": "2026-11-01T10:00:00Z"},
        {"id": "o2", "amount": 30, "placedAt": "2026-11-20T10:00:00Z", "status": "PLACED"},
    ],
    "invoices": [{"id": "i1", "status": "OPEN", "total": 99, "issuedAt": "2026-11-01T00:00:00Z"}],
    "subscriptions": [{"id": "s1", "status": "ACTIVE", "planId": "pro", "amount": 10}],
    "wallets": [{"id": "w1", "currency": "EUR", "balance": 5}],
    "verifications": [{"id": "v1", "kind": "EMAIL", "status": "VERIFIED"}],
}
BOB = {"id": "bob", "email": "bob@example.com", "country": "FR"}


def jsonl(*items: object) -> bytes:
    return "".join(json.dumps(item) + "\n" for item in items).encode()


async def declare_plan(ws: Workspace) -> None:
    payload = await ws.gql(DEFINE_PROPERTY, {"input": {"key": "plan", "type": "STRING"}})
    assert payload.data["customPropertyDefine"]["userErrors"] == []


async def pk_of(runtime: Runtime, ws: Workspace) -> int:
    async with UnitOfWork(runtime.engine, 0) as uow:
        found = await uow.workspaces.find(ws.name)
    assert found is not None
    return found


async def run_import(
    runtime: Runtime, ws: Workspace, path: Path, data: bytes, **options: Any
) -> ImportReport:
    path.write_bytes(data)
    options.setdefault("format", FileFormat.of(path.name))
    return await import_customers(
        runtime, await pk_of(runtime, ws), file_lines(path), ImportOptions(**options)
    )


async def customer(ws: Workspace, customer_id: str) -> dict[str, Any] | None:
    found: dict[str, Any] | None = (await ws.gql(CUSTOMER, {"id": customer_id})).data["customer"]
    return found


# ---- what lands ---------------------------------------------------------------------------


async def test_jsonl_with_nested_records_lands_as_the_api_would_store_it(
    runtime: Runtime, workspace: Workspace, other_workspace: Workspace, tmp_path: Path
) -> None:
    # given the same two customers through the API in another workspace
    await declare_plan(workspace)
    await declare_plan(other_workspace)
    await upsert_ok(other_workspace, ADA, BOB)

    # when they are imported from JSON Lines
    report = await run_import(runtime, workspace, tmp_path / "c.jsonl", jsonl(ADA, BOB))

    # then both land, with every related record, exactly as the API stored them
    assert (report.lines, report.written, report.rejected) == (2, 2, 0)
    for customer_id in ("ada", "bob"):
        imported, upserted = (
            await customer(workspace, customer_id),
            await customer(other_workspace, customer_id),
        )
        assert imported is not None and upserted is not None
        for volatile in ("updatedAt", "createdAt"):  # bob's createdAt defaults to now
            imported.pop(volatile), upserted.pop(volatile)
        assert imported == upserted
    ada = await customer(workspace, "ada")
    assert ada is not None
    assert ada["ordersCount"] == 2 and ada["totalSpent"] == 150.5
    assert ada["properties"] == {"plan": "pro"}
    assert [i["id"] for i in ada["invoices"]] == ["i1"]


PATCHES = [
    {
        "id": "ada",
        "city": "Berlin",
        "email": None,
        "createdAt": None,
        "properties": {"plan": None},
        "orders": [
            {"id": "o1", "status": "REFUNDED"},
            {"id": "o3", "amount": 5, "placedAt": "2026-11-25T10:00:00Z"},
        ],
        "wallets": [],
    },
    {"id": "bob", "parentId": "ada", "properties": None, "invoices": [{"id": "i9", "total": 1}]},
    {"id": "cy", "name": "Cy", "parentId": "bob"},
]
HAS_CHILD = {"condition": {"field": "hasChild", "operator": "EQ", "value": True}}


async def test_changes_to_stored_customers_merge_as_customers_upsert_merges_them(
    runtime: Runtime, workspace: Workspace, other_workspace: Workspace, tmp_path: Path
) -> None:
    # given the same customers and ACTIVE segment (on hasChild) in two workspaces
    segments = {}
    for ws in (workspace, other_workspace):
        await declare_plan(ws)
        await upsert_ok(ws, ADA, {**BOB, "properties": {"plan": "free"}})
        segments[ws.name] = await active_segment(ws, "parents", HAS_CHILD)

    # when the same partial changes go in through the API in one and an import in the other
    await upsert_ok(other_workspace, *PATCHES)
    report = await run_import(runtime, workspace, tmp_path / "c.jsonl", jsonl(*PATCHES))

    # then every field, record and derived value is the same: omitted fields kept, nulls
    # cleared, properties merged key by key, records upserted by id and none removed
    assert (report.written, report.unchanged, report.rejected) == (3, 0, 0)
    for customer_id in ("ada", "bob", "cy"):
        imported = await customer(workspace, customer_id)
        upserted = await customer(other_workspace, customer_id)
        assert imported is not None and upserted is not None
        for volatile in ("updatedAt", "createdAt"):  # the API set them when each ran
            imported.pop(volatile), upserted.pop(volatile)
        assert imported == upserted, customer_id
    ada = await customer(workspace, "ada")
    assert ada is not None
    assert (ada["email"], ada["country"], ada["city"]) == (None, "DE", "Berlin")
    assert (ada["ordersCount"], ada["totalSpent"], ada["hasChild"]) == (2, 35, True)
    assert ada["createdAt"] == "2026-01-02T03:04:05+00:00" and ada["properties"] == {}
    assert [w["id"] for w in ada["wallets"]] == ["w1"]

    # and the segment's events are the same transitions (hasChild of the parents moved)
    def transitions(events: list[dict[str, Any]]) -> list[tuple[str, str]]:
        return sorted((e["kind"], e["customerId"]) for e in events)

    imported_events = transitions(await logged_events(workspace, segments[workspace.name]))
    assert imported_events == [("ENTERED", "ada"), ("ENTERED", "bob")]
    assert imported_events == transitions(
        await logged_events(other_workspace, segments[other_workspace.name])
    )


async def test_bad_lines_are_reported_by_number_and_good_lines_land(
    runtime: Runtime, workspace: Workspace, tmp_path: Path
) -> None:
    # given a file whose lines 2..8 are each wrong in their own way
    data = b"".join(
        [
            jsonl(BOB),
            jsonl({"id": "x1", "country": "XX"}),  # 2 unknown country
            jsonl({"id": "x2", "properties": {"nope": 1}}),  # 3 undeclared property
            b"{not json\n",  # 4
            b"[1, 2]\n",  # 5 not an object
            b'{"id": "x3", "name": "\xff\xfe"}\n',  # 6 not UTF-8
            jsonl({"id": "x4", "email": "e" * 400}),  # 7 too long
            jsonl({"id": "x5", "colour": "red"}),  # 8 no such field
            b"\n",  # 9 blank: skipped, not counted
            b'{"id": "big", "name": "' + b"a" * 1_000_100 + b'"}\n',  # 10 over 1 MB
            jsonl({"id": "cat", "country": "FR"}),  # 11
        ]
    )

    # when it is imported
    report = await run_import(runtime, workspace, tmp_path / "c.jsonl", data)

    # then each bad line is rejected with its number and code; the good lines land
    by_line = {r.line: r.code for r in report.rejections}
    assert by_line == {
        2: ErrorCode.INVALID_COUNTRY,
        3: ErrorCode.PROPERTY_NOT_DECLARED,
        4: ErrorCode.INVALID_JSON,
        5: ErrorCode.NOT_AN_OBJECT,
        6: ErrorCode.INVALID_UTF8,
        7: ErrorCode.TOO_LONG,
        8: ErrorCode.UNKNOWN_FIELD,
        10: ErrorCode.LINE_TOO_LONG,
    }
    assert report.written == 2 and report.failure is None
    assert await customer(workspace, "bob") is not None
    assert await customer(workspace, "cat") is not None
    for refused in ("x1", "x2", "x3", "x4", "x5", "big"):
        assert await customer(workspace, refused) is None


async def test_strict_writes_nothing_when_one_line_is_bad(
    runtime: Runtime, workspace: Workspace, tmp_path: Path
) -> None:
    lines = [{"id": f"c{i}", "country": "FR"} for i in range(2500)]
    lines[2200] = {"id": "bad", "country": "XX"}

    report = await run_import(runtime, workspace, tmp_path / "c.jsonl", jsonl(*lines), strict=True)

    assert report.failure is not None and "nothing was written" in report.failure
    assert [r.line for r in report.rejections] == [2201]
    assert await customer(workspace, "c0") is None  # the batches before it rolled back too


@pytest.mark.parametrize("strict", [False, True])
async def test_a_customer_named_on_two_lines_gets_both_in_order(
    runtime: Runtime, workspace: Workspace, tmp_path: Path, strict: bool
) -> None:
    # given an ACTIVE segment, and a file naming ada twice (the second line starts a chunk)
    segment_id = await active_segment(workspace, "germans", in_germany())
    data = jsonl(
        {"id": "ada", "country": "DE", "email": "ada@example.com"},
        BOB,
        {"id": "ada", "country": "FR", "city": "Paris"},
    )

    report = await run_import(runtime, workspace, tmp_path / "c.jsonl", data, strict=strict)

    # then both lines applied in order, as two upserts in a row, events included
    assert (report.written, report.rejected, report.failure) == (3, 0, None)
    ada = await customer(workspace, "ada")
    assert ada is not None
    assert (ada["country"], ada["email"], ada["city"]) == ("FR", "ada@example.com", "Paris")
    kinds = [(e["kind"], e["customerId"]) for e in await logged_events(workspace, segment_id)]
    assert kinds == [("ENTERED", "ada"), ("LEFT", "ada")]


async def test_csv_with_properties_and_gzip(
    runtime: Runtime, workspace: Workspace, tmp_path: Path
) -> None:
    await declare_plan(workspace)
    payload = await workspace.gql(DEFINE_PROPERTY, {"input": {"key": "seats", "type": "NUMBER"}})
    assert payload.data["customPropertyDefine"]["userErrors"] == []
    csv_text = (
        "id,email,country,properties.plan,properties.seats\r\n"
        "ada,ada@example.com,DE,pro,12\n"
        '"bob, jr",,FR,,3.5\n'
        "eve,eve@example.com,DE,pro,many\n"
    )

    report = await run_import(
        runtime, workspace, tmp_path / "c.csv.gz", gzip.compress(csv_text.encode())
    )

    assert report.written == 2
    assert [(r.line, r.code) for r in report.rejections] == [(4, ErrorCode.PROPERTY_TYPE_MISMATCH)]
    ada, bob = await customer(workspace, "ada"), await customer(workspace, "bob, jr")
    assert ada is not None and ada["properties"] == {"plan": "pro", "seats": 12}
    assert bob is not None and bob["email"] is None and bob["properties"] == {"seats": 3.5}


async def test_a_csv_header_naming_an_unknown_column_refuses_the_file(
    runtime: Runtime, workspace: Workspace, tmp_path: Path
) -> None:
    report = await run_import(runtime, workspace, tmp_path / "c.csv", b"id,orders\nada,1\n")

    assert [(r.line, r.code) for r in report.rejections][:1] == [(1, ErrorCode.UNKNOWN_FIELD)]
    assert report.written == 0


async def test_a_truncated_gzip_is_reported_after_the_lines_it_held(
    runtime: Runtime, workspace: Workspace, tmp_path: Path
) -> None:
    whole = gzip.compress(jsonl(*({"id": f"t{i}", "country": "FR"} for i in range(3000))))

    report = await run_import(runtime, workspace, tmp_path / "c.jsonl.gz", whole[: len(whole) // 2])

    assert report.failure is not None and "truncated" in report.failure
    assert report.rejections[-1].code is ErrorCode.TRUNCATED_INPUT
    assert report.written > 0  # the complete batches before the cut went in


# ---- replace mode, re-runs ----------------------------------------------------------------


async def test_replace_deletes_the_absent_with_left_events_and_refuses_too_many(
    runtime: Runtime, workspace: Workspace, tmp_path: Path
) -> None:
    # given ten customers in Germany, in an ACTIVE segment
    segment_id = await active_segment(workspace, "germans", in_germany())
    everyone = [{"id": f"d{i}", "country": "DE"} for i in range(10)]
    await upsert_ok(workspace, *everyone)

    # when a file without two of them replaces the workspace with --max-delete 10
    kept = jsonl(*everyone[2:])
    with pytest.raises(ImportRefused, match="2 of 10 customers"):
        await run_import(
            runtime,
            workspace,
            tmp_path / "c.jsonl",
            kept,
            mode=ImportMode.REPLACE,
            max_delete_percent=10,
        )
    # then nothing changed
    assert len(await member_ids(workspace, segment_id)) == 10

    # when it runs with a higher limit
    report = await run_import(
        runtime,
        workspace,
        tmp_path / "c.jsonl",
        kept,
        mode=ImportMode.REPLACE,
        max_delete_percent=25,
    )

    # then the two are deleted, each with one LEFT event
    assert report.deleted == 2 and report.written == 0 and report.unchanged == 8
    assert sorted(await member_ids(workspace, segment_id)) == [f"d{i}" for i in range(2, 10)]
    left = [e for e in await logged_events(workspace, segment_id) if e["kind"] == "LEFT"]
    assert sorted(e["customerId"] for e in left) == ["d0", "d1"]


async def test_replace_refuses_a_file_whose_lines_it_cannot_all_read(
    runtime: Runtime, workspace: Workspace, tmp_path: Path
) -> None:
    # given customers in the workspace
    await upsert_ok(workspace, *({"id": f"u{i}", "country": "DE"} for i in range(5)))
    good = jsonl(*({"id": f"u{i}", "country": "FR"} for i in range(5)))

    # when replace gets a file with a line that names no readable id, or a broken gzip
    for data, name, why in (
        (good + b"{not json\n", "c.jsonl", "name no readable customer id"),
        (good + jsonl({"email": "x@y.z"}), "c.jsonl", "name no readable customer id"),
        (gzip.compress(good)[:-12], "c.jsonl.gz", "truncated"),
    ):
        with pytest.raises(ImportRefused, match=why):
            await run_import(
                runtime, workspace, tmp_path / name, data, mode=ImportMode.REPLACE, force=True
            )

    # then nothing changed: nobody deleted, nobody moved
    for i in range(5):
        found = await customer(workspace, f"u{i}")
        assert found is not None and found["country"] == "DE"


async def test_importing_the_same_file_again_changes_nothing_and_records_no_event(
    runtime: Runtime, workspace: Workspace, tmp_path: Path
) -> None:
    await declare_plan(workspace)
    segment_id = await active_segment(workspace, "germans", in_germany())
    data = jsonl(ADA, BOB, {"id": "cat", "country": "DE", "parentId": "ada"})
    first = await run_import(runtime, workspace, tmp_path / "c.jsonl", data)
    before = await customer(workspace, "ada")
    events = await logged_events(workspace)

    again = await run_import(runtime, workspace, tmp_path / "c.jsonl", data)

    assert first.written == 3 and (again.written, again.unchanged) == (0, 3)
    assert await customer(workspace, "ada") == before  # updatedAt included
    assert await logged_events(workspace) == events
    assert sorted(await member_ids(workspace, segment_id)) == ["ada", "cat"]


async def test_an_active_segment_records_the_same_events_as_customers_upsert(
    runtime: Runtime, workspace: Workspace, other_workspace: Workspace, tmp_path: Path
) -> None:
    # given the same ACTIVE segment and customers in two workspaces
    start = [{"id": f"e{i}", "country": "DE" if i % 2 else "FR"} for i in range(40)]
    changed = [{"id": f"e{i}", "country": "FR" if i % 3 else "DE"} for i in range(0, 60)]
    segments = {}
    for ws in (workspace, other_workspace):
        segments[ws.name] = await active_segment(ws, "germans", in_germany())
        await upsert_ok(ws, *start)

    # when the same changes go in through the API in one and an import in the other
    await upsert_ok(other_workspace, *changed)
    await run_import(runtime, workspace, tmp_path / "c.jsonl", jsonl(*changed))

    # then both logs hold the same transitions, once each
    def transitions(events: list[dict[str, Any]]) -> list[tuple[str, str]]:
        return sorted((e["kind"], e["customerId"]) for e in events)

    imported = transitions(await logged_events(workspace, segments[workspace.name]))
    upserted = transitions(await logged_events(other_workspace, segments[other_workspace.name]))
    assert imported == upserted
    assert len(imported) == len(set(imported)) > 0


# ---- the command --------------------------------------------------------------------------


async def test_the_command_reports_rejections_by_line_and_exits_by_convention(
    workspace: Workspace, database_url: str, tmp_path: Path
) -> None:
    path = tmp_path / "c.jsonl"
    path.write_bytes(jsonl(BOB, {"id": "x", "country": "XX"}))

    code, out, err = await run_cli(
        database_url, "import", "customers", str(path), "--workspace", workspace.name
    )

    assert code == EXIT_REJECTED, err
    assert "line 2: country:" in err and "[INVALID_COUNTRY]" in err
    assert "1 customers written" in out
    assert await customer(workspace, "bob") is not None


async def test_the_command_reads_standard_input_and_refuses_an_unknown_workspace(
    workspace: Workspace, database_url: str
) -> None:
    code, _, err = await run_cli(
        database_url,
        "import",
        "customers",
        "-",
        "--workspace",
        workspace.name,
        "--quiet",
        stdin=jsonl(BOB),
    )
    assert code == 0, err
    assert await customer(workspace, "bob") is not None

    code, _, err = await run_cli(
        database_url, "import", "customers", "-", "--workspace", "nope", stdin=b""
    )
    assert code == 1 and "no workspace named 'nope'" in err
    assert "Traceback" not in err


async def test_api_writes_during_an_import_are_neither_lost_nor_counted_twice(
    runtime: Runtime, workspace: Workspace, tmp_path: Path
) -> None:
    # given an ACTIVE segment and a file of 3000 customers, half of them in Germany
    segment_id = await active_segment(workspace, "germans", in_germany())
    rows = [{"id": f"r{i:04d}", "country": "DE" if i % 2 else "FR"} for i in range(3000)]
    path = tmp_path / "c.jsonl"
    path.write_bytes(jsonl(*rows))

    # when API writes move some of the same customers while the import runs
    async def api_writes() -> None:
        for round_ in range(15):
            moved = [
                {"id": f"r{i:04d}", "country": "DE" if (i + round_) % 3 else "FR"}
                for i in range(round_ * 7, 3000, 97)
            ]
            await upsert_ok(workspace, *moved)

    await asyncio.gather(
        import_customers(
            runtime, await pk_of(runtime, workspace), file_lines(path), ImportOptions()
        ),
        api_writes(),
    )

    # then every customer's events alternate from ENTERED, and the last one says where the
    # customer stands now, which is where its stored country puts it
    by_customer: dict[str, list[str]] = {}
    for event in await logged_events(workspace, segment_id):
        by_customer.setdefault(event["customerId"], []).append(event["kind"])
    members = set(await member_ids(workspace, segment_id, page=1000))
    germans, after = set(), None
    while True:
        page = (await workspace.gql(GERMANS_NOW, {"after": after})).data["customers"]
        germans |= {edge["node"]["id"] for edge in page["edges"]}
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert members == germans
    for customer_id, kinds in by_customer.items():
        assert kinds == ["ENTERED", "LEFT"] * (len(kinds) // 2) + ["ENTERED"] * (len(kinds) % 2)
        assert (kinds[-1] == "ENTERED") == (customer_id in members), customer_id
    assert set(by_customer) >= members


GERMANS_NOW = """
query Germans($after: String) {
  customers(first: 1000, after: $after,
            where: {condition: {field: "country", operator: "EQ", value: "DE"}}) {
    edges { node { id } } pageInfo { hasNextPage endCursor } } }
"""


async def test_a_chunk_leaves_foreign_key_checks_on_for_the_rest_of_its_transaction(
    runtime: Runtime, workspace: Workspace
) -> None:
    # given a chunk creating a customer with records and updating one, merged as an import
    # merges it (the test database's role is a superuser: its inserts skip the row checks)
    await declare_plan(workspace)
    await upsert_ok(workspace, BOB)
    workspace_pk = await pk_of(runtime, workspace)
    declared = await customer_import._declared(runtime, workspace_pk)
    chunk = StagedChunk()
    for line in (ADA, {**BOB, "orders": [{"id": "o9", "amount": 3}]}):
        chunk.add(validate_customer(customer_from_json(json.dumps(line)), declared, ()))
    async with UnitOfWork(runtime.engine, workspace_pk) as uow:
        await allow_import_time(uow.conn, 60_000)
        outcome = await write_staged(uow, chunk, runtime.clock)

        # then the rest of the transaction checks foreign keys again
        role = await uow.conn.exec_driver_sql("SHOW session_replication_role")
        assert role.scalar() == "origin"
        with pytest.raises(IntegrityError):
            await uow.conn.exec_driver_sql(
                "INSERT INTO customer_order (workspace_pk, customer_pk, id) "
                f"VALUES ({workspace_pk}, -1, 'orphan')"
            )
    assert len(outcome.pks) == 2
