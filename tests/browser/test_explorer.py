"""The API explorer at /graphql works with no network beyond the service."""

from __future__ import annotations

import asyncio
import re

from playwright.async_api import Page, WebSocket, expect

from api.runtime import Runtime
from domain.access import Role
from tests.api.segment_documents import attach, country_is, create_ok, upsert_ok
from tests.browser.conftest import screenshot, sign_in
from tests.browser.feed_steps import server_follows
from tests.conftest import Workspace


async def test_the_explorer_runs_a_query_with_the_studio_key_offline(
    page: Page, workspace: Workspace
) -> None:
    # given a segment, and a studio signed in (every other host is refused by `page`)
    await create_ok(workspace, name="French customers", predicate=country_is("FR"))
    await sign_in(page, workspace, Role.READ)

    # when the explorer opens and runs its prefilled query
    await page.goto(f"{workspace.base_url}/graphql")
    await expect(page.locator(".graphiql-container")).to_be_visible()
    await page.locator(".graphiql-execute-button").click()

    # then the answer comes from this workspace, sent with the studio's key
    response = page.locator(".result-window")
    await expect(response).to_contain_text("French customers")
    await expect(response).to_contain_text('"totalCount": 1')
    await screenshot(page, "explorer")


async def test_a_key_typed_in_the_explorer_bar_is_used(page: Page, workspace: Workspace) -> None:
    # given the explorer opened with no key
    await page.goto(f"{workspace.base_url}/graphql")
    await expect(page.locator(".graphiql-container")).to_be_visible()

    # when a key is typed in its bar and the query runs
    await page.fill("#key", workspace.keys[Role.READ])
    await page.click("#key-form button")
    await page.locator(".graphiql-execute-button").click()

    # then the query is answered (a missing key would be a 401)
    await expect(page.locator(".result-window")).to_contain_text('"totalCount": 0')


FEED = """subscription Feed {
  segmentMembershipChanged(segmentId: "%s") { kind customerId }
}"""


async def test_the_explorer_runs_a_subscription_over_its_websocket_offline(
    page: Page, workspace: Workspace, runtime: Runtime
) -> None:
    # given an ACTIVE segment, and the explorer opened with the studio's key
    active = await create_ok(workspace, name="France", predicate=country_is("FR"))
    await attach(workspace, active["id"], "DISTRIBUTION", "newsletter")
    await sign_in(page, workspace, Role.READ)
    sockets: list[str] = []
    subscribed = asyncio.Event()

    def watch(socket: WebSocket) -> None:
        sockets.append(socket.url)
        socket.on("framesent", lambda frame: '"subscribe"' in str(frame) and subscribed.set())

    page.on("websocket", watch)
    await page.goto(f"{workspace.base_url}/graphql")
    await expect(page.locator(".graphiql-container")).to_be_visible()

    # when a subscription to its changes runs as soon as it is typed, and a French customer
    # is written through the API
    await page.evaluate(
        "(query) => document.querySelector('.graphiql-query-editor .CodeMirror')"
        ".CodeMirror.setValue(query)",
        FEED % active["id"],
    )
    await page.locator(".graphiql-execute-button").click()
    await expect(page.locator(".graphiql-execute-button")).to_have_attribute(
        "aria-label", re.compile("Stop")
    )
    await asyncio.wait_for(subscribed.wait(), 5)
    await server_follows(runtime, workspace, active["id"])  # sent is not yet handled
    await upsert_ok(workspace, {"id": "cus_explored", "country": "FR"})

    # then the event shows in the answer, sent over a real WebSocket to the service
    response = page.locator(".result-window")
    await expect(response).to_contain_text("cus_explored")
    await expect(response).to_contain_text('"kind": "ENTERED"')
    assert sockets == [workspace.base_url.replace("http", "ws", 1) + "/graphql"]
    await screenshot(page, "explorer-subscription")
