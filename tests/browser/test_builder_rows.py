"""The builder's rows beyond customer conditions: related records (COUNT over the last N)
and negations, in rule groups, previewed as the API counts them and saved as built."""

from __future__ import annotations

from typing import Any

from playwright.async_api import Page, expect

from tests.api.segment_documents import PREVIEW, read, upsert_ok
from tests.browser.builder_steps import (
    add_where,
    condition,
    negate,
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
    ]
}
DOES_NOT_FIT = [
    {"not": {"and": [{"segment": "seg_x"}, {"segment": "seg_y"}]}},
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

    # then the first comes back unchanged (caseInsensitive, NOT, where, BETWEEN included), and
    # the others are left to the JSON mode
    assert back == FITS
    assert others == [None, None, None]
