"""Signing in with a key: the role decides what the studio offers."""

from __future__ import annotations

from playwright.async_api import Page, expect

from domain.access import Role
from tests.api.segment_documents import country_is, create_ok
from tests.browser.conftest import screenshot, sign_in
from tests.conftest import Workspace


async def test_a_write_key_signs_in_and_sees_the_editing_controls(
    page: Page, workspace: Workspace
) -> None:
    # when a WRITE key is pasted on the sign-in page the studio opens on
    await page.goto(f"{workspace.base_url}/")
    await expect(page.locator("#api-key")).to_be_visible()
    await screenshot(page, "signin")
    await sign_in(page, workspace, Role.WRITE)

    # then the segments list opens, and the key is kept for this tab only
    await expect(page.locator("#who")).to_have_text("WRITE key")
    await expect(page.locator("#new-segment")).to_be_visible()
    stored = await page.evaluate("sessionStorage.getItem('segmentql.key')")
    assert stored == workspace.keys[Role.WRITE]


async def test_a_read_key_sees_no_editing_controls(page: Page, workspace: Workspace) -> None:
    # given a segment
    await create_ok(workspace, name="fr", predicate=country_is("FR"))

    # when a READ key signs in
    await sign_in(page, workspace, Role.READ)

    # then the segment is listed without New, Edit or Delete
    await expect(page.locator("#segments tbody tr")).to_have_count(1)
    await expect(page.locator("#new-segment")).to_have_count(0)
    await expect(page.locator("#segments .delete")).to_have_count(0)
    await expect(page.locator("#segments a", has_text="Edit")).to_have_count(0)


async def test_a_wrong_key_is_refused_with_a_message(page: Page, workspace: Workspace) -> None:
    # when a key that does not exist is pasted
    await page.goto(f"{workspace.base_url}/#/signin")
    await page.fill("#api-key", "sq_not_a_key")
    await page.click("button[type=submit]")

    # then the page says so and keeps nothing
    await expect(page.locator(".signin .error")).to_contain_text("refused")
    assert await page.evaluate("sessionStorage.getItem('segmentql.key')") is None


async def test_a_read_key_sees_segment_pages_without_their_controls(
    page: Page, workspace: Workspace
) -> None:
    # given a PASSIVE segment, and a READ key signed in
    segment = await create_ok(workspace, name="fr", predicate=country_is("FR"))
    await sign_in(page, workspace, Role.READ)

    # when its page and its builder are opened
    await page.goto(f"{workspace.base_url}/#/segments/{segment['id']}")
    await expect(page.locator("#segment-kind")).to_have_text("PASSIVE")
    edit_links = await page.locator("#edit-segment").count()
    snapshot_buttons = await page.locator("#take-snapshot").count()
    await page.goto(f"{workspace.base_url}/#/segments/{segment['id']}/edit")
    await expect(page.locator("#preview-count")).to_have_text("0")

    # then the page and the preview are there, but nothing that would change them
    assert (edit_links, snapshot_buttons) == (0, 0)
    await expect(page.locator("#save")).to_have_count(0)
