"""Reading tracked events: Customer.events, segmentFields' event names, retention."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from api.background import default_jobs, prune_tracked_events
from api.runtime import Runtime
from api.services.tracked_events import prune
from tests.api.event_documents import active_segment, logged_events
from tests.api.segment_documents import is_member, member_ids
from tests.api.tracked_event_documents import (
    SEGMENT_FIELDS,
    TIMELINE,
    customers,
    event,
    timeline,
    timeline_page,
    track,
    track_ok,
)
from tests.conftest import Workspace
from tests.integration.dataset import clock_at

T0 = datetime(2026, 6, 1, tzinfo=UTC)


def at(hours: int) -> str:
    return (T0 + timedelta(hours=hours)).isoformat()


async def seven_events(ws: Workspace) -> None:
    """ada: seven events, two pairs tied in time; bob: one event, which ada never shows."""
    await customers(ws, "ada", "bob")
    await track_ok(
        ws,
        event("ada", "view", id="e1", occurredAt=at(1)),
        event("ada", "buy", id="e2", occurredAt=at(5)),
        event("ada", "view", id="e3", occurredAt=at(3)),
        event("ada", "view", id="e4", occurredAt=at(3)),  # ties e3: stored later, shown first
        event("ada", "buy", id="e5", occurredAt=at(7)),
        event("bob", "view", id="b1", occurredAt=at(4)),
    )
    await track_ok(
        ws,
        event("ada", "buy", id="e6", occurredAt=at(5)),  # ties e2, in a later call
        event("ada", "refund", occurredAt=at(2), properties={"amount": 9.5}),
    )


NEWEST_FIRST = ["e5", "e6", "e2", "e4", "e3", None, "e1"]


# ---- Customer.events --------------------------------------------------------------


async def test_pages_run_newest_first_and_cursors_chain(workspace: Workspace) -> None:
    # given seven events of ada
    await seven_events(workspace)

    # when they are read three at a time
    pages: list[dict[str, Any]] = []
    after = None
    while True:
        page = await timeline_page(workspace, "ada", first=3, after=after)
        pages.append(page)
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]

    # then the pages hold every event once, newest first, ties by storage order, newest first
    ids = [edge["node"]["id"] for page in pages for edge in page["edges"]]
    assert ids == NEWEST_FIRST
    assert [len(page["edges"]) for page in pages] == [3, 3, 1]
    assert {page["totalCount"] for page in pages} == {7}
    assert [page["pageInfo"]["hasPreviousPage"] for page in pages] == [False, True, True]
    for page in pages:
        assert page["pageInfo"]["startCursor"] == page["edges"][0]["cursor"]
        assert page["pageInfo"]["endCursor"] == page["edges"][-1]["cursor"]
    refund = pages[1]["edges"][2]["node"]
    assert refund == {
        "id": None,
        "name": "refund",
        "occurredAt": "2026-06-01T02:00:00+00:00",
        "properties": {"amount": 9.5},
    }


async def test_the_name_filter_narrows_pages_and_total(workspace: Workspace) -> None:
    await seven_events(workspace)

    first = await timeline_page(workspace, "ada", first=2, name="buy")
    rest = await timeline_page(
        workspace, "ada", first=2, name="buy", after=first["pageInfo"]["endCursor"]
    )

    assert [e["node"]["id"] for e in first["edges"]] == ["e5", "e6"]
    assert [e["node"]["id"] for e in rest["edges"]] == ["e2"]
    assert first["totalCount"] == rest["totalCount"] == 3
    assert first["pageInfo"]["hasNextPage"] and not rest["pageInfo"]["hasNextPage"]
    assert [n["name"] for n in await timeline(workspace, "ada", name="view")] == ["view"] * 3
    nothing = await timeline_page(workspace, "ada", name="never_tracked")
    assert nothing["edges"] == [] and nothing["totalCount"] == 0
    assert nothing["pageInfo"]["endCursor"] is None


async def test_cursors_are_stable_while_new_events_arrive(workspace: Workspace) -> None:
    # given a first page handed out
    await seven_events(workspace)
    first = await timeline_page(workspace, "ada", first=3)

    # when newer events, and one tied with the page's last, are tracked meanwhile
    await track_ok(
        workspace,
        event("ada", "view", id="late", occurredAt=at(9)),
        event("ada", "view", id="tie", occurredAt=at(5)),
    )
    rest = await timeline_page(workspace, "ada", first=10, after=first["pageInfo"]["endCursor"])

    # then the next page goes on where the first stopped
    assert [e["node"]["id"] for e in rest["edges"]] == ["e4", "e3", None, "e1"]
    assert rest["totalCount"] == 9


async def test_a_customer_without_events_has_an_empty_timeline(workspace: Workspace) -> None:
    await customers(workspace, "ada")
    page = await timeline_page(workspace, "ada")
    assert page == {
        "totalCount": 0,
        "edges": [],
        "pageInfo": {
            "hasNextPage": False,
            "hasPreviousPage": False,
            "startCursor": None,
            "endCursor": None,
        },
    }


@pytest.mark.parametrize(
    "args",
    [{"after": "not-a-cursor"}, {"after": "ZTpub3RhZGF0ZXwx"}, {"first": 0}, {"first": 1001}],
    ids=["garbage cursor", "cursor with a bad time", "first 0", "first 1001"],
)
async def test_bad_paging_arguments_are_request_errors(
    workspace: Workspace, args: dict[str, Any]
) -> None:
    await customers(workspace, "ada")
    result = await workspace.gql(TIMELINE, {"id": "ada", **args})
    assert [e["extensions"]["code"] for e in result.errors] == ["BAD_USER_INPUT"]


# ---- segmentFields -----------------------------------------------------------------


async def test_segment_fields_list_the_events_scope_and_names_tracked(
    workspace: Workspace, other_workspace: Workspace
) -> None:
    # given events named login and checkout_started here, and another name elsewhere
    await customers(workspace, "ada")
    await track_ok(workspace, event("ada", "login"), event("ada", "checkout_started"))
    await track_ok(workspace, event("ada", "login"))
    await customers(other_workspace, "zed")
    await track_ok(other_workspace, event("zed", "elsewhere"))
    # and a refused batch, whose name is not remembered
    refused = await track(workspace, event("ada", "ghost"), event("nobody", "ghost"))
    assert refused["userErrors"]

    # when the field catalog is read
    fields = (await workspace.gql(SEGMENT_FIELDS)).data["segmentFields"]

    # then the EVENTS scope is there, with the names tracked here as suggestions for name
    events = {f["path"]: f for f in fields if f["scope"] == "EVENTS"}
    assert set(events) == {"id", "name", "occurredAt", "properties.*"}
    assert events["name"]["suggestedValues"] == ["checkout_started", "login"]
    assert events["occurredAt"]["type"] == "DATETIME"
    assert events["properties.*"]["type"] is None
    assert {"EQ", "GT", "EXISTS", "MATCHES"} <= set(events["properties.*"]["operators"])
    others = [f for f in fields if not (f["scope"] == "EVENTS" and f["path"] == "name")]
    assert all(f["suggestedValues"] is None for f in others)


async def test_a_new_workspace_suggests_no_event_names(workspace: Workspace) -> None:
    fields = (await workspace.gql(SEGMENT_FIELDS)).data["segmentFields"]
    [name] = [f for f in fields if f["scope"] == "EVENTS" and f["path"] == "name"]
    assert name["suggestedValues"] == []


# ---- retention ---------------------------------------------------------------------

# Far in the past, so that pruning (which covers every workspace) touches only these events.
LONG_AGO = datetime(2000, 1, 1, tzinfo=UTC)


async def test_events_older_than_the_retention_are_pruned(
    workspace: Workspace, runtime: Runtime
) -> None:
    # given events from before, at and after the retention boundary of a clock 401 days on
    assert runtime.settings.tracked_event_retention_days == 400
    await customers(workspace, "ada")
    boundary = LONG_AGO + timedelta(days=1)
    await track_ok(
        workspace,
        event("ada", "old", id="old", occurredAt=(LONG_AGO - timedelta(days=1)).isoformat()),
        event("ada", "older", id="older", occurredAt=(LONG_AGO - timedelta(days=30)).isoformat()),
        event("ada", "edge", id="edge", occurredAt=boundary.isoformat()),
        event("ada", "new", id="new", occurredAt=(boundary + timedelta(seconds=1)).isoformat()),
    )

    # when the background job runs with the clock 401 days ahead
    with clock_at(runtime, LONG_AGO + timedelta(days=401)):
        removed = await prune_tracked_events(runtime)

    # then only the events older than 400 days are gone
    assert removed == 2
    assert [n["id"] for n in await timeline(workspace, "ada")] == ["new", "edge"]
    # and the names stay suggested to predicate editors
    fields = (await workspace.gql(SEGMENT_FIELDS)).data["segmentFields"]
    [name] = [f for f in fields if f["scope"] == "EVENTS" and f["path"] == "name"]
    assert name["suggestedValues"] == ["edge", "new", "old", "older"]
    # and a pruned id is free again (the idempotency window is the retention)
    await track_ok(workspace, event("ada", "old", id="old", occurredAt=T0.isoformat()))
    assert [n["id"] for n in await timeline(workspace, "ada")] == ["old", "new", "edge"]


async def test_pruning_goes_batch_by_batch(workspace: Workspace, runtime: Runtime) -> None:
    await customers(workspace, "ada")
    old = (LONG_AGO - timedelta(days=2)).isoformat()
    await track_ok(workspace, *[event("ada", "old", occurredAt=old) for _ in range(5)])

    removed = await prune(runtime, LONG_AGO, batch=2)

    assert removed == 5
    assert await timeline(workspace, "ada") == []


async def test_retention_runs_in_the_background(runtime: Runtime) -> None:
    jobs = {job.name: job for job in default_jobs(runtime)}
    assert "tracked event retention" in jobs
    assert jobs["tracked event retention"].job is prune_tracked_events


async def test_pruned_events_leave_active_segments_consistent(
    workspace: Workspace, runtime: Runtime
) -> None:
    # given an ACTIVE segment "ever signed up" (not time-relative), and ada's old signup
    await customers(workspace, "ada")
    where = {"condition": {"field": "name", "operator": "EQ", "value": "signup"}}
    signed_up = {"related": {"scope": "EVENTS", "quantifier": "ANY", "where": where}}
    with clock_at(runtime, LONG_AGO):
        segment_id = await active_segment(workspace, "signed up", signed_up)
        await track_ok(workspace, event("ada", "signup", occurredAt=LONG_AGO.isoformat()))
    assert await member_ids(workspace, segment_id) == ["ada"]

    # when retention prunes the signup
    with clock_at(runtime, LONG_AGO + timedelta(days=401)):
        assert await prune_tracked_events(runtime) == 1

        # then ada left: the stored members, the log and a live check agree
        assert await member_ids(workspace, segment_id) == []
        assert not await is_member(workspace, segment_id, "ada")
        log = await logged_events(workspace, segment_id)
        assert [(e["kind"], e["customerId"]) for e in log] == [("ENTERED", "ada"), ("LEFT", "ada")]
