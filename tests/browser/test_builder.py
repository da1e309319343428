"""The builder: rule groups, the live preview, errors beside their condition, impact, freeze."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from playwright.async_api import Page, Request, Route, expect

from tests.api.segment_documents import PREVIEW, country_is, create_ok, read, upsert_ok
from tests.browser.builder_steps import condition, seed, set_condition
from tests.browser.conftest import screenshot, sign_in
from tests.conftest import Workspace

TWO_GROUPS = {
    "or": [
        {
            "and": [
                {"condition": {"field": "country", "operator": "IN", "values": ["FR", "DE"]}},
                {"condition": {"field": "paymentMethodType", "operator": "EQ", "value": "CARD"}},
            ]
        },
        {"and": [{"condition": {"field": "country", "operator": "EQ", "value": "ES"}}]},
    ]
}


async def preview_count(ws: Workspace, predicate: Any) -> int:
    result = await ws.gql(PREVIEW, {"predicate": predicate})
    count: int = result.data["segmentPreview"]["totalCount"]
    return count


async def test_a_segment_of_two_rule_groups_previews_what_the_api_counts(
    page: Page, workspace: Workspace
) -> None:
    # given customers, and the builder of a new segment
    await seed(workspace)
    await sign_in(page, workspace)
    await page.click("#new-segment")
    await page.fill("#segment-name", "Cards in FR/DE, or Spain")

    # when the rules are two groups: (country IN pasted FR;DE AND card) OR country ES
    await set_condition(page, "0.0", "country", "IN", values="FR;\nDE")
    await page.click('.group[data-group="0"] .add-condition')
    await set_condition(page, "0.1", "paymentMethodType", "EQ", choice="CARD")
    await page.click("#add-group")
    await set_condition(page, "1.0", "country", "EQ", value="ES")

    # then the live preview shows segmentPreview's count for the same predicate
    expected = await preview_count(workspace, TWO_GROUPS)
    assert expected == 4
    await expect(page.locator("#preview-count")).to_have_text(str(expected))
    await expect(page.locator("#preview-members tbody tr")).to_have_count(expected)
    await expect(page.locator("#preview-members thead")).to_contain_text("paymentMethodType")
    await screenshot(page, "builder")

    # and saving it stores exactly that predicate
    await page.click("#save")
    await expect(page.locator("#segment-kind")).to_have_text("PASSIVE")
    segment_id = page.url.rsplit("/", 1)[1]
    saved = await read(workspace, segment_id)
    assert saved is not None and saved["predicate"] == TWO_GROUPS
    await screenshot(page, "segment")


async def test_an_invalid_value_shows_its_error_beside_its_condition(
    page: Page, workspace: Workspace
) -> None:
    # given the builder with a valid first condition
    await sign_in(page, workspace)
    await page.click("#new-segment")
    await set_condition(page, "0.0", "country", "EQ", value="FR")
    await page.click('.group[data-group="0"] .add-condition')

    # when the second condition compares a number with a word
    await set_condition(page, "0.1", "ordersCount", "GT", value="many")

    # then its error stands beside it, and only there
    await expect(page.locator(f"{condition(page, '0.1')} .condition-error")).to_contain_text(
        "number"
    )
    await expect(page.locator(f"{condition(page, '0.0')} .condition-error")).to_have_text("")
    await expect(page.locator("#preview-summary")).to_contain_text("Fix the rules")


async def test_editing_a_segment_shows_who_would_leave_and_enter(
    page: Page, workspace: Workspace
) -> None:
    # given a segment of France and Germany (5 members)
    await seed(workspace)
    segment = await create_ok(workspace, name="FR+DE", predicate=country_is("FR", "DE"))
    await sign_in(page, workspace)

    # when its edit swaps Germany for Spain
    await page.goto(f"{workspace.base_url}/#/segments/{segment['id']}/edit")
    await expect(page.locator("#impact-leaving")).to_have_text("0")
    await page.fill(f"{condition(page, '0.0')} textarea.values", "FR, ES")

    # then the two Germans would leave and the Spaniard would enter; nothing saved yet
    await expect(page.locator("#impact-leaving")).to_have_text("2")
    await expect(page.locator("#impact-entering")).to_have_text("1")
    await expect(page.locator("#impact")).to_contain_text("de_card")
    await screenshot(page, "builder-impact")
    saved = await read(workspace, segment["id"])
    assert saved is not None and saved["predicate"] == country_is("FR", "DE")


async def test_freezing_the_filter_saves_a_static_segment(page: Page, workspace: Workspace) -> None:
    # given the French customers in the builder
    await seed(workspace)
    await sign_in(page, workspace)
    await page.click("#new-segment")
    await page.fill("#segment-name", "France, frozen")
    await set_condition(page, "0.0", "country", "EQ", value="FR")
    await expect(page.locator("#preview-count")).to_have_text("3")

    # when it is saved frozen
    await page.check("#freeze")
    await page.click("#save")

    # then a STATIC segment holds those three, whatever the filter matches later
    await expect(page.locator("#segment-kind")).to_have_text("STATIC")
    await expect(page.locator("#segment-members tbody tr")).to_have_count(3)


async def test_an_old_preview_answer_never_replaces_a_newer_one(
    page: Page, workspace: Workspace
) -> None:
    # given the preview of "country IN (FR)" held back by a slow network
    await seed(workspace)
    await sign_in(page, workspace)
    await page.click("#new-segment")
    await set_condition(page, "0.0", "country", "IN")
    slow_sent = asyncio.Event()

    async def hold_back_france_alone(route: Route, request: Request) -> None:
        body = json.loads(request.post_data or "{}")
        if "segmentPreview" in body.get("query", "") and json.dumps(body["variables"]["p"]) == (
            json.dumps(
                {
                    "or": [
                        {
                            "and": [
                                {
                                    "condition": {
                                        "field": "country",
                                        "operator": "IN",
                                        "values": ["FR"],
                                    }
                                }
                            ]
                        }
                    ]
                }
            )
        ):
            slow_sent.set()
            await asyncio.sleep(1.5)
        await route.fallback()

    await page.route("**/graphql", hold_back_france_alone)
    await page.fill(f"{condition(page, '0.0')} textarea.values", "FR")
    await asyncio.wait_for(slow_sent.wait(), 5)

    # when the user goes on typing, and the newer preview answers first
    await page.fill(f"{condition(page, '0.0')} textarea.values", "FR\nDE")
    await expect(page.locator("#preview-count")).to_have_text("5")
    await asyncio.sleep(1.6)  # the held-back answer (3) arrives now

    # then the page still shows the newer count
    await expect(page.locator("#preview-count")).to_have_text("5")


async def test_the_advanced_mode_previews_any_tree_and_names_a_wrong_node(
    page: Page, workspace: Workspace
) -> None:
    # given customers, and a predicate the rule groups cannot hold (a related scope, a not)
    await seed(workspace)
    await upsert_ok(
        workspace,
        {"id": "fr_card_1", "invoices": [{"id": "i1", "status": "OPEN", "total": 10}]},
    )
    open_invoice = {
        "related": {
            "scope": "INVOICES",
            "quantifier": "ANY",
            "where": {"condition": {"field": "status", "operator": "EQ", "value": "OPEN"}},
        }
    }
    tree = {"and": [country_is("FR"), {"not": open_invoice}]}
    await sign_in(page, workspace)
    await page.click("#new-segment")

    # when it is typed in the advanced mode
    await page.click("#toggle-advanced")
    await page.fill("#advanced-json", json.dumps(tree))

    # then the preview counts it as the API does, with a column for the scope
    await expect(page.locator("#preview-count")).to_have_text(
        str(await preview_count(workspace, tree))
    )
    await expect(page.locator("#preview-members thead")).to_contain_text("invoices")

    # and a wrong quantifier is reported with its path
    wrong = {
        "and": [
            country_is("FR"),
            {"not": {"related": {**open_invoice["related"], "quantifier": "SOME"}}},
        ]
    }
    await page.fill("#advanced-json", json.dumps(wrong))
    await expect(page.locator("#rule-errors")).to_contain_text("predicate.and[1].not.related")


async def test_a_condition_can_be_membership_of_another_segment(
    page: Page, workspace: Workspace
) -> None:
    # given a segment of the French
    await seed(workspace)
    france = await create_ok(workspace, name="France", predicate=country_is("FR"))
    await sign_in(page, workspace)
    await page.click("#new-segment")
    await page.fill("#segment-name", "French cards")

    # when the rules say: member of France AND paying by card
    await page.select_option(f"{condition(page, '0.0')} .field-picker", "@segment")
    await page.select_option(f"{condition(page, '0.0')} .segment-ref", france["id"])
    await page.click('.group[data-group="0"] .add-condition')
    await set_condition(page, "0.1", "paymentMethodType", "EQ", choice="CARD")

    # then the preview counts the two French card payers, and the reference is saved
    await expect(page.locator("#preview-count")).to_have_text("2")
    await page.click("#save")
    await expect(page.locator("#segment-kind")).to_have_text("PASSIVE")
    saved = await read(workspace, page.url.rsplit("/", 1)[1])
    assert saved is not None
    assert saved["predicate"]["or"][0]["and"][0] == {"segment": france["id"]}
