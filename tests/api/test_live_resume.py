"""Resuming a subscription with `after`: exactly the missed events, in order, then live ones."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from gql.transport.exceptions import TransportQueryError

from domain.access import Role
from tests.api.event_documents import (
    active_segment,
    in_germany,
    last_event_id,
    logged_events,
    move,
    subscribed,
    summary,
)
from tests.conftest import Workspace


def ids(events: list[dict[str, Any]]) -> list[int]:
    return [int(e["id"]) for e in events]


async def test_a_reconnecting_subscriber_gets_exactly_what_it_missed_then_live_events(
    workspace: Workspace, server: str
) -> None:
    # given: a subscriber that saw one event, then disconnected
    segment_id = await active_segment(workspace, "Germans", in_germany())
    key = workspace.keys[Role.READ]
    async with subscribed(server, key, segmentId=segment_id, after="0") as first:
        await move(workspace, "c1", "DE")
        seen = await first.next()
    assert summary([seen]) == [("ENTERED", "c1")]

    # when: changes happen while it is away, and it comes back with after = the last id it saw
    await move(workspace, "c1", "FR")
    await move(workspace, "c2", "DE")
    await move(workspace, "c3", "DE")
    logged = await logged_events(workspace, segment_id)
    missed = [e for e in logged if int(e["id"]) > int(seen["id"])]
    async with subscribed(server, key, segmentId=segment_id, after=seen["id"]) as again:
        replayed = await again.take(3)

        # then: exactly the missed events, in order
        assert replayed == missed
        assert summary(replayed) == [("LEFT", "c1"), ("ENTERED", "c2"), ("ENTERED", "c3")]

        # when: more changes happen while it is connected
        await move(workspace, "c2", "FR")
        await move(workspace, "c3", "FR")

        # then: they follow, with no duplicate at the seam between replay and live
        live = await again.take(2)
        assert summary(live) == [("LEFT", "c2"), ("LEFT", "c3")]
        assert ids(replayed + live) == sorted(set(ids(replayed + live)))
        assert again.pending() == 0


async def test_writes_racing_a_resume_arrive_once_each_in_order(
    workspace: Workspace, server: str
) -> None:
    # given: an ACTIVE segment with some history
    segment_id = await active_segment(workspace, "Germans", in_germany())
    await move(workspace, "c1", "DE")
    cursor = await last_event_id(workspace)

    async def churn() -> None:
        for round_ in range(12):
            await move(workspace, f"r{round_ % 3}", "DE" if round_ % 2 == 0 else "FR")

    # when: the subscriber resumes while writes keep landing (replay and live overlap)
    async with subscribed(server, workspace.keys[Role.READ], after=cursor) as resumed:
        await asyncio.gather(churn(), move(workspace, "c1", "FR"))
        expected = [e for e in await logged_events(workspace) if int(e["id"]) > int(cursor)]
        received = await resumed.take(len(expected))

        # then: every event after the cursor exactly once, in id order
        assert received == expected
        assert ids(received) == list(range(int(cursor) + 1, int(cursor) + 1 + len(expected)))
        assert segment_id in {e["segmentId"] for e in received}
        assert resumed.pending() == 0


async def test_without_after_only_events_after_subscribing_arrive(
    workspace: Workspace, server: str
) -> None:
    # given: an event logged before anyone subscribes
    segment_id = await active_segment(workspace, "Germans", in_germany())
    await move(workspace, "c1", "DE")
    before = int(await last_event_id(workspace))

    # when: subscribing without `after`, then changing c2 until the stream is visibly live
    async with subscribed(server, workspace.keys[Role.READ], segmentId=segment_id) as fresh:
        country = "FR"
        first = None
        for _ in range(40):
            country = "DE" if country == "FR" else "FR"
            await move(workspace, "c2", country)
            try:
                first = await fresh.next(timeout=0.5)
                break
            except TimeoutError:
                continue  # subscribed after that write: it is (rightly) not replayed
        assert first is not None, "the subscription never delivered a live event"

        # then: the earlier event never arrives; from the first one on, nothing is skipped
        assert int(first["id"]) > before
        assert first["customerId"] == "c2"
        await move(workspace, "c1", "FR")
        expected = [e for e in await logged_events(workspace) if int(e["id"]) >= int(first["id"])]
        received = [first, *await fresh.take(len(expected) - 1)]
        assert received == expected
        assert summary(received[-1:]) == [("LEFT", "c1")]
        assert fresh.pending() == 0


async def test_resuming_after_an_id_not_given_out_yet_is_refused(
    workspace: Workspace, server: str
) -> None:
    # given: a workspace whose newest event is 1
    await active_segment(workspace, "Germans", in_germany())
    await move(workspace, "c1", "DE")

    # when: a client resumes after an id from the future (another workspace's, a restored backup)
    async with subscribed(server, workspace.keys[Role.READ], after="99") as lost:
        # then: an error says so, instead of silently skipping the next 98 events
        with pytest.raises(TransportQueryError) as caught:
            await lost.next()
    assert caught.value.errors is not None
    assert caught.value.errors[0]["extensions"]["code"] == "INVALID"
    assert "newest is 1" in caught.value.errors[0]["message"]
