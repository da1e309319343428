"""Static segments picked by hand; a segment's snapshots, their diff, and its CSV export."""

from __future__ import annotations

from pathlib import Path

from playwright.async_api import Page, expect

from tests.api.segment_documents import country_is, create_ok, upsert_ok
from tests.browser.builder_steps import seed
from tests.browser.conftest import screenshot, sign_in
from tests.conftest import Workspace


async def test_a_static_segment_is_picked_with_checkboxes(page: Page, workspace: Workspace) -> None:
    # given customers, and the picker of a new static segment
    await seed(workspace)
    await sign_in(page, workspace)
    await page.click("#new-static")
    await page.fill("#segment-name", "Hand-picked")

    # when two French customers are ticked from a search, then a German from another
    await page.fill("#pick-search", "fr_card")
    await expect(page.locator("#pick-customers tbody tr")).to_have_count(2)
    await page.click("#pick-page")
    await page.fill("#pick-search", "de_card")
    await expect(page.locator("#pick-customers tbody tr")).to_have_count(1)
    await page.check("#pick-customers .pick")
    await expect(page.locator("#picked-count")).to_have_text("3")
    await page.click("#save")

    # then a STATIC segment holds exactly those three
    await expect(page.locator("#segment-kind")).to_have_text("STATIC")
    await expect(page.locator("#segment-members tbody tr")).to_have_count(3)
    await expect(page.locator("#segment-members")).to_contain_text("de_card")


async def test_two_snapshots_are_compared(page: Page, workspace: Workspace) -> None:
    # given a segment of the French, snapshotted once
    await seed(workspace)
    segment = await create_ok(workspace, name="France", predicate=country_is("FR"))
    await sign_in(page, workspace)
    await page.goto(f"{workspace.base_url}/#/segments/{segment['id']}")
    await page.click("#take-snapshot")
    await expect(page.locator("#snapshots tbody tr")).to_have_count(1)

    # when a customer moves to France and a second snapshot is taken, and both are compared
    await upsert_ok(workspace, {"id": "es_1", "country": "FR"})
    await page.click("#take-snapshot")
    await expect(page.locator("#snapshots tbody tr")).to_have_count(2)
    for box in await page.locator("#snapshots .compare").all():
        await box.check()
    await page.click("#compare-snapshots")

    # then the diff names who entered between them
    await expect(page.locator("#diff-counts")).to_have_text("1 entered, 0 left between them")
    await expect(page.locator("#snapshot-diff")).to_contain_text("+es_1")
    await screenshot(page, "snapshots")


async def test_members_are_exported_as_csv_with_the_chosen_fields(
    page: Page, workspace: Workspace, tmp_path: Path
) -> None:
    # given a segment's page
    await seed(workspace)
    segment = await create_ok(workspace, name="Germany", predicate=country_is("DE"))
    await sign_in(page, workspace)
    await page.goto(f"{workspace.base_url}/#/segments/{segment['id']}")

    # when country is ticked beside the default id and email, and the CSV downloaded
    await page.check('#export-fields input[value="country"]')
    async with page.expect_download() as download:
        await page.click("#export-csv")
    saved = tmp_path / "members.csv"
    await (await download.value).save_as(saved)

    # then it holds the members with those columns
    lines = saved.read_text().splitlines()
    assert lines[0] == "id,email,country"
    assert sorted(lines[1:]) == ["de_card,,DE", "de_wallet,,DE"]
