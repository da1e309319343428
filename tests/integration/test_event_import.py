"""`segmentql import events FILE.jsonl`: bad lines reported by number and skipped, the rest loaded.

Run both through the real command (a subprocess against the test database)
and straight through api.services.event_import.import_events.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

import persistence.event_import
from api.runtime import Runtime
from api.services.event_import import import_events
from tests.api.event_documents import active_segment, logged_events
from tests.api.tracked_event_documents import (
    SEGMENT_FIELDS,
    customers,
    event,
    timeline,
    track_ok,
)
from tests.cli import run_cli
from tests.conftest import Workspace
from tests.integration.dataset import clock_at

NOW = datetime(2026, 6, 10, 12, tzinfo=UTC)


def line(**fields: object) -> str:
    return json.dumps(fields)


# Line numbers matter: the report names them.
LINES = [
    line(customerId="ada", name="view", occurredAt="2026-06-01T10:00:00Z", id="i1"),  # 1
    line(  # 2: an offset, converted to UTC
        customerId="bob",
        name="buy",
        occurredAt="2026-06-01T11:00:00+02:00",
        id="i2",
        properties={"cart": 3, "coupon": "SPRING"},
    ),
    '{"customerId": "ada", "name": ',  # 3: not JSON
    "",  # 4: blank, skipped silently
    line(customerId="nobody", name="view", id="i5"),  # 5: unknown customer
    line(customerId="ada", name="view", occurredAt="yesterday", id="i6"),  # 6: bad time
    line(customerId="ada", name="view", occurredAt="2026-06-01T10:00:00Z", id="i1"),  # 7: dup
    line(customerId="ada", name="buy", id="i8"),  # 8: no time: now
    "[1, 2]",  # 9: not an object
    line(customerId="ada", name="", id="i10"),  # 10: empty name
    line(customerId="ada", name="view", properties=[1], id="i11"),  # 11: properties a list
    line(customerId="ada", name="view", occurredAt=5, id="i12"),  # 12: a number for a time
    line(customerId="bob", name="login", id="pre"),  # 13: stored earlier by eventsTrack
    line(customerId="ada", name="café_visité", occurredAt="2026-06-02", id="i14"),  # 14
]
BAD_LINES = [3, 5, 6, 9, 10, 11, 12]


@pytest.fixture
def jsonl(tmp_path: Path) -> Path:
    path = tmp_path / "events.jsonl"
    path.write_text("\n".join(LINES) + "\n", encoding="utf-8")
    return path


async def given_customers(ws: Workspace) -> None:
    await customers(ws, "ada", "bob")
    await track_ok(ws, event("bob", "login", id="pre", occurredAt="2026-05-01T00:00:00Z"))


async def then_the_good_lines_are_loaded(ws: Workspace) -> None:
    ada = await timeline(ws, "ada")
    assert [(n["id"], n["name"], n["occurredAt"]) for n in ada] == [
        ("i8", "buy", "2026-06-10T12:00:00+00:00"),
        ("i14", "café_visité", "2026-06-02T00:00:00+00:00"),
        ("i1", "view", "2026-06-01T10:00:00+00:00"),
    ]
    bob = await timeline(ws, "bob")
    assert [(n["id"], n["occurredAt"], n["properties"]) for n in bob] == [
        ("i2", "2026-06-01T09:00:00+00:00", {"cart": 3, "coupon": "SPRING"}),
        ("pre", "2026-05-01T00:00:00+00:00", {}),
    ]


# ---- straight through the service ----------------------------------------------------


async def test_bad_lines_are_reported_and_the_rest_loaded(
    workspace: Workspace, runtime: Runtime, jsonl: Path
) -> None:
    # given two customers, one event already tracked, and the file
    await given_customers(workspace)

    # when it is imported
    with clock_at(runtime, NOW):
        report = await import_events(runtime, workspace.name, jsonl)

    # then the report counts and names the bad lines, with a reason each
    assert (report.lines, report.loaded, report.duplicates) == (14, 4, 2)
    assert report.bad_count == len(BAD_LINES)
    assert sorted(number for number, _ in report.bad) == BAD_LINES
    reasons = dict(report.bad)
    assert "not JSON" in reasons[3]
    assert "nobody" in reasons[5]
    assert "occurredAt" in reasons[6] and "occurredAt" in reasons[12]
    assert "object" in reasons[9]
    assert "name" in reasons[10]
    assert "properties" in reasons[11]
    # and every good line is stored once
    await then_the_good_lines_are_loaded(workspace)


async def test_importing_the_same_file_again_loads_nothing_new(
    workspace: Workspace, runtime: Runtime, jsonl: Path
) -> None:
    await given_customers(workspace)
    with clock_at(runtime, NOW):
        await import_events(runtime, workspace.name, jsonl)

    # when the same file is imported again (later)
    again = await import_events(runtime, workspace.name, jsonl)

    # then nothing new is loaded, every good line counts as already stored
    assert (again.loaded, again.duplicates, again.bad_count) == (0, 6, len(BAD_LINES))
    await then_the_good_lines_are_loaded(workspace)


async def test_chunks_load_one_after_another(
    workspace: Workspace, runtime: Runtime, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given chunks of three lines, and a file of ten events with an id repeated across chunks
    monkeypatch.setattr(persistence.event_import, "CHUNK_LINES", 3)
    await customers(workspace, "ada")
    rows = [line(customerId="ada", name=f"n{i}", id=f"k{i}") for i in range(9)]
    rows.append(line(customerId="ada", name="n0 again", id="k0"))
    path = tmp_path / "chunked.jsonl"
    path.write_text("\n".join(rows), encoding="utf-8")  # no final newline

    # when it is imported
    report = await import_events(runtime, workspace.name, path)

    # then every chunk is loaded, the repeat once
    assert (report.lines, report.loaded, report.duplicates, report.bad_count) == (10, 9, 1, 0)
    assert sorted(n["name"] for n in await timeline(workspace, "ada")) == [
        f"n{i}" for i in range(9)
    ]


async def test_events_without_id_load_on_every_import(
    workspace: Workspace, runtime: Runtime, tmp_path: Path
) -> None:
    """Only an id makes a line safe to load twice; the docs say so."""
    await customers(workspace, "ada")
    path = tmp_path / "anonymous.jsonl"
    path.write_text(line(customerId="ada", name="view", occurredAt="2026-01-01"), encoding="utf-8")
    for _ in range(2):
        report = await import_events(runtime, workspace.name, path)
        assert report.loaded == 1
    assert len(await timeline(workspace, "ada")) == 2


async def test_the_report_keeps_the_first_bad_lines_and_counts_all(
    workspace: Workspace, runtime: Runtime, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(persistence.event_import, "MAX_REPORTED", 2)
    await customers(workspace, "ada")
    path = tmp_path / "bad.jsonl"
    path.write_text("x\ny\nz\n" + line(customerId="ada", name="ok") + "\n", encoding="utf-8")

    report = await import_events(runtime, workspace.name, path)

    assert report.bad == [(1, report.bad[0][1]), (2, report.bad[1][1])]
    assert (report.bad_count, report.loaded) == (3, 1)


async def test_a_byte_order_mark_and_broken_utf8_spoil_no_good_line(
    workspace: Workspace, runtime: Runtime, tmp_path: Path
) -> None:
    # given a file saved with a BOM, whose second line holds bytes that are not UTF-8
    await customers(workspace, "ada")
    path = tmp_path / "windows.jsonl"
    path.write_bytes(
        b"\xef\xbb\xbf" + line(customerId="ada", name="first", id="u1").encode() + b"\r\n"
        + b'{"customerId": "ada", "name": "caf\xe9", "id": "u2"}\r\n'
        + line(customerId="ada", name="third", id="u3").encode() + b"\r\n"
    )  # fmt: skip

    report = await import_events(runtime, workspace.name, path)

    # then the first and third lines load and the second is reported
    assert (report.loaded, report.bad_count) == (2, 1)
    assert [number for number, _ in report.bad] == [2]
    assert sorted(n["name"] for n in await timeline(workspace, "ada")) == ["first", "third"]


async def test_an_unknown_workspace_stops_the_import(runtime: Runtime, jsonl: Path) -> None:
    with pytest.raises(SystemExit, match="no workspace"):
        await import_events(runtime, "no-such-workspace", jsonl)


async def test_imported_events_move_active_segments_and_name_suggestions(
    workspace: Workspace, runtime: Runtime, tmp_path: Path
) -> None:
    # given an ACTIVE segment of customers who ever imported_signal
    await customers(workspace, "ada", "bob")
    where = {"condition": {"field": "name", "operator": "EQ", "value": "imported_signal"}}
    predicate = {"related": {"scope": "EVENTS", "quantifier": "ANY", "where": where}}
    segment_id = await active_segment(workspace, "signalled", predicate)

    # when a file with that event for ada is imported
    path = tmp_path / "signal.jsonl"
    path.write_text(line(customerId="ada", name="imported_signal", id="s1"), encoding="utf-8")
    await import_events(runtime, workspace.name, path)

    # then ada entered the segment, and the name is suggested to predicate editors
    assert [(e["kind"], e["customerId"]) for e in await logged_events(workspace, segment_id)] == [
        ("ENTERED", "ada")
    ]
    fields = (await workspace.gql(SEGMENT_FIELDS)).data["segmentFields"]
    [name] = [f for f in fields if f["scope"] == "EVENTS" and f["path"] == "name"]
    assert name["suggestedValues"] == ["imported_signal"]


# ---- through the command ---------------------------------------------------------------


async def test_the_command_imports_and_reports(
    workspace: Workspace, database_url: str, jsonl: Path
) -> None:
    # given two customers and one event already tracked
    await given_customers(workspace)

    # when the command imports the file (once: each run starts a Python process)
    code, out, err = await run_cli(
        database_url, "import", "events", str(jsonl), "--workspace", workspace.name
    )

    # then it exits 0 and reports counts, and each bad line by number on stderr
    assert code == 0, err
    assert "4 events loaded, 2 already stored, 7 bad lines skipped" in out
    bad = [row for row in err.splitlines() if row.startswith("line ")]
    assert [int(row.split(":")[0].removeprefix("line ")) for row in bad] == BAD_LINES
    assert "import: 14 lines" in err  # the progress line
    assert len(await timeline(workspace, "ada")) == 3
    assert len(await timeline(workspace, "bob")) == 2
