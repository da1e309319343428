"""segmentMembershipChanged over a real WebSocket: across processes, who may subscribe, isolation.

A second `segmentql serve` runs as a subprocess on its own port against the
same database; a change written through one process reaches subscribers of
the other through Postgres LISTEN/NOTIFY.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from gql import Client, GraphQLRequest
from gql.transport.exceptions import TransportQueryError

from domain.access import Role
from tests.api.event_documents import (
    CHANGED,
    active_segment,
    in_germany,
    last_event_id,
    move,
    subscribed,
    transport,
)
from tests.cli import serve_process
from tests.conftest import Workspace


@pytest.fixture(scope="module")
async def second_server(
    database_url: str, server: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[str]:
    """`segmentql serve` in its own process, on its own port, on the test database."""
    log = tmp_path_factory.mktemp("second-server") / "serve.log"
    async with serve_process(database_url, log) as (base_url, _):
        yield base_url


def through(ws: Workspace, base_url: str) -> Workspace:
    """The same workspace and keys, talking to another process."""
    return Workspace(ws.name, ws.keys, base_url, ws.http)


async def test_a_change_written_through_one_process_reaches_subscribers_of_both(
    workspace: Workspace, server: str, second_server: str
) -> None:
    # given: an ACTIVE segment, and a subscriber connected to each process
    segment_id = await active_segment(workspace, "Germans", in_germany())
    start = await last_event_id(workspace)
    key = workspace.keys[Role.ADMIN]
    async with (
        subscribed(second_server, key, segmentId=segment_id, after=start) as far,
        subscribed(server, key, segmentId=segment_id, after=start) as near,
    ):
        # when: a customer moves to Germany through the in-process server
        await move(workspace, "c1", "DE")

        # then: both subscribers receive ENTERED
        entered = await far.next()
        assert (entered["kind"], entered["customerId"], entered["segmentId"]) == (
            "ENTERED",
            "c1",
            segment_id,
        )
        assert await near.next() == entered

        # when: the customer leaves through the second process
        await move(through(workspace, second_server), "c1", "FR")

        # then: both receive LEFT, numbered after ENTERED
        left = await near.next()
        assert (left["kind"], left["customerId"]) == ("LEFT", "c1")
        assert int(left["id"]) > int(entered["id"])
        assert await far.next() == left


async def test_a_read_key_may_subscribe(workspace: Workspace, server: str) -> None:
    # given: an ACTIVE segment and a subscriber holding only a READ key
    segment_id = await active_segment(workspace, "Germans", in_germany())
    start = await last_event_id(workspace)
    async with subscribed(server, workspace.keys[Role.READ], after=start) as reader:
        # when
        await move(workspace, "c1", "DE")

        # then
        event = await reader.next()
        assert (event["kind"], event["customerId"], event["segmentId"]) == (
            "ENTERED",
            "c1",
            segment_id,
        )


async def test_a_bad_key_in_connection_init_is_rejected_with_4403(server: str) -> None:
    # when: connection_init carries a key that does not exist
    with pytest.raises(Exception) as caught:
        async with Client(transport=transport(server, "sq_not_a_real_key")) as session:
            async for _ in session.subscribe(GraphQLRequest(CHANGED)):
                pass

    # then: the server closes the socket with 4403 Forbidden
    codes = []
    error: BaseException | None = caught.value
    while error is not None:
        codes.append(getattr(getattr(error, "rcvd", None), "code", None))
        error = error.__cause__ or error.__context__
    assert 4403 in codes, caught.value


async def test_another_workspaces_segment_is_an_error_never_its_events(
    workspace: Workspace, other_workspace: Workspace, server: str
) -> None:
    # given: each workspace has an ACTIVE segment
    mine = await active_segment(workspace, "Germans", in_germany())
    theirs = await active_segment(other_workspace, "Their Germans", in_germany())
    start = await last_event_id(workspace)

    # when: subscribing to the other workspace's segment id
    async with subscribed(server, workspace.keys[Role.ADMIN], segmentId=theirs) as prying:
        # then: an error naming the segment as unknown
        with pytest.raises(TransportQueryError) as caught:
            await prying.next()
    assert caught.value.errors and caught.value.errors[0]["extensions"]["code"] == "NOT_FOUND"

    # when: subscribing to the whole workspace while the other one changes, then this one
    async with subscribed(server, workspace.keys[Role.ADMIN], after=start) as everything:
        await move(other_workspace, "x1", "DE")
        await move(workspace, "c1", "DE")

        # then: only this workspace's event arrives
        event = await everything.next()
        assert (event["segmentId"], event["customerId"]) == (mine, "c1")
        assert everything.pending() == 0
