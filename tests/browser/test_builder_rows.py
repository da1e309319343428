"""The builder's rows beyond customer conditions: related records (COUNT over the last N)
and negations, in rule groups, previewed as the API counts them and saved as built."""

from __future__ import annotations

from typing import Any

from playwright.async_api import Page, expect

from tests.api.segment_documents import PREVIEW, read, upsert_ok
from tests.api.tracked_event_documents import event, track_ok
from tests.browser.builder_steps import (
    add_where,
    add_where_property,
    condition,
    negate,
    negate_group,
    seed,
    set_condition,
    set_related,
)
from tests.browser.conftest import screenshot, sign_in
from tests.conftest import Workspace


def invoice(id: str, status: str, issued: str) -> dict[str, Any]:
    return {"id": id, "status": status, "total": 10, "issuedAt": f"{issued}T00:00:00Z"}


# fr_card_1 has two open invoices, but its newest is paid: among its last 2, one is open.
INVOICES = [
    {
        "id": "fr_card_1",
        "invoices": [
            invoice("i1", "OPEN", "2026-01-01"),
            invoice("i2", "OPEN", "2026-02-01"),
            invoice("i3", "PAID", "2026-03-01"),
        ],
    },
    {"id": "fr_card_2", "invoices": [invoice("i4", "OPEN", "2026-01-01")]},
    {
        "id": "de_card",
        "invoices": [invoice("i5", "OPEN", "2026-01-01"), invoice("i6", "OPEN", "2026-02-01")],
    },
]

OPEN = {"condition": {"field": "status", "operator": "EQ", "value": "OPEN"}}
BUILT = {
    "or": [
        {
            "and": [
                {"condition": {"field": "country", "operator": "IN", "values": ["FR", "DE"]}},
                {
                    "related": {
                        "scope": "INVOICES",
                        "quantifier": "COUNT",
                        "last": 2,
                        "where": OPEN,
                        "count": {"operator": "GTE", "value": 2},
                    }
                },
            ]
        },
        {
            "and": [
                {
                    "not": {
                        "condition": {
                            "field": "paymentMethodType",
                            "operator": "EQ",
                            "value": "CARD",
                        }
                    }
                },
                {"condition": {"field": "country", "operator": "IN", "values": ["FR", "ES"]}},
            ]
        },
    ]
}


async def test_rule_groups_with_a_related_count_and_a_negation_preview_what_the_api_counts(
    page: Page, workspace: Workspace
) -> None:
    # given customers with invoices, and the builder of a new segment
    await seed(workspace)
    await upsert_ok(workspace, *INVOICES)
    await sign_in(page, workspace)
    await page.click("#new-segment")
    await page.fill("#segment-name", "Two open of the last two, or not by card")

    # when group 1 is: country IN FR, DE AND at least 2 OPEN among the last 2 invoices
    await set_condition(page, "0.0", "country", "IN", values="FR, DE")
    await page.click('.group[data-group="0"] .add-condition')
    await set_related(page, "0.1", "INVOICES", "COUNT", count=("GTE", "2"), last="2")
    await add_where(page, "0.1", "status", "EQ", choice="OPEN")
    # and group 2 is: NOT paymentMethodType EQ CARD AND country IN FR, ES
    await page.click("#add-group")
    await set_condition(page, "1.0", "paymentMethodType", "EQ", choice="CARD")
    await negate(page, "1.0")
    await page.click('.group[data-group="1"] .add-condition')
    await set_condition(page, "1.1", "country", "IN", values="FR\nES")

    # then the preview shows segmentPreview's count for the same predicate
    answer = (await workspace.gql(PREVIEW, {"predicate": BUILT, "first": 10})).data
    preview = answer["segmentPreview"]
    assert preview["userErrors"] == []
    expected = sorted(e["node"]["id"] for e in preview["members"]["edges"])
    assert expected == ["de_card", "es_1", "fr_debit"]  # fr_card_1: 1 open of its last 2
    await expect(page.locator("#preview-count")).to_have_text(str(preview["totalCount"]))
    await expect(page.locator("#preview-members tbody tr")).to_have_count(len(expected))
    await expect(page.locator("#preview-members thead")).to_contain_text("invoices")
    await screenshot(page, "builder-related")

    # and saving stores exactly that predicate, which opens again as rule groups
    await page.click("#save")
    await expect(page.locator("#segment-kind")).to_have_text("PASSIVE")
    segment_id = page.url.rsplit("/", 1)[1]
    saved = await read(workspace, segment_id)
    assert saved is not None and saved["predicate"] == BUILT
    await page.goto(f"{workspace.base_url}/#/segments/{segment_id}/edit")
    await expect(page.locator("#rules")).to_be_visible()
    await expect(page.locator(f"{condition(page, '0.1')} .quantifier")).to_have_value("COUNT")
    await expect(page.locator(f"{condition(page, '0.1')} input.last")).to_have_value("2")
    await expect(page.locator(f"{condition(page, '1.0')} .negate")).to_be_checked()
    await expect(page.locator("#preview-count")).to_have_text(str(preview["totalCount"]))


async def test_a_wrong_window_shows_its_error_beside_its_related_row(
    page: Page, workspace: Workspace
) -> None:
    # given the builder with a valid first row
    await sign_in(page, workspace)
    await page.click("#new-segment")
    await set_condition(page, "0.0", "country", "EQ", value="FR")
    await page.click('.group[data-group="0"] .add-condition')

    # when the second row, negated, asks for ANY of the last 101 orders
    await set_related(page, "0.1", "ORDERS", "ANY", last="101")
    await negate(page, "0.1")

    # then the refusal stands beside that row, and only there
    await expect(page.locator(f"{condition(page, '0.1')} .condition-error")).to_contain_text("100")
    await expect(page.locator(f"{condition(page, '0.0')} .condition-error")).to_have_text("")
    await expect(page.locator("#preview-summary")).to_contain_text("Fix the rules")


FITS = {
    "or": [
        {
            "and": [
                {
                    "condition": {
                        "field": "email",
                        "operator": "MATCHES",
                        "value": ".*@example[.]com",
                        "caseInsensitive": True,
                    }
                },
                {
                    "not": {
                        "related": {
                            "scope": "ORDERS",
                            "quantifier": "COUNT",
                            "where": {
                                "and": [
                                    {
                                        "condition": {
                                            "field": "status",
                                            "operator": "EQ",
                                            "value": "PLACED",
                                        }
                                    },
                                    {
                                        "condition": {
                                            "field": "placedAt",
                                            "operator": "GTE",
                                            "value": "now-30d",
                                        }
                                    },
                                ]
                            },
                            "count": {"operator": "BETWEEN", "values": [1, 3]},
                        }
                    }
                },
            ]
        },
        {
            "and": [
                {"related": {"scope": "WALLETS", "quantifier": "ANY"}},
                {"not": {"segment": "seg_x"}},
            ]
        },
        {
            "not": {
                "and": [
                    {"segment": "seg_y"},
                    {
                        "related": {
                            "scope": "EVENTS",
                            "quantifier": "ANY",
                            "where": {
                                "condition": {
                                    "field": "properties.items",
                                    "operator": "GTE",
                                    "value": 3,
                                }
                            },
                        }
                    },
                ]
            }
        },
    ]
}
DOES_NOT_FIT = [
    {"not": {"or": [{"segment": "seg_x"}, {"segment": "seg_y"}]}},
    {"not": {"not": {"segment": "seg_x"}}},
    {
        "related": {
            "scope": "ORDERS",
            "quantifier": "ANY",
            "where": {"or": [OPEN, OPEN]},
        }
    },
]


async def test_rule_groups_read_and_write_back_every_row_kind(
    page: Page, workspace: Workspace
) -> None:
    # given the studio's rules module in the browser
    await page.goto(f"{workspace.base_url}/")

    # when a predicate of every row kind is read into groups and written back, and trees
    # of other shapes are read
    back, others = await page.evaluate(
        """([fits, others]) => import('/js/rules.js').then((rules) =>
             [rules.predicateOf(rules.rulesOf(fits)), others.map(rules.rulesOf)])""",
        [FITS, DOES_NOT_FIT],
    )

    # then the first comes back unchanged (caseInsensitive, NOT of a row and of a group,
    # where, BETWEEN, an event property's number included), and the others are left to the
    # JSON mode
    assert back == FITS
    assert others == [None, None, None]


async def previewed(ws: Workspace, predicate: dict[str, Any]) -> tuple[int, list[str]]:
    """segmentPreview's count and member ids for `predicate`."""
    preview = (await ws.gql(PREVIEW, {"predicate": predicate, "first": 10})).data["segmentPreview"]
    assert preview["userErrors"] == []
    return preview["totalCount"], sorted(e["node"]["id"] for e in preview["members"]["edges"])


def equals(field: str, value: Any) -> dict[str, Any]:
    return {"condition": {"field": field, "operator": "EQ", "value": value}}


NOT_FRENCH_CARDS = {
    "or": [
        {"not": {"and": [equals("country", "FR"), equals("paymentMethodType", "CARD")]}},
        {"and": [equals("id", "fr_card_1")]},
    ]
}


async def test_a_not_over_a_whole_group_previews_what_the_api_counts(
    page: Page, workspace: Workspace
) -> None:
    # given customers, and the builder of a new segment
    await seed(workspace)
    await sign_in(page, workspace)
    await page.click("#new-segment")
    await page.fill("#segment-name", "Not French cards, but fr_card_1")

    # when group 1 is NOT (country EQ FR AND paymentMethodType EQ CARD), OR group 2 id EQ fr_card_1
    await set_condition(page, "0.0", "country", "EQ", value="FR")
    await page.click('.group[data-group="0"] .add-condition')
    await set_condition(page, "0.1", "paymentMethodType", "EQ", choice="CARD")
    await negate_group(page, 0)
    await page.click("#add-group")
    await set_condition(page, "1.0", "id", "EQ", value="fr_card_1")

    # then the preview shows segmentPreview's count: everyone but fr_card_2
    count, expected = await previewed(workspace, NOT_FRENCH_CARDS)
    assert "fr_card_2" not in expected and "fr_card_1" in expected and "de_card" in expected
    await expect(page.locator("#preview-count")).to_have_text(str(count))
    await expect(page.locator('.group[data-group="0"]')).to_have_class("group negated")
    await screenshot(page, "builder-not-group")

    # and saving stores that predicate, which opens again with the group negated
    await page.click("#save")
    await expect(page.locator("#segment-kind")).to_have_text("PASSIVE")
    segment_id = page.url.rsplit("/", 1)[1]
    saved = await read(workspace, segment_id)
    assert saved is not None and saved["predicate"] == NOT_FRENCH_CARDS
    await page.goto(f"{workspace.base_url}/#/segments/{segment_id}/edit")
    await expect(page.locator('.group[data-group="0"] .negate-group')).to_be_checked()
    await expect(page.locator('.group[data-group="1"] .negate-group')).not_to_be_checked()
    await expect(page.locator("#preview-count")).to_have_text(str(count))


def checkouts(items: Any) -> dict[str, Any]:
    """ANY event named checkout_started whose properties.items >= `items` (its JSON type)."""
    at_least = {"condition": {"field": "properties.items", "operator": "GTE", "value": items}}
    where = {"and": [equals("name", "checkout_started"), at_least]}
    related = {"scope": "EVENTS", "quantifier": "ANY", "where": where}
    return {"or": [{"and": [{"related": related}]}]}


async def test_a_condition_on_an_event_property_previews_what_the_api_counts(
    page: Page, workspace: Workspace
) -> None:
    # given customers' checkouts with an `items` property: a number, a string, a number
    await seed(workspace)
    await track_ok(
        workspace,
        event("fr_card_1", properties={"items": 3}),
        event("fr_card_2", properties={"items": "3"}),  # a string: no value for a number
        event("de_card", properties={"items": 5}),
        event("es_1", "page_viewed", properties={"items": 9}),
    )
    await sign_in(page, workspace)
    await page.click("#new-segment")
    await page.fill("#segment-name", "Checkouts of 3 items or more")

    # when the row is ANY event named checkout_started whose properties.items (a number) >= 3
    await set_related(page, "0.0", "EVENTS", "ANY")
    await add_where(page, "0.0", "name", "EQ", value="checkout_started")
    await add_where_property(page, "0.0", "items", "number", "GTE", "3")

    # then the preview shows segmentPreview's count for the same predicate
    count, expected = await previewed(workspace, checkouts(3))
    assert expected == ["de_card", "fr_card_1"]
    await expect(page.locator("#preview-count")).to_have_text(str(count))
    await expect(page.locator("#preview-members tbody tr")).to_have_count(count)
    await screenshot(page, "builder-event-property")

    # and saving stores it (3 as a number), which opens again with the key and its type
    await page.click("#save")
    await expect(page.locator("#segment-kind")).to_have_text("PASSIVE")
    segment_id = page.url.rsplit("/", 1)[1]
    saved = await read(workspace, segment_id)
    assert saved is not None and saved["predicate"] == checkouts(3)
    await page.goto(f"{workspace.base_url}/#/segments/{segment_id}/edit")
    row = f'{condition(page, "0.0")} .where-condition[data-where="1"]'
    await expect(page.locator(f"{row} .where-property")).to_have_value("items")
    await expect(page.locator(f"{row} .where-type")).to_have_value("NUMBER")

    # and as a string the operand matches the customer whose value is the string "3"
    await page.select_option(f"{row} .where-type", "STRING")
    string_count, strings = await previewed(workspace, checkouts("3"))
    assert strings == ["fr_card_2"]
    await expect(page.locator("#preview-count")).to_have_text(str(string_count))
