"""Webhooks to a real HTTP receiver: signed, retried, in order per customer, one
process at a time, managed by ADMIN keys, refused for private addresses."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from api.background import Periodic, default_jobs, running
from api.live import hub_of
from api.runtime import Runtime
from api.services.webhook_delivery import deliver_webhooks
from bench.webhook_receiver import Received, receiving
from domain.access import Role
from persistence.webhooks import Claimed, Outcome, claim, fan_out, record
from tests.api.event_documents import active_segment, in_germany, move
from tests.api.webhook_documents import (
    CREATE_ENDPOINT,
    DELETE_ENDPOINT,
    ENDPOINTS,
    REPLAY,
    RETRY,
    ROTATE,
    UPDATE_ENDPOINT,
    create_endpoint,
    deliveries,
    settled,
    webhook_runtime,
)
from tests.cli import serve_process
from tests.conftest import Workspace, serving


@pytest.fixture(scope="module")
async def hooks_runtime(runtime: Runtime) -> AsyncIterator[Runtime]:
    rt = webhook_runtime(runtime)
    yield rt
    await rt.close()


@pytest.fixture(scope="module")
async def hooks_server(hooks_runtime: Runtime) -> AsyncIterator[str]:
    async with serving(hooks_runtime) as url:
        yield url


@pytest.fixture
def ws(workspace: Workspace, hooks_server: str) -> Workspace:
    """The test's workspace, through the server whose settings allow loopback receivers."""
    return Workspace(workspace.name, workspace.keys, hooks_server, workspace.http)


@contextlib.asynccontextmanager
async def delivering(*runtimes: Runtime) -> AsyncIterator[None]:
    """The delivery job running in each runtime, as each server process runs it."""
    async with contextlib.AsyncExitStack() as stack:
        for rt in runtimes:
            await stack.enter_async_context(
                running(rt, [Periodic("webhook delivery", 0.05, deliver_webhooks)])
            )
        yield


def kinds(received: list[Received]) -> list[tuple[str, str]]:
    return [(r.event["type"], r.event["customerId"]) for r in received]


async def test_entered_and_left_arrive_signed_and_verify(
    ws: Workspace, hooks_runtime: Runtime
) -> None:
    # given: an ACTIVE segment and an endpoint for it
    segment_id = await active_segment(ws, "Germans", in_germany())
    async with receiving() as receiver, delivering(hooks_runtime):
        created = await create_endpoint(ws, receiver.url, segmentIds=[segment_id])
        secret = created["secret"]
        assert secret.startswith("whsec_")

        # when: a customer enters, then leaves
        await move(ws, "c1", "DE")
        await move(ws, "c1", "FR")

        # then: both arrive, in order, signed with the endpoint's secret
        got = await receiver.wait_for(2)
    assert kinds(got) == [("SEGMENT_ENTERED", "c1"), ("SEGMENT_LEFT", "c1")]
    for r in got:
        assert r.verifies_with(secret)
        assert not r.verifies_with(created["secret"][:-4] + "AAA=")
        assert {"webhook-id", "webhook-timestamp", "webhook-signature"} <= set(r.headers)
        assert r.event["segmentId"] == segment_id and r.event["segmentName"] == "Germans"
        assert r.event["occurredAt"] and r.event["id"].isdigit()
    # and: the secret is never shown again
    listed = (await ws.gql(ENDPOINTS)).body
    assert "secret" not in str(listed) and "whsec_" not in str(listed)


async def test_a_receiver_failing_three_times_gets_the_event_on_the_fourth_attempt(
    ws: Workspace, hooks_runtime: Runtime
) -> None:
    # given: a receiver answering 500 three times, then 200
    segment_id = await active_segment(ws, "Germans", in_germany())
    async with (
        receiving(lambda r, index: 500 if index < 3 else 200) as receiver,
        delivering(hooks_runtime),
    ):
        endpoint = (await create_endpoint(ws, receiver.url, segmentIds=[segment_id]))["endpoint"]
        # when
        await move(ws, "c1", "DE")
        got = await receiver.wait_for(1)
        [delivery] = await settled(ws, endpoint["id"])
    # then: the fourth request delivered it; the delivery says so
    assert len(receiver.received) == 4
    assert len({r.headers["webhook-id"] for r in receiver.received}) == 1
    assert kinds(got) == [("SEGMENT_ENTERED", "c1")]
    assert (delivery["status"], delivery["attempts"], delivery["lastStatusCode"]) == (
        "DELIVERED",
        4,
        200,
    )
    assert delivery["deliveredAt"] is not None and delivery["nextAttemptAt"] is None


async def test_order_per_customer_holds_under_retries(
    ws: Workspace, hooks_runtime: Runtime
) -> None:
    # given: a receiver refusing c1's ENTERED twice, everything else at once
    segment_id = await active_segment(ws, "Germans", in_germany())
    refused: list[str] = []

    def answer(r: Received, index: int) -> int:
        e = r.event
        if (e["customerId"], e["type"]) == ("c1", "SEGMENT_ENTERED") and len(refused) < 2:
            refused.append(e["id"])
            return 503
        return 200

    async with receiving(answer) as receiver:
        await create_endpoint(ws, receiver.url, segmentIds=[segment_id])
        # when: c1 enters and leaves, c2 enters, before anything is sent
        await move(ws, "c1", "DE")
        await move(ws, "c2", "DE")
        await move(ws, "c1", "FR")
        async with delivering(hooks_runtime):
            got = await receiver.wait_for(3)
    # then: c1's LEFT came only after its ENTERED succeeded; c2 did not wait for c1
    assert len(refused) == 2
    c1 = [k for k in kinds(got) if k[1] == "c1"]
    assert c1 == [("SEGMENT_ENTERED", "c1"), ("SEGMENT_LEFT", "c1")]
    answered = [(r.event["customerId"], r.event["type"], s) for r, s in receiver.answered]
    first_left = answered.index(("c1", "SEGMENT_LEFT", 200))
    assert ("c1", "SEGMENT_ENTERED", 200) in answered[:first_left]
    assert answered.index(("c2", "SEGMENT_ENTERED", 200)) < first_left


async def test_a_commit_wakes_the_sender_at_once_not_at_its_poll(
    ws: Workspace, runtime: Runtime
) -> None:
    # given: another process's sender as the server runs it, polling only every 60 s
    slow = webhook_runtime(runtime, webhook_poll_ms=60_000)
    [job] = [j for j in default_jobs(slow) if j.name == "webhook delivery"]
    segment_id = await active_segment(ws, "Germans", in_germany())
    loop = asyncio.get_running_loop()
    try:
        async with receiving() as receiver:
            endpoint_id = (await create_endpoint(ws, receiver.url, segmentIds=[segment_id]))[
                "endpoint"
            ]["id"]
            async with running(slow, [job]):
                await asyncio.wait_for(hub_of(slow).listening.wait(), 10)
                await asyncio.sleep(0.2)  # its first run, at start, finds nothing
                # when: an event commits in this process
                started = loop.time()
                await move(ws, "c1", "DE")
                await receiver.wait_for(1, timeout=10)
                took_event = loop.time() - started
                [delivery] = await settled(ws, endpoint_id)
                # when: the delivery is retried through this process's API
                started = loop.time()
                retried = (await ws.gql(RETRY, {"id": delivery["id"]})).data
                assert retried["webhookDeliveryRetry"]["userErrors"] == []
                await receiver.wait_for(2, timeout=10)
                took_retry = loop.time() - started
    finally:
        await slow.close()
    # then: the other process sent both long before its next poll
    assert took_event < 5 and took_retry < 5, (took_event, took_retry)


async def test_a_retry_is_sent_when_its_backoff_ends_not_at_the_poll(
    ws: Workspace, runtime: Runtime
) -> None:
    # given: a sender polling only every 60 s, a 1.5 s backoff, a receiver failing once
    slow = webhook_runtime(runtime, webhook_poll_ms=60_000, webhook_backoff_base_ms=1_500)
    [job] = [j for j in default_jobs(slow) if j.name == "webhook delivery"]
    segment_id = await active_segment(ws, "Germans", in_germany())
    try:
        async with receiving(lambda r, index: 500 if index == 0 else 200) as receiver:
            await create_endpoint(ws, receiver.url, segmentIds=[segment_id])
            async with running(slow, [job]):
                await asyncio.wait_for(hub_of(slow).listening.wait(), 10)
                # when: an event is sent, refused, and retried
                await move(ws, "c1", "DE")
                [got] = await receiver.wait_for(1, timeout=10)
    finally:
        await slow.close()
    # then: the second attempt came about the backoff after the first, long before the poll
    first, second = receiver.received
    assert second is got and 1.0 < second.at - first.at < 5, second.at - first.at


async def test_two_processes_deliver_each_event_exactly_once(
    ws: Workspace, hooks_runtime: Runtime, runtime: Runtime
) -> None:
    # given: two processes' delivery workers on the same database
    other = webhook_runtime(runtime)
    segment_id = await active_segment(ws, "Germans", in_germany())
    try:
        async with receiving() as receiver:
            await create_endpoint(ws, receiver.url, segmentIds=[segment_id])
            # when: 40 customers enter
            for n in range(40):
                await move(ws, f"c{n}", "DE")
            async with delivering(hooks_runtime, other):
                got = await receiver.wait_for(40)
                await asyncio.sleep(0.5)
    finally:
        await other.close()
    # then: each event arrived exactly once
    ids = [r.event["id"] for r in receiver.received]
    assert len(ids) == 40 == len(set(ids)) and len(got) == 40


async def test_rotation_signs_with_both_secrets_for_the_overlap(
    ws: Workspace, hooks_runtime: Runtime
) -> None:
    segment_id = await active_segment(ws, "Germans", in_germany())
    async with receiving() as receiver, delivering(hooks_runtime):
        created = await create_endpoint(ws, receiver.url, segmentIds=[segment_id])
        # when: the secret is rotated, then an event is sent
        rotated = (await ws.gql(ROTATE, {"id": created["endpoint"]["id"]})).data[
            "webhookEndpointRotateSecret"
        ]
        assert rotated["userErrors"] == [] and rotated["secret"] != created["secret"]
        await move(ws, "c1", "DE")
        [got] = await receiver.wait_for(1)
    # then: receivers holding either secret verify it
    assert got.verifies_with(created["secret"]) and got.verifies_with(rotated["secret"])
    assert len(got.headers["webhook-signature"].split(" ")) == 2


async def test_private_and_plain_http_urls_are_refused_without_the_settings(
    workspace: Workspace,
) -> None:
    # given: the default settings (no private addresses, no http hosts allowed)
    for url, field in [
        ("https://127.0.0.1/hook", "url"),
        ("https://10.1.2.3/hook", "url"),
        ("https://169.254.169.254/latest", "url"),
        ("https://[::1]/hook", "url"),
        ("http://example.com/hook", "url"),
    ]:
        # when
        payload = (await workspace.gql(CREATE_ENDPOINT, {"url": url})).data["webhookEndpointCreate"]
        # then: a coded userError, and nothing created
        assert payload["endpoint"] is None and payload["secret"] is None
        assert [(e["field"], e["code"]) for e in payload["userErrors"]] == [
            ([field], "WEBHOOK_URL_REFUSED")
        ], url
    for url in ["ftp://example.com/x", "not a url", "https://user:pw@example.com/"]:
        payload = (await workspace.gql(CREATE_ENDPOINT, {"url": url})).data["webhookEndpointCreate"]
        assert payload["userErrors"][0]["code"] == "INVALID", url
    assert (await workspace.gql(ENDPOINTS)).data["webhookEndpoints"] == []


async def test_only_admin_keys_manage_endpoints(ws: Workspace) -> None:
    for role in (Role.READ, Role.WRITE):
        result = await ws.gql(ENDPOINTS, role=role)
        assert result.errors[0]["extensions"]["code"] == "FORBIDDEN"
        result = await ws.gql(CREATE_ENDPOINT, {"url": "http://127.0.0.1:9/x"}, role=role)
        assert result.errors[0]["extensions"]["code"] == "FORBIDDEN"


async def test_update_disable_delete_and_unknown_ids(ws: Workspace) -> None:
    created = await create_endpoint(ws, "http://127.0.0.1:9/x")
    endpoint_id = created["endpoint"]["id"]
    assert created["endpoint"]["eventTypes"] == ["SEGMENT_ENTERED", "SEGMENT_LEFT"]
    updated = (await ws.gql(UPDATE_ENDPOINT, {"id": endpoint_id, "enabled": False})).data
    assert updated["webhookEndpointUpdate"]["endpoint"]["enabled"] is False
    refused = (await ws.gql(UPDATE_ENDPOINT, {"id": endpoint_id, "url": "ftp://x"})).data
    assert refused["webhookEndpointUpdate"]["userErrors"][0]["code"] == "INVALID"
    missing = (await ws.gql(UPDATE_ENDPOINT, {"id": "whe_nope", "enabled": True})).data
    assert missing["webhookEndpointUpdate"]["userErrors"][0]["code"] == "NOT_FOUND"
    deleted = (await ws.gql(DELETE_ENDPOINT, {"id": endpoint_id})).data["webhookEndpointDelete"]
    assert deleted == {"deletedId": endpoint_id, "userErrors": []}
    assert (await ws.gql(ENDPOINTS)).data["webhookEndpoints"] == []
    bad = await ws.gql('query { webhookDeliveries(endpointId: "whe_nope") { edges { cursor } } }')
    assert bad.errors[0]["extensions"]["code"] == "NOT_FOUND"


async def test_retry_and_replay_send_history_again(ws: Workspace, hooks_runtime: Runtime) -> None:
    segment_id = await active_segment(ws, "Germans", in_germany())
    async with receiving() as receiver, delivering(hooks_runtime):
        endpoint_id = (await create_endpoint(ws, receiver.url, segmentIds=[segment_id]))[
            "endpoint"
        ]["id"]
        await move(ws, "c1", "DE")
        await move(ws, "c2", "DE")
        await receiver.wait_for(2)
        first, second = await settled(ws, endpoint_id)
        # when: one delivery is retried
        retried = (await ws.gql(RETRY, {"id": first["id"]})).data["webhookDeliveryRetry"]
        assert retried["userErrors"] == [] and retried["delivery"]["status"] == "PENDING"
        await receiver.wait_for(3)
        await settled(ws, endpoint_id)
        # when: everything after the event before the first is replayed
        after = str(int(first["eventId"]) - 1)
        replayed = (await ws.gql(REPLAY, {"endpointId": endpoint_id, "after": after})).data
        assert replayed["webhookEndpointReplay"] == {"deliveries": 2, "userErrors": []}
        got = await receiver.wait_for(5)
    # then: the same messages (same webhook-id) came again; c1's and c2's deliveries go out
    # side by side (order holds per customer, not across them), so each pair is a set
    ids = [r.event["id"] for r in got]
    both = sorted([first["eventId"], second["eventId"]])
    assert sorted(ids[:2]) == both
    assert ids[2] == first["eventId"]
    assert sorted(ids[3:]) == both
    unknown = (await ws.gql(RETRY, {"id": "whe_nope.1"})).data["webhookDeliveryRetry"]
    assert unknown["userErrors"][0]["code"] == "NOT_FOUND"


async def claim_for(rt: Runtime, endpoint_id: str) -> list[Claimed]:
    """What a sender in `rt` would lease now of one endpoint's deliveries."""
    async with rt.engine.begin() as conn:
        await fan_out(conn)
        leased = await claim(conn, 1000, lease_s=60)
    return [c for c in leased if c.delivery.endpoint_id == endpoint_id]


async def delivered(rt: Runtime, claimed: Claimed) -> None:
    async with rt.engine.begin() as conn:
        await record(conn, [Outcome(claimed, 200, None)], disable_after_s=3600)


@pytest.mark.parametrize("resend", ["replay", "retry"])
async def test_a_resend_of_a_delivery_in_flight_is_not_ended_by_that_attempt(
    ws: Workspace, hooks_runtime: Runtime, resend: str
) -> None:
    # given: c1 entered then left, and a sender is sending c1's ENTERED
    segment_id = await active_segment(ws, "Germans", in_germany())
    endpoint = (await create_endpoint(ws, "http://127.0.0.1:9/x", segmentIds=[segment_id]))[
        "endpoint"
    ]
    await move(ws, "c1", "DE")
    await move(ws, "c1", "FR")
    [in_flight] = await claim_for(hooks_runtime, endpoint["id"])
    entered = in_flight.delivery
    # when: it is sent again meanwhile (replayed with what follows, or retried)
    if resend == "replay":
        after = str(entered.seq - 1)
        payload = (await ws.gql(REPLAY, {"endpointId": endpoint["id"], "after": after})).data
        assert payload["webhookEndpointReplay"]["deliveries"] == 2
    else:
        payload = (await ws.gql(RETRY, {"id": entered.id})).data
        assert payload["webhookDeliveryRetry"]["userErrors"] == []
    # then: the re-send is due at once, and another sender takes it
    [again] = await claim_for(hooks_runtime, endpoint["id"])
    assert again.delivery.seq == entered.seq
    # when: the first attempt succeeds and records that
    await delivered(hooks_runtime, in_flight)
    # then: c1's LEFT still waits for the re-send, which is still PENDING
    assert await claim_for(hooks_runtime, endpoint["id"]) == []
    listed = {d["eventId"]: d for d in await deliveries(ws, endpoint["id"])}
    assert listed[str(entered.seq)]["status"] == "PENDING"
    # when: the re-send succeeds, the LEFT goes
    await delivered(hooks_runtime, again)
    [left] = await claim_for(hooks_runtime, endpoint["id"])
    assert left.delivery.event_type.value == "SEGMENT_LEFT" and left.delivery.seq > entered.seq
    listed = {d["eventId"]: d for d in await deliveries(ws, endpoint["id"])}
    assert listed[str(entered.seq)]["status"] == "DELIVERED"


WEBHOOK_SETTINGS = {
    "SEGMENTQL_BACKGROUND_JOBS": "1",
    "SEGMENTQL_WEBHOOK_ALLOW_PRIVATE": "1",
    "SEGMENTQL_WEBHOOK_HTTP_HOSTS": "127.0.0.1",
    "SEGMENTQL_WEBHOOK_BACKOFF_BASE_MS": "50",
    "SEGMENTQL_WEBHOOK_POLL_MS": "50",
    "SEGMENTQL_WEBHOOK_TIMEOUT_S": "1",
}


async def test_a_process_killed_mid_delivery_delivers_after_restart(
    ws: Workspace, database_url: str, tmp_path: Path
) -> None:
    # given: a receiver that holds requests unanswered, and an endpoint
    segment_id = await active_segment(ws, "Germans", in_germany())
    async with receiving() as receiver:
        receiver.holding = asyncio.Event()
        endpoint_id = (await create_endpoint(ws, receiver.url, segmentIds=[segment_id]))[
            "endpoint"
        ]["id"]
        first_log, log = tmp_path / "first.log", tmp_path / "serve.log"
        async with serve_process(database_url, first_log, **WEBHOOK_SETTINGS) as (_, process):
            # when: an event is recorded and the process is killed while it is sending it
            await move(ws, "c1", "DE")
            deadline = asyncio.get_running_loop().time() + 30
            while not receiver.seen:
                assert asyncio.get_running_loop().time() < deadline, first_log.read_text()[-2000:]
                await asyncio.sleep(0.02)
            process.send_signal(signal.SIGKILL)
            await process.wait()
        receiver.holding.set()
        receiver.holding = None
        # then: a restarted process delivers it once its lease is over
        async with serve_process(database_url, log, **WEBHOOK_SETTINGS):
            got = await receiver.wait_for(1, timeout=30)
            [delivery] = await settled(ws, endpoint_id)
    assert kinds(got) == [("SEGMENT_ENTERED", "c1")]
    assert delivery["status"] == "DELIVERED" and delivery["attempts"] >= 2


async def test_an_endpoint_failing_past_the_disable_setting_is_disabled_with_the_reason(
    ws: Workspace, runtime: Runtime
) -> None:
    # given: a process disabling endpoints after 1 s of failing (3 days by default)
    quick = webhook_runtime(runtime, webhook_disable_after_s=1)
    segment_id = await active_segment(ws, "Germans", in_germany())
    try:
        async with receiving(lambda r, index: 500) as receiver:
            endpoint_id = (await create_endpoint(ws, receiver.url, segmentIds=[segment_id]))[
                "endpoint"
            ]["id"]
            # when: every attempt fails
            await move(ws, "c1", "DE")
            async with delivering(quick):
                endpoint = await until_disabled(ws, endpoint_id)
            attempts = len(receiver.received)
    finally:
        await quick.close()
    # then: disabled after retries spanning the setting, with the reason on it
    assert attempts >= 2
    reason = endpoint["disabledReason"]
    assert reason.startswith("Failing since ") and "last error: HTTP 500" in reason, reason
    # and: enabling it again clears the reason
    enabled = (await ws.gql(UPDATE_ENDPOINT, {"id": endpoint_id, "enabled": True})).data
    assert enabled["webhookEndpointUpdate"]["endpoint"]["disabledReason"] is None


async def until_disabled(ws: Workspace, endpoint_id: str, timeout: float = 20.0) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        [endpoint] = [
            e for e in (await ws.gql(ENDPOINTS)).data["webhookEndpoints"] if e["id"] == endpoint_id
        ]
        if not endpoint["enabled"]:
            return endpoint
        assert loop.time() < deadline, f"still enabled: {endpoint}"
        await asyncio.sleep(0.05)


async def test_an_endless_response_body_is_read_only_to_64_kb(
    ws: Workspace, hooks_runtime: Runtime
) -> None:
    # given: a receiver answering 200 with a body that trickles on for 30 s
    segment_id = await active_segment(ws, "Germans", in_germany())
    async with receiving() as receiver, delivering(hooks_runtime):
        receiver.endless_body = True
        endpoint_id = (await create_endpoint(ws, receiver.url, segmentIds=[segment_id]))[
            "endpoint"
        ]["id"]
        # when
        started = asyncio.get_running_loop().time()
        await move(ws, "c1", "DE")
        [delivery] = await settled(ws, endpoint_id, timeout=10)
        took = asyncio.get_running_loop().time() - started
    # then: delivered at the first attempt, without waiting for the body to end
    assert (delivery["status"], delivery["attempts"]) == ("DELIVERED", 1)
    assert took < 10
