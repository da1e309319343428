"""Steps on the builder page, shared by the builder tests."""

from __future__ import annotations

from playwright.async_api import Page

from tests.api.segment_documents import upsert_ok
from tests.conftest import Workspace

CUSTOMERS = [
    {"id": "fr_card_1", "country": "FR", "paymentMethodType": "CARD", "email": "a@example.com"},
    {"id": "fr_card_2", "country": "FR", "paymentMethodType": "CARD"},
    {"id": "fr_debit", "country": "FR", "paymentMethodType": "DIRECT_DEBIT"},
    {"id": "de_card", "country": "DE", "paymentMethodType": "CARD"},
    {"id": "de_wallet", "country": "DE", "paymentMethodType": "WALLET"},
    {"id": "es_1", "country": "ES"},
    {"id": "it_1", "country": "IT"},
    {"id": "nowhere"},
]


async def seed(ws: Workspace) -> None:
    await upsert_ok(ws, *CUSTOMERS)


def condition(page: Page, address: str) -> str:
    return f'.condition[data-address="{address}"]'


async def set_condition(
    page: Page,
    address: str,
    field: str,
    operator: str,
    value: str | None = None,
    values: str | None = None,
    choice: str | None = None,
) -> None:
    """Pick the field and operator of the condition at `address` ("group.condition"), then
    type its value, paste its IN values, or choose an allowed value."""
    at = condition(page, address)
    await page.select_option(f"{at} .field-picker", field)
    await page.select_option(f"{at} .operator", operator)
    if value is not None:
        await page.fill(f"{at} input.value", value)
    if values is not None:
        await page.fill(f"{at} textarea.values", values)
    if choice is not None:
        await page.select_option(f"{at} select.value", choice)


async def set_related(
    page: Page,
    address: str,
    scope: str,
    quantifier: str,
    count: tuple[str, str] | None = None,
    last: str | None = None,
) -> None:
    """Make the row at `address` a related condition: `quantifier` over `scope`'s records
    (COUNT with `count` = (operator, number)), over the `last` N of them if given."""
    at = condition(page, address)
    await page.select_option(f"{at} .field-picker", f"@related:{scope}")
    await page.select_option(f"{at} .quantifier", quantifier)
    if count is not None:
        await page.select_option(f"{at} .count-operator", count[0])
        await page.fill(f"{at} input.count-value", count[1])
    if last is not None:
        await page.fill(f"{at} input.last", last)


async def add_where(
    page: Page,
    address: str,
    field: str,
    operator: str,
    choice: str | None = None,
    value: str | None = None,
) -> None:
    """Add a condition on the records of the related row at `address`."""
    at = condition(page, address)
    k = await page.locator(f"{at} .where-condition").count()
    await page.click(f"{at} .add-where")
    row = f'{at} .where-condition[data-where="{k}"]'
    await page.select_option(f"{row} .where-field", field)
    await page.select_option(f"{row} .where-operator", operator)
    if choice is not None:
        await page.select_option(f"{row} select.value", choice)
    if value is not None:
        await page.fill(f"{row} input.value", value)


async def add_where_property(
    page: Page, address: str, key: str, value_type: str, operator: str, value: str
) -> None:
    """Add a condition on `properties.KEY` of the EVENTS row at `address`, its operand
    written as `value_type` ("string", "number", "boolean")."""
    at = condition(page, address)
    k = await page.locator(f"{at} .where-condition").count()
    await page.click(f"{at} .add-where")
    row = f'{at} .where-condition[data-where="{k}"]'
    await page.select_option(f"{row} .where-field", "@property")
    await page.fill(f"{row} .where-property", key)
    await page.select_option(f"{row} .where-type", value_type.upper())
    await page.select_option(f"{row} .where-operator", operator)
    if value_type == "boolean":
        await page.select_option(f"{row} select.value", value)
    else:
        await page.fill(f"{row} input.value", value)


async def negate(page: Page, address: str) -> None:
    await page.check(f"{condition(page, address)} .negate")


async def negate_group(page: Page, group: int) -> None:
    await page.check(f'.group[data-group="{group}"] .negate-group')
