"""The live feed of an ACTIVE segment: capped exponential backoff, then it resumes."""

from __future__ import annotations

import time

from playwright.async_api import Page, WebSocketRoute, expect

from tests.api.segment_documents import attach, country_is, create_ok, upsert_ok
from tests.browser.conftest import screenshot, sign_in
from tests.conftest import Workspace


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
    page: Page, workspace: Workspace
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
