"""A customer page reads only the columns its selection asks for.

Given customers with every field set (a parent, a child, properties, orders), when the
same predicate's page is asked for with a few plain fields, with others, and with a field
that has a resolver, then each answer holds the same values as the page read with every
column; and the statement of a page asking for `id email` reads NULL for the rest and
no hasChild probe.
"""

from __future__ import annotations

from typing import Any

from persistence.cursors import Slice
from persistence.customers import page_query
from tests.api.documents import DEFINE_PROPERTY
from tests.api.segment_documents import country_is, upsert_ok
from tests.conftest import Workspace

ALL_PLAIN = (
    "id externalId email name country currency language city source invoicingEntity"
    " paymentMethodType taxId parentId hasParent hasChild properties ordersCount totalSpent"
    " lastOrderAt firstOrderAt createdAt updatedAt"
)
SELECTIONS = [
    "id email",
    "__typename id hasChild",
    "id hasParent totalSpent properties ordersCount",
    "id country createdAt",
    'id value(field: "properties.plan")',  # a resolver: every column
    "id ... on Customer { email }",  # a fragment: every column
]


def page(fields: str) -> str:
    return f"""
query Page($where: JSON!) {{
  customers(first: 3, where: $where) {{
    edges {{ cursor node {{ {fields} }} }}
    pageInfo {{ hasNextPage endCursor }}
  }}
}}
"""


def customers() -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = [
        {
            "id": f"c{n}",
            "email": f"c{n}@example.com",
            "name": f"C {n}",
            "country": "FR",
            "city": "Lyon",
            "paymentMethodType": "CARD",
            "properties": {"plan": "pro"},
            "orders": [{"id": f"o{n}", "amount": 10.5 + n, "placedAt": "2026-11-01T10:00:00Z"}],
        }
        for n in range(4)
    ]
    found[2]["parentId"] = "c0"
    return found


async def test_each_selection_answers_as_the_page_read_with_every_column(
    workspace: Workspace,
) -> None:
    # Given
    defined = await workspace.gql(DEFINE_PROPERTY, {"input": {"key": "plan", "type": "STRING"}})
    assert defined.data["customPropertyDefine"]["userErrors"] == []
    await upsert_ok(workspace, *customers())
    where = {"where": country_is("FR")}
    full = await workspace.gql(page(ALL_PLAIN + ' value(field: "properties.plan")'), where)
    assert full.errors == [], full.errors
    edges = full.data["customers"]["edges"]
    assert [e["node"]["hasChild"] for e in edges] == [True, False, False]
    for fields in SELECTIONS:
        # When
        result = await workspace.gql(page(fields), where)
        # Then
        assert result.errors == [], (fields, result.errors)
        connection = result.data["customers"]
        assert connection["pageInfo"] == full.data["customers"]["pageInfo"]
        for edge, whole in zip(connection["edges"], edges, strict=True):
            assert edge["cursor"] == whole["cursor"]
            for name, value in edge["node"].items():
                if name != "__typename":
                    assert value == whole["node"][name], (fields, name)


def test_a_page_of_two_fields_reads_two_columns() -> None:
    # When
    few = str(page_query(1, Slice(50), columns=frozenset({"email"})))
    every = str(page_query(1, Slice(50)))
    # Then
    assert "NULL AS name" in few and "NULL AS has_child" in few and "EXISTS" not in few
    assert "customer.email" in few and "customer.name" in every and "EXISTS" in every
