"""Customer.value(field): the adaptive columns of the studio's preview table."""

from __future__ import annotations

from tests.api.documents import DEFINE_PROPERTY
from tests.api.segment_documents import upsert_ok
from tests.conftest import Workspace

VALUES = """
query Values($id: ID!) { customer(id: $id) {
  country: value(field: "country") spent: value(field: "totalSpent")
  plan: value(field: "properties.plan") orders: value(field: "orders")
} }
"""


async def test_each_column_reads_its_field_and_a_new_property_at_once(
    workspace: Workspace,
) -> None:
    # given a customer with an order, and a property declared just now
    await upsert_ok(
        workspace,
        {
            "id": "ada",
            "country": "FR",
            "orders": [{"id": "o1", "amount": 12.5, "placedAt": "2026-11-01T10:00:00Z"}],
        },
    )
    declared = await workspace.gql(DEFINE_PROPERTY, {"input": {"key": "plan", "type": "STRING"}})
    assert declared.data["customPropertyDefine"]["userErrors"] == []
    await upsert_ok(workspace, {"id": "ada", "properties": {"plan": "pro"}})

    # when the columns are read
    customer = (await workspace.gql(VALUES, {"id": "ada"})).data["customer"]

    # then each holds its field's value; a scope's name counts its records
    assert customer == {"country": "FR", "spent": 12.5, "plan": "pro", "orders": 1}
