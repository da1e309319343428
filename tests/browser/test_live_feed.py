"""The live feed of an ACTIVE segment: capped exponential backoff, then it resumes."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from playwright.async_api import Page, WebSocketRoute, expect

from api.background import prune_events
from api.runtime import Runtime
from tests.api.segment_documents import attach, country_is, create_ok, upsert_ok
from tests.browser.conftest import screenshot, sign_in
from tests.browser.feed_steps import server_follows
from tests.conftest import Workspace
from tests.integration.membership_support import CLOCK_START, FakeClock


@pytest.fixture
def clock(runtime: Runtime) -> Iterator[FakeClock]:
    """The server's clock, moved by hand for the test (events get its time), then restored."""
    original = runtime.clock
    runtime.clock = fake = FakeClock(CLOCK_START)
    try:
        yield fake
    finally:
        runtime.clock = original


async def test_the_retry_wait_doubles_up_to_a_cap_with_jitter(
    page: Page, workspace: Workspace
) -> None:
    # given the studio's feed module, loaded in the browser
    await page.goto(f"{workspace.base_url}/")

    # when the wait before attempts 2..10 is asked with the least and the most jitter
    waits = await page.evaluate(
        """import('/js/live.js').then((live) => [0, 0.999999].map((r) =>
             [1, 2, 3, 4, 8, 20].map((attempt) => live.retryDelay(attempt, () => r))))"""
    )

    # then it is at least half of 500 ms doubled each time, at most the whole, capped at 30 s
    assert waits[0] == [250, 500, 1000, 2000, 15000, 15000]
    assert waits[1] == [500, 1000, 2000, 4000, 30000, 30000]


async def test_a_lost_feed_waits_longer_each_time_then_resumes_from_its_last_event(
    page: Page, workspace: Workspace, runtime: Runtime
) -> None:
    # given an ACTIVE segment's page whose WebSocket goes through a switch we hold
    active = await create_ok(workspace, name="France", predicate=country_is("FR"))
    await attach(workspace, active["id"], "DISTRIBUTION", "newsletter")
    down = False
    attempts: list[float] = []

    async def service_unless_down(ws: WebSocketRoute) -> None:
        attempts.append(time.monotonic())
        if down:
            await ws.close(code=1012, reason="service restarting")
        else:
            ws.connect_to_server()

    await page.route_web_socket("**/graphql", service_unless_down)
    await sign_in(page, workspace)
    await page.goto(f"{workspace.base_url}/#/segments/{active['id']}")
    status = page.locator("#feed-status")
    await expect(status).to_have_text("live")
    await server_follows(runtime, workspace, active["id"])
    await upsert_ok(workspace, {"id": "cus_live", "country": "FR"})
    await expect(page.locator("#feed li.ENTERED")).to_contain_text("cus_live")

    # when the service goes away, and a customer leaves meanwhile
    down = True
    first_lost = len(attempts)
    await page.evaluate("window.studioFeed.drop()")
    await upsert_ok(workspace, {"id": "cus_live", "country": "DE"})

    # then the user sees it is disconnected and when it tries next, each wait longer
    await expect(status).to_have_attribute("data-state", "waiting")
    await expect(status).to_contain_text("attempt 4 in")
    await expect(status).to_contain_text("service restarting")
    await screenshot(page, "feed-retrying")
    refused = attempts[first_lost:]
    assert len(refused) >= 2
    assert refused[1] - refused[0] >= 0.5  # attempt 3 waited 0.5-1 s, attempt 2 0.25-0.5 s

    # and once the service is back, the feed is live and replays what it missed, once
    down = False
    await expect(status).to_have_text("live")
    await expect(page.locator("#feed li.LEFT")).to_contain_text("cus_live")
    await expect(page.locator("#feed li")).to_have_count(2)


async def test_a_feed_whose_missed_events_were_pruned_says_so_reloads_and_follows_from_now(
    page: Page, workspace: Workspace, runtime: Runtime, clock: FakeClock
) -> None:
    # given an ACTIVE segment's live feed, through a switch we hold, that showed one event
    active = await create_ok(workspace, name="France", predicate=country_is("FR"))
    await attach(workspace, active["id"], "DISTRIBUTION", "newsletter")
    down = False
    subscribes: list[str] = []

    async def service_unless_down(ws: WebSocketRoute) -> None:
        if down:
            await ws.close(code=1012, reason="service restarting")
            return
        server = ws.connect_to_server()

        def to_server(message: str | bytes) -> None:
            if '"subscribe"' in str(message):
                subscribes.append(str(message))
            server.send(message)

        ws.on_message(to_server)

    await page.route_web_socket("**/graphql", service_unless_down)
    await sign_in(page, workspace)
    await page.goto(f"{workspace.base_url}/#/segments/{active['id']}")
    status = page.locator("#feed-status")
    await expect(status).to_have_text("live")
    await server_follows(runtime, workspace, active["id"])
    await upsert_ok(workspace, {"id": "cus_seen", "country": "FR"})
    await expect(page.locator("#feed li.ENTERED")).to_contain_text("cus_seen")
    await expect(page.locator("#segment-members tbody tr")).to_have_count(0)

    # when the feed is away while two customers enter, 40 days apart, and retention (30
    # days) then removes the events after the one it showed
    down = True
    await page.evaluate("window.studioFeed.drop()")
    await expect(status).to_have_attribute("data-state", "waiting")
    await upsert_ok(workspace, {"id": "cus_missed", "country": "FR"})
    clock.advance(days=40)
    await upsert_ok(workspace, {"id": "cus_kept", "country": "FR"})
    assert await prune_events(runtime) >= 2
    down = False
    await page.click("#feed-reconnect")

    # then the page says changes were missed, shows the members as they are now, and the
    # feed is live again, following from now (its subscribe without `after`), not retrying
    await expect(page.locator("#feed-notice")).to_contain_text(
        "Some changes were missed: the events after event"
    )
    await expect(page.locator("#feed li").nth(0)).to_have_class("gap")
    await expect(page.locator("#segment-members tbody tr")).to_have_count(3)
    await expect(page.locator("#segment-members")).to_contain_text("cus_missed")
    await expect(status).to_have_text("live")
    await server_follows(runtime, workspace, active["id"])
    assert ['"after":null' in s for s in subscribes] == [True, False, True]
    await screenshot(page, "feed-pruned")

    # and what happens next reaches the feed
    await upsert_ok(workspace, {"id": "cus_after", "country": "FR"})
    await expect(page.locator("#feed li").first).to_contain_text("ENTERED cus_after")
    await expect(page.locator("#feed li")).to_have_count(3)  # cus_after, the gap, cus_seen
    assert len(subscribes) == 3
