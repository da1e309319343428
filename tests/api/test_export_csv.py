"""CSV export over plain HTTP (and `segmentql export`): fields, quoting, escaping, streaming."""

from __future__ import annotations

import asyncio
import csv
import io
from typing import Any

import httpx
from sqlalchemy import text

from api.commands.export import export_csv
from api.progress import CommandProgress
from api.runtime import Runtime
from domain.access import Role
from tests.api.documents import DEFINE_PROPERTY, DELETE
from tests.api.segment_documents import country_is, create_ok, stats, upsert_ok
from tests.api.snapshot_documents import (
    FakeClock,
    clock_fixture,  # noqa: F401  (the clock fixture)
    take,
)
from tests.conftest import Workspace

PROPERTIES = [
    {"key": "plan", "type": "STRING"},
    {"key": "score", "type": "NUMBER"},
    {"key": "vip", "type": "BOOLEAN"},
    {"key": "since", "type": "DATETIME"},
]

ANA = {
    "id": "c1",
    "email": "ana@example.com",
    "name": 'Lopez, Ana "the boss"',
    "city": "Line one\nLine two\r\nLine three",
    "country": "FR",
    "createdAt": "2026-01-02T03:04:05Z",
    "properties": {
        "plan": "gold, plus",
        "score": 12.5,
        "vip": True,
        "since": "2026-01-31T10:00:00+02:00",
    },
    "orders": [
        {"id": "o1", "amount": 19.99, "placedAt": "2026-02-01T09:30:00.250Z"},
        {"id": "o2", "amount": 5, "placedAt": "2026-02-03T00:00:00Z", "status": "CANCELED"},
    ],
}
ZOE = {
    "id": "c2",
    "name": "Zoë Ünïcødé 東京 🎉",
    "country": "FR",
    "createdAt": "2026-01-05T00:00:00Z",
    "properties": {"score": -3, "vip": False},
}
HANS = {"id": "c3", "name": "Hans", "country": "DE", "createdAt": "2026-01-06T00:00:00Z"}

ALL_FIELDS = (
    "id,email,name,city,country,ordersCount,totalSpent,lastOrderAt,firstOrderAt,createdAt,"
    "hasParent,hasChild,properties.plan,properties.score,properties.vip,properties.since"
)


async def given_customers(ws: Workspace) -> str:
    for prop in PROPERTIES:
        result = await ws.gql(DEFINE_PROPERTY, {"input": prop})
        assert result.data["customPropertyDefine"]["userErrors"] == []
    await upsert_ok(ws, ANA, ZOE, HANS)
    return str((await create_ok(ws, name="French", predicate=country_is("FR")))["id"])


def auth(ws: Workspace, role: Role = Role.READ) -> dict[str, str]:
    return {"Authorization": f"Bearer {ws.keys[role]}"}


async def export(
    ws: Workspace, path: str, fields: str | None = None, role: Role = Role.READ
) -> httpx.Response:
    params = {"fields": fields} if fields is not None else {}
    return await ws.http.get(f"{ws.base_url}{path}", params=params, headers=auth(ws, role))


def parse(body: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(body, newline="")))


# ---- content ------------------------------------------------------------------


async def test_the_export_parses_back_to_exactly_the_members_and_their_values(
    workspace: Workspace,
) -> None:
    segment_id = await given_customers(workspace)

    response = await export(workspace, f"/segments/{segment_id}/export.csv", ALL_FIELDS)

    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert f'filename="{segment_id}.csv"' in response.headers["content-disposition"]
    assert response.content.endswith(b"\r\n")
    assert parse(response.text) == [
        ALL_FIELDS.split(","),
        [
            "c1",
            "ana@example.com",
            'Lopez, Ana "the boss"',
            "Line one\nLine two\r\nLine three",
            "FR",
            "1",
            "19.99",
            "2026-02-01T09:30:00.250000Z",
            "2026-02-01T09:30:00.250000Z",
            "2026-01-02T03:04:05Z",
            "false",
            "false",
            "gold, plus",
            "12.5",
            "true",
            "2026-01-31T08:00:00Z",
        ],
        [
            "c2",
            "",
            "Zoë Ünïcødé 東京 🎉",
            "",
            "FR",
            "0",
            "0",
            "",
            "",
            "2026-01-05T00:00:00Z",
            "false",
            "false",
            "",
            "-3",  # a number, not text to defuse
            "false",
            "",
        ],
    ]


async def test_quoting_follows_rfc_4180(workspace: Workspace) -> None:
    segment_id = await given_customers(workspace)

    response = await export(workspace, f"/segments/{segment_id}/export.csv", "id,name,city")

    assert response.content.decode("utf-8").split("\r\n")[:3] == [
        "id,name,city",
        'c1,"Lopez, Ana ""the boss""","Line one\nLine two',
        'Line three"',
    ]


async def test_default_fields(workspace: Workspace) -> None:
    segment_id = await given_customers(workspace)

    response = await export(workspace, f"/segments/{segment_id}/export.csv")

    rows = parse(response.text)
    assert rows[0] == ["id", "email", "name", "country", "createdAt"]
    assert [r[0] for r in rows[1:]] == ["c1", "c2"]


async def test_text_a_spreadsheet_would_run_is_escaped_and_numbers_stay_numbers(
    workspace: Workspace,
) -> None:
    await upsert_ok(
        workspace,
        *[
            {"id": f"f{n}", "name": name, "country": "FR"}
            for n, name in enumerate(
                ["=1+1", "+33 6 12", "-2", "@SUM(A1)", "\tTab", "\rCR", "a=b", "plain"]
            )
        ],
        {"id": "neg", "country": "FR", "orders": [{"id": "r1", "amount": -5}]},
    )
    segment_id = (await create_ok(workspace, name="All", predicate=country_is("FR")))["id"]

    response = await export(workspace, f"/segments/{segment_id}/export.csv", "id,name,totalSpent")

    assert parse(response.text)[1:] == [
        ["f0", "'=1+1", "0"],
        ["f1", "'+33 6 12", "0"],
        ["f2", "'-2", "0"],
        ["f3", "'@SUM(A1)", "0"],
        ["f4", "'\tTab", "0"],
        ["f5", "'\rCR", "0"],
        ["f6", "a=b", "0"],
        ["f7", "plain", "0"],
        ["neg", "", "-5"],
    ]


async def test_an_instance_export_lists_its_members_as_snapshotted(
    workspace: Workspace, clock: FakeClock
) -> None:
    segment_id = await given_customers(workspace)
    instance = await take(workspace, segment_id)
    await upsert_ok(workspace, {"id": "c1", "country": "DE"}, {"id": "c3", "country": "FR"})
    await workspace.gql(DELETE, {"ids": ["c2"]})

    response = await export(
        workspace,
        f"/segments/{segment_id}/instances/{instance['id']}/export.csv",
        "id,email,country,hasParent,properties.vip",
    )

    assert response.status_code == 200
    assert f'filename="{instance["id"]}.csv"' in response.headers["content-disposition"]
    assert parse(response.text) == [
        ["id", "email", "country", "hasParent", "properties.vip"],
        ["c1", "ana@example.com", "DE", "false", "true"],  # other fields as they are now
        ["c2", "", "", "", ""],  # deleted since: only what the snapshot kept
    ]


# ---- refusals -----------------------------------------------------------------


async def test_an_unknown_field_is_a_400_with_a_plain_message_and_no_csv(
    workspace: Workspace,
) -> None:
    segment_id = await given_customers(workspace)

    unknown = await export(workspace, f"/segments/{segment_id}/export.csv", "id,nope")
    undeclared = await export(workspace, f"/segments/{segment_id}/export.csv", "properties.tier")

    for response in (unknown, undeclared):
        assert response.status_code == 400
        assert response.headers["content-type"].startswith("text/plain")
        assert "\r\n" not in response.text  # no header row, no rows
    assert unknown.text == (
        "Unknown field 'nope'; fields are customer field paths "
        "such as id, email, country, properties.plan."
    )
    assert undeclared.text.startswith("Unknown field 'properties.tier'")


async def test_a_request_without_a_valid_key_is_a_401(workspace: Workspace) -> None:
    segment_id = await given_customers(workspace)
    url = f"{workspace.base_url}/segments/{segment_id}/export.csv"

    missing = await workspace.http.get(url)
    wrong = await workspace.http.get(url, headers={"Authorization": "Bearer sq_wrong"})

    assert (missing.status_code, wrong.status_code) == (401, 401)
    assert "c1" not in missing.text + wrong.text


async def test_unknown_segments_and_instances_are_404_even_from_another_workspace(
    workspace: Workspace, other_workspace: Workspace, clock: FakeClock
) -> None:
    segment_id = await given_customers(workspace)
    instance = await take(workspace, segment_id)
    other_segment = (await create_ok(workspace, name="Other", predicate=country_is("DE")))["id"]

    responses = [
        await export(workspace, "/segments/seg_nope/export.csv"),
        await export(workspace, f"/segments/{segment_id}/instances/nope/export.csv"),
        await export(workspace, f"/segments/{other_segment}/instances/{instance['id']}/export.csv"),
        await export(other_workspace, f"/segments/{segment_id}/export.csv"),
        await export(
            other_workspace, f"/segments/{segment_id}/instances/{instance['id']}/export.csv"
        ),
    ]

    assert [r.status_code for r in responses] == [404] * 5
    assert all("c1" not in r.text for r in responses)


# ---- streaming ----------------------------------------------------------------


async def given_many_french(runtime: Runtime, ws: Workspace, count: int, name: str) -> None:
    """Bulk setup straight in SQL: thousands of upserts through HTTP would be slow."""
    async with runtime.engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO customer (workspace_pk, id, name, country) "
                "SELECT w.pk, 's' || lpad(n::text, 5, '0'), :name, 'FR' "
                "FROM workspace w, generate_series(1, :count) n WHERE w.name = :ws"
            ),
            {"ws": ws.name, "count": count, "name": name},
        )


async def app_connections(runtime: Runtime) -> tuple[int, int]:
    """(connections the app has checked out, idle-in-transaction sessions on the database)."""
    async with runtime.engine.connect() as conn:
        idle = await conn.execute(
            text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND state LIKE 'idle in transaction%' AND pid <> pg_backend_pid()"
            )
        )
        stuck = int(idle.scalar_one())
    return runtime.engine.pool.checkedout(), stuck  # type: ignore[attr-defined]


async def test_a_client_leaving_mid_stream_cancels_the_export_cleanly(
    runtime: Runtime, workspace: Workspace
) -> None:
    # given a segment of 3000 members, exported wide enough to outrun every buffer
    await given_many_french(runtime, workspace, 3000, name="n" * 250)
    segment_id = (await create_ok(workspace, name="Many", predicate=country_is("FR")))["id"]
    baseline = await app_connections(runtime)
    fields = ",".join(["id"] + ["name"] * 60)

    # when a client reads the first bytes and goes away
    url = f"{workspace.base_url}/segments/{segment_id}/export.csv"
    async with (
        httpx.AsyncClient(timeout=30) as client,
        client.stream("GET", url, params={"fields": fields}, headers=auth(workspace)) as r,
    ):
        assert r.status_code == 200
        chunks, received = r.aiter_bytes(), 0
        while received < 100_000:
            received += len(await anext(chunks))
        during = await app_connections(runtime)  # the export is under way

    # then the export's connection goes back and the service keeps answering
    for _ in range(100):
        if await app_connections(runtime) == baseline:
            break
        await asyncio.sleep(0.05)
    assert during[0] == baseline[0] + 1
    assert await app_connections(runtime) == baseline
    health = await workspace.http.get(f"{workspace.base_url}/healthz")
    full = await export(workspace, f"/segments/{segment_id}/export.csv", "id")
    assert health.status_code == 200
    assert len(parse(full.text)) == 3001


# ---- the command line ---------------------------------------------------------


async def test_the_export_command_writes_the_same_csv_with_a_progress_bar(
    runtime: Runtime, workspace: Workspace
) -> None:
    segment_id = await given_customers(workspace)
    await stats(workspace, segment_id)  # a cached count gives the bar its total
    over_http = await export(workspace, f"/segments/{segment_id}/export.csv", ALL_FIELDS)
    out, progress = io.BytesIO(), io.StringIO()

    bar = CommandProgress("export", stream=progress)
    rows = await export_csv(runtime, workspace.name, segment_id, ALL_FIELDS, out, bar)

    assert rows == 2
    assert out.getvalue() == over_http.content
    assert progress.getvalue().startswith("export: ")  # not a terminal: plain lines
    assert progress.getvalue().count("2/2 rows") == 1


async def test_the_export_command_refuses_unknown_workspaces_segments_and_fields(
    runtime: Runtime, workspace: Workspace
) -> None:
    segment_id = await given_customers(workspace)
    errors: list[Any] = []
    for ws, seg, fields in (
        ("no-such-workspace", segment_id, "id"),
        (workspace.name, "seg_nope", "id"),
        (workspace.name, segment_id, "id,nope"),
    ):
        try:
            await export_csv(
                runtime, ws, seg, fields, io.BytesIO(), CommandProgress("export", quiet=True)
            )
        except SystemExit as exc:
            errors.append(str(exc))

    assert len(errors) == 3
    assert "no workspace" in errors[0]
    assert "seg_nope" in errors[1]
    assert "nope" in errors[2]
