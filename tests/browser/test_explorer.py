"""The API explorer at /graphql works with no network beyond the service."""

from __future__ import annotations

from playwright.async_api import Page, expect

from domain.access import Role
from tests.api.segment_documents import country_is, create_ok
from tests.browser.conftest import screenshot, sign_in
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
