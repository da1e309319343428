"""The segments list (delete with confirmation), the customer list by segment, the live feed."""

from __future__ import annotations

from playwright.async_api import Page, expect

from api.runtime import Runtime
from tests.api.segment_documents import attach, country_is, create_ok, segment_names, upsert_ok
from tests.browser.builder_steps import seed
from tests.browser.conftest import screenshot, sign_in
from tests.browser.feed_steps import server_follows
from tests.conftest import Workspace


def row(page: Page, name: str) -> str:
    return f'#segments tbody tr:has(a:text-is("{name}"))'


async def test_a_segment_is_deleted_only_after_confirmation(
    page: Page, workspace: Workspace
) -> None:
    # given two segments, one of them ACTIVE (used by a loyalty rule)
    await seed(workspace)
    await create_ok(workspace, name="Spain", predicate=country_is("ES"))
    active = await create_ok(workspace, name="France", predicate=country_is("FR"))
    await attach(workspace, active["id"], "LOYALTY_EARNING_RULE", "rule-7")
    await sign_in(page, workspace)

    # then the list shows counts and share, and says why the ACTIVE one cannot go
    await expect(page.locator(f"{row(page, 'France')} .count")).to_have_text("3")
    await expect(page.locator(f"{row(page, 'France')} .not-deletable")).to_contain_text(
        "LOYALTY_EARNING_RULE rule-7"
    )
    await expect(page.locator(f"{row(page, 'France')} .delete")).to_have_count(0)
    await screenshot(page, "segments")

    # when Spain's delete is cancelled once, then confirmed
    await page.click(f"{row(page, 'Spain')} .delete")
    await expect(page.locator("#confirm-delete")).to_be_visible()
    await page.click("#confirm-delete button:text-is('Cancel')")
    assert await segment_names(workspace) == ["France", "Spain"]
    await page.click(f"{row(page, 'Spain')} .delete")
    await page.click("#confirm-delete-yes")

    # then only France is left, in the page and in the API
    await expect(page.locator("#segments tbody tr")).to_have_count(1)
    assert await segment_names(workspace) == ["France"]


async def test_the_list_searches_by_name_and_filters_by_kind(
    page: Page, workspace: Workspace
) -> None:
    # given a PASSIVE and a STATIC segment
    await seed(workspace)
    await create_ok(workspace, name="Spain", predicate=country_is("ES"))
    await create_ok(workspace, name="France frozen", predicate=country_is("FR"), static=True)
    await sign_in(page, workspace)
    await expect(page.locator("#segments tbody tr")).to_have_count(2)

    # when filtered by kind, then searched by name
    await page.select_option("#kind-filter", "STATIC")
    await expect(page.locator("#segments tbody tr")).to_have_count(1)
    await expect(page.locator("#segments tbody")).to_contain_text("France frozen")
    await page.select_option("#kind-filter", "")
    await page.fill("#segment-search", "spa")

    # then each narrows the list
    await expect(page.locator("#segments tbody tr")).to_have_count(1)
    await expect(page.locator("#segments tbody")).to_contain_text("Spain")


async def test_the_customer_list_is_filtered_by_a_segment(page: Page, workspace: Workspace) -> None:
    # given customers and a segment of the Germans
    await seed(workspace)
    germans = await create_ok(workspace, name="Germany", predicate=country_is("DE"))
    await sign_in(page, workspace)
    await page.click("nav a:text-is('Customers')")
    await expect(page.locator("#customer-count")).to_have_text("8 customer(s)")

    # when the segment is chosen in the dropdown
    await page.select_option("#customer-segment", germans["id"])

    # then only its members are listed
    await expect(page.locator("#customer-count")).to_have_text("2 customer(s)")
    await expect(page.locator("#customers tbody tr")).to_have_count(2)
    await expect(page.locator("#customers tbody")).to_contain_text("de_wallet")
    await screenshot(page, "customers")

    # and a customer's page shows the segments they are in
    await page.click("#customers a:text-is('de_card')")
    await expect(page.locator("#customer-segments")).to_contain_text("Germany")
    await screenshot(page, "customer")


async def test_a_customer_written_through_the_api_appears_in_the_live_feed(
    page: Page, workspace: Workspace, runtime: Runtime
) -> None:
    # given an ACTIVE segment's page, its feed connected
    active = await create_ok(workspace, name="France", predicate=country_is("FR"))
    await attach(workspace, active["id"], "DISTRIBUTION", "newsletter")
    await sign_in(page, workspace)
    await page.goto(f"{workspace.base_url}/#/segments/{active['id']}")
    await expect(page.locator("#feed-status")).to_have_text("live")
    await server_follows(runtime, workspace, active["id"])

    # when a French customer is written through the API
    await upsert_ok(workspace, {"id": "cus_live", "country": "FR"})

    # then the feed shows them entering
    await expect(page.locator("#feed li.ENTERED")).to_contain_text("cus_live")
    await screenshot(page, "active-segment")

    # and after a lost connection, what happened meanwhile is replayed from the last event
    await page.evaluate("window.studioFeed.drop()")
    await upsert_ok(workspace, {"id": "cus_live", "country": "DE"})
    await expect(page.locator("#feed li.LEFT")).to_contain_text("cus_live")
    await expect(page.locator("#feed-status")).to_have_text("live")
    await expect(page.locator("#feed li")).to_have_count(2)
