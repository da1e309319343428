"""customersUpsert and customersDelete through the real HTTP stack.

PATCH semantics (omitted keeps, null clears) for fields, properties and
related records; derived activity fields; all-or-nothing batches; deletes.
"""

from __future__ import annotations

from typing import Any

from tests.api.documents import (
    COUNT,
    CUSTOMER,
    DEFINE_PROPERTY,
    DELETE,
    LISTED_RELATED_FIELDS,
    UPSERT,
    UPSERT_WITH_RELATED,
)
from tests.conftest import Workspace

ALL_WITH_RELATED = f"""
query All($first: Int, $after: String) {{
  customers(first: $first, after: $after) {{
    totalCount
    pageInfo {{ hasNextPage }}
    edges {{ node {{ id email country properties ordersCount totalSpent
      {LISTED_RELATED_FIELDS} }} }}
  }}
}}
"""


async def upsert(ws: Workspace, *customers: dict[str, Any]) -> dict[str, Any]:
    payload: dict[str, Any] = (await ws.gql(UPSERT, {"customers": list(customers)})).data[
        "customersUpsert"
    ]
    return payload


async def upsert_ok(ws: Workspace, *customers: dict[str, Any]) -> list[dict[str, Any]]:
    payload = await upsert(ws, *customers)
    assert payload["userErrors"] == []
    result: list[dict[str, Any]] = payload["customers"]
    return result


async def upsert_related(ws: Workspace, *customers: dict[str, Any]) -> list[dict[str, Any]]:
    payload = (await ws.gql(UPSERT_WITH_RELATED, {"customers": list(customers)})).data[
        "customersUpsert"
    ]
    assert payload["userErrors"] == []
    result: list[dict[str, Any]] = payload["customers"]
    return result


async def read(ws: Workspace, customer_id: str) -> dict[str, Any]:
    customer: dict[str, Any] = (await ws.gql(CUSTOMER, {"id": customer_id})).data["customer"]
    return customer


async def count(ws: Workspace) -> int:
    total: int = (await ws.gql(COUNT)).data["customers"]["totalCount"]
    return total


async def define(ws: Workspace, key: str, type_: str, **extra: Any) -> None:
    result = await ws.gql(DEFINE_PROPERTY, {"input": {"key": key, "type": type_, **extra}})
    assert result.data["customPropertyDefine"]["userErrors"] == []


def orders_of(customer: dict[str, Any]) -> list[dict[str, Any]]:
    return [edge["node"] for edge in customer["orders"]["edges"]]


def big_customer(n: int) -> dict[str, Any]:
    """One of the 1000: every scope filled, 5 orders (one canceled)."""
    cid = f"cus_{n:04d}"
    return {
        "id": cid,
        "email": f"{cid}@example.com",
        "name": f"Customer {n}",
        "country": ["FR", "DE", "US", "GB"][n % 4],
        "currency": "EUR",
        "language": "fr",
        "paymentMethodType": "CARD",
        "properties": {"plan": ["free", "pro"][n % 2]},
        "subscriptions": [
            {
                "id": "sub_1",
                "status": "ACTIVE",
                "planId": "pro",
                "amount": 29.5,
                "currency": "EUR",
                "startedAt": "2026-01-01T00:00:00Z",
            }
        ],
        "invoices": [
            {
                "id": "inv_1",
                "status": "PAID",
                "total": 29.5,
                "currency": "EUR",
                "issuedAt": "2026-01-01T00:00:00Z",
                "paidAt": "2026-01-02T00:00:00Z",
            }
        ],
        "orders": [
            {
                "id": f"ord_{k}",
                "status": "CANCELED" if k == 4 else "FULFILLED",
                "amount": 10 + k,
                "currency": "EUR",
                "placedAt": f"2026-02-0{k + 1}T10:00:00Z",
            }
            for k in range(5)
        ],
        "wallets": [{"id": "wal_1", "currency": "EUR", "balance": 5}],
        "verifications": [
            {
                "id": "ver_1",
                "kind": "EMAIL",
                "status": "VERIFIED",
                "verifiedAt": "2026-01-03T00:00:00Z",
            }
        ],
    }


# ---- volume ---------------------------------------------------------------


async def test_upsert_1000_customers_with_related_records_in_one_call(
    workspace: Workspace,
) -> None:
    # given a workspace declaring `plan`, and 1000 customers with 9 records each
    await define(workspace, "plan", "STRING", allowedValues=["free", "pro"])
    batch = [big_customer(n) for n in range(1000)]

    # when they are upserted in one call
    payload = await upsert(workspace, *batch)

    # then every customer comes back, in input order
    assert payload["userErrors"] == []
    assert [c["id"] for c in payload["customers"]] == [c["id"] for c in batch]

    # and reading them back shows every related record and the derived fields
    result = await workspace.gql(ALL_WITH_RELATED, {"first": 1000})
    connection = result.data["customers"]
    assert connection["totalCount"] == 1000
    assert connection["pageInfo"]["hasNextPage"] is False
    nodes = [edge["node"] for edge in connection["edges"]]
    assert [n["id"] for n in nodes] == [f"cus_{n:04d}" for n in range(1000)]
    for n, node in enumerate(nodes):
        assert node["properties"] == {"plan": ["free", "pro"][n % 2]}
        assert len(node["subscriptions"]) == 1
        assert len(node["invoices"]) == 1
        assert node["orders"]["totalCount"] == 5
        assert len(node["wallets"]) == 1
        assert len(node["verifications"]) == 1
        assert node["ordersCount"] == 4
        assert node["totalSpent"] == 10 + 11 + 12 + 13
    sample = await read(workspace, "cus_0042")
    assert sample["subscriptions"] == [
        {
            "id": "sub_1",
            "status": "ACTIVE",
            "planId": "pro",
            "amount": 29.5,
            "currency": "EUR",
            "startedAt": "2026-01-01T00:00:00+00:00",
            "trialEndsAt": None,
            "currentPeriodEndsAt": None,
            "canceledAt": None,
        }
    ]
    assert sample["invoices"][0]["paidAt"] == "2026-01-02T00:00:00+00:00"
    assert sample["wallets"] == [{"id": "wal_1", "currency": "EUR", "balance": 5.0}]
    assert sample["verifications"][0]["kind"] == "EMAIL"
    assert sample["firstOrderAt"] == "2026-02-01T10:00:00+00:00"
    assert sample["lastOrderAt"] == "2026-02-04T10:00:00+00:00"


async def test_many_orders_across_a_full_batch_are_stored(workspace: Workspace) -> None:
    # given 1000 customers with 10 orders each: 10,000 order rows in one call
    batch = [
        {"id": f"c{n:04d}", "orders": [{"id": f"o{k}", "amount": 1} for k in range(10)]}
        for n in range(1000)
    ]

    # when they are upserted
    payload = await upsert(workspace, *batch)

    # then all of them are stored and counted
    assert payload["userErrors"] == []
    assert {c["ordersCount"] for c in payload["customers"]} == {10}
    assert (await read(workspace, "c0999"))["orders"]["totalCount"] == 10


# ---- PATCH semantics: top-level fields --------------------------------------


async def test_omitted_field_keeps_value_and_explicit_null_clears_it(
    workspace: Workspace,
) -> None:
    # given a customer with several fields set
    await upsert_ok(
        workspace,
        {
            "id": "c1",
            "email": "a@example.com",
            "name": "Ann",
            "country": "FR",
            "city": "Lyon",
            "externalId": "ext-1",
            "paymentMethodType": "CARD",
            "taxId": "FR123",
        },
    )

    # when an update sends a new name, null for city, and omits everything else
    [updated] = await upsert_ok(workspace, {"id": "c1", "name": "Anne", "city": None})

    # then the name changed, the city is cleared, the rest kept
    assert updated["name"] == "Anne"
    assert updated["city"] is None
    assert updated["email"] == "a@example.com"
    assert updated["country"] == "FR"
    assert updated["externalId"] == "ext-1"
    assert updated["paymentMethodType"] == "CARD"
    assert updated["taxId"] == "FR123"
    stored = await read(workspace, "c1")
    assert (stored["name"], stored["city"], stored["email"]) == ("Anne", None, "a@example.com")


async def test_upsert_with_only_an_id_creates_an_empty_customer(workspace: Workspace) -> None:
    # when a customer is created from just an id
    [created] = await upsert_ok(workspace, {"id": "bare"})

    # then every optional field is null and the derived fields are zero
    assert created["email"] is None and created["country"] is None
    assert created["properties"] == {}
    assert (created["ordersCount"], created["totalSpent"]) == (0, 0.0)
    assert (created["firstOrderAt"], created["lastOrderAt"]) == (None, None)
    assert (created["hasParent"], created["hasChild"]) == (False, False)


async def test_upsert_payload_keeps_the_input_order(workspace: Workspace) -> None:
    customers = await upsert_ok(workspace, {"id": "b"}, {"id": "c"}, {"id": "a"})
    assert [c["id"] for c in customers] == ["b", "c", "a"]


async def test_created_at_given_is_kept_and_defaulted_otherwise(workspace: Workspace) -> None:
    # given one customer created with an explicit createdAt and one without
    [given, defaulted] = await upsert_ok(
        workspace,
        {"id": "old", "createdAt": "2020-05-01T12:00:00+02:00"},
        {"id": "new"},
    )

    # then the given one is stored in UTC, the other defaults to the write time
    assert given["createdAt"] == "2020-05-01T10:00:00+00:00"
    assert defaulted["createdAt"] == defaulted["updatedAt"]
    assert defaulted["createdAt"] > "2026"

    # when both are updated without createdAt, or with createdAt: null
    [old_again, new_again] = await upsert_ok(
        workspace, {"id": "old", "name": "x"}, {"id": "new", "createdAt": None}
    )

    # then createdAt is kept (it cannot be cleared) and updatedAt moves on
    assert old_again["createdAt"] == "2020-05-01T10:00:00+00:00"
    assert new_again["createdAt"] == defaulted["createdAt"]
    assert new_again["updatedAt"] > defaulted["updatedAt"]


# ---- PATCH semantics: properties ----------------------------------------------


async def test_properties_merge_key_by_key_and_null_removes_a_key(
    workspace: Workspace,
) -> None:
    # given declared properties and a customer with three of them
    await define(workspace, "plan", "STRING")
    await define(workspace, "seats", "NUMBER")
    await define(workspace, "vip", "BOOLEAN")
    await upsert_ok(workspace, {"id": "c1", "properties": {"plan": "pro", "seats": 3, "vip": True}})

    # when an update changes one key, removes another and omits the third
    [updated] = await upsert_ok(workspace, {"id": "c1", "properties": {"seats": 5, "vip": None}})

    # then the changes merge into what was stored
    assert updated["properties"] == {"plan": "pro", "seats": 5}

    # and omitting `properties` entirely keeps them all
    [kept] = await upsert_ok(workspace, {"id": "c1", "name": "n"})
    assert kept["properties"] == {"plan": "pro", "seats": 5}

    # and an empty object changes nothing
    [same] = await upsert_ok(workspace, {"id": "c1", "properties": {}})
    assert same["properties"] == {"plan": "pro", "seats": 5}


async def test_properties_null_clears_every_key(workspace: Workspace) -> None:
    # given a customer with a property
    await define(workspace, "plan", "STRING")
    await upsert_ok(workspace, {"id": "c1", "properties": {"plan": "pro"}})

    # when properties is sent as an explicit null
    [cleared] = await upsert_ok(workspace, {"id": "c1", "properties": None})

    # then, like any other field, it is cleared
    assert cleared["properties"] == {}


# ---- PATCH semantics: related records ------------------------------------------


async def test_related_records_are_upserted_by_their_own_id(workspace: Workspace) -> None:
    # given a customer with a subscription, an invoice, a wallet and a verification
    await upsert_related(
        workspace,
        {
            "id": "c1",
            "subscriptions": [
                {
                    "id": "s1",
                    "status": "TRIALING",
                    "planId": "basic",
                    "amount": 10,
                    "currency": "EUR",
                    "trialEndsAt": "2026-03-01T00:00:00Z",
                }
            ],
            "invoices": [{"id": "i1", "status": "OPEN", "total": 99.99, "currency": "EUR"}],
            "wallets": [{"id": "w1", "currency": "EUR", "balance": 12.5}],
            "verifications": [{"id": "v1", "kind": "PHONE", "status": "PENDING"}],
        },
    )

    # when an update changes some record fields, clears one, omits the rest and adds a record
    [customer] = await upsert_related(
        workspace,
        {
            "id": "c1",
            "subscriptions": [{"id": "s1", "status": "ACTIVE", "trialEndsAt": None}],
            "invoices": [
                {"id": "i1", "status": "PAID", "paidAt": "2026-03-02T00:00:00Z"},
                {"id": "i2", "status": "DRAFT"},
            ],
            "verifications": [{"id": "v1", "status": "VERIFIED"}],
        },
    )

    # then each record merged with what was stored; untouched scopes are unchanged
    assert customer["subscriptions"] == [
        {
            "id": "s1",
            "status": "ACTIVE",
            "planId": "basic",
            "amount": 10.0,
            "currency": "EUR",
            "startedAt": None,
            "trialEndsAt": None,
            "currentPeriodEndsAt": None,
            "canceledAt": None,
        }
    ]
    assert customer["invoices"] == [
        {
            "id": "i1",
            "status": "PAID",
            "total": 99.99,
            "currency": "EUR",
            "issuedAt": None,
            "dueAt": None,
            "paidAt": "2026-03-02T00:00:00+00:00",
        },
        {
            "id": "i2",
            "status": "DRAFT",
            "total": None,
            "currency": None,
            "issuedAt": None,
            "dueAt": None,
            "paidAt": None,
        },
    ]
    assert customer["wallets"] == [{"id": "w1", "currency": "EUR", "balance": 12.5}]
    assert customer["verifications"] == [
        {"id": "v1", "kind": "PHONE", "status": "VERIFIED", "verifiedAt": None}
    ]
    assert customer == await read(workspace, "c1") | {"updatedAt": customer["updatedAt"]}


async def test_record_ids_are_scoped_to_their_customer(workspace: Workspace) -> None:
    # given two customers each sending an order with the same id
    await upsert_ok(
        workspace,
        {"id": "a", "orders": [{"id": "o1", "amount": 1}]},
        {"id": "b", "orders": [{"id": "o1", "amount": 2}]},
    )

    # when b's order is updated
    await upsert_ok(workspace, {"id": "b", "orders": [{"id": "o1", "amount": 20}]})

    # then a's order is untouched
    assert orders_of(await read(workspace, "a"))[0]["amount"] == 1.0
    assert orders_of(await read(workspace, "b"))[0]["amount"] == 20.0


async def test_empty_or_null_record_lists_keep_stored_records(workspace: Workspace) -> None:
    # given a customer with a wallet
    await upsert_ok(workspace, {"id": "c1", "wallets": [{"id": "w1", "balance": 1}]})

    # when updates send an empty list, then null
    await upsert_ok(workspace, {"id": "c1", "wallets": []})
    await upsert_ok(workspace, {"id": "c1", "wallets": None})

    # then the wallet is still there: records are only ever upserted, never replaced
    assert [w["id"] for w in (await read(workspace, "c1"))["wallets"]] == ["w1"]


# ---- derived fields -----------------------------------------------------------


async def test_activity_fields_follow_the_orders(workspace: Workspace) -> None:
    # given a customer without orders
    [fresh] = await upsert_ok(workspace, {"id": "c1"})
    assert (fresh["ordersCount"], fresh["totalSpent"], fresh["lastOrderAt"]) == (0, 0.0, None)

    # when two orders are added
    [after_two] = await upsert_ok(
        workspace,
        {
            "id": "c1",
            "orders": [
                {
                    "id": "o1",
                    "status": "PLACED",
                    "amount": 10.25,
                    "placedAt": "2026-01-10T00:00:00Z",
                },
                {
                    "id": "o2",
                    "status": "FULFILLED",
                    "amount": 5,
                    "placedAt": "2026-01-05T00:00:00Z",
                },
            ],
        },
    )

    # then they are counted
    assert after_two["ordersCount"] == 2
    assert after_two["totalSpent"] == 15.25
    assert after_two["firstOrderAt"] == "2026-01-05T00:00:00+00:00"
    assert after_two["lastOrderAt"] == "2026-01-10T00:00:00+00:00"

    # when a third is added in a later call
    [after_three] = await upsert_ok(
        workspace,
        {"id": "c1", "orders": [{"id": "o3", "amount": 100, "placedAt": "2026-02-01T00:00:00Z"}]},
    )

    # then it adds up with the stored ones (an order without status counts)
    assert (after_three["ordersCount"], after_three["totalSpent"]) == (3, 115.25)
    assert after_three["lastOrderAt"] == "2026-02-01T00:00:00+00:00"


async def test_canceled_and_refunded_orders_stop_counting(workspace: Workspace) -> None:
    # given three counted orders
    await upsert_ok(
        workspace,
        {
            "id": "c1",
            "orders": [
                {
                    "id": "o1",
                    "status": "FULFILLED",
                    "amount": 10,
                    "placedAt": "2026-01-01T00:00:00Z",
                },
                {
                    "id": "o2",
                    "status": "FULFILLED",
                    "amount": 20,
                    "placedAt": "2026-01-02T00:00:00Z",
                },
                {"id": "o3", "status": "PLACED", "amount": 40, "placedAt": "2026-01-03T00:00:00Z"},
            ],
        },
    )

    # when the last is canceled and the first refunded (only their status sent)
    [customer] = await upsert_ok(
        workspace,
        {
            "id": "c1",
            "orders": [{"id": "o3", "status": "CANCELED"}, {"id": "o1", "status": "REFUNDED"}],
        },
    )

    # then only o2 counts, for the count, the sum and both dates
    assert customer["ordersCount"] == 1
    assert customer["totalSpent"] == 20.0
    assert customer["firstOrderAt"] == customer["lastOrderAt"] == "2026-01-02T00:00:00+00:00"

    # and the orders themselves kept their amounts
    stored = await read(workspace, "c1")
    assert [(o["id"], o["status"], o["amount"]) for o in orders_of(stored)] == [
        ("o1", "REFUNDED", 10.0),
        ("o2", "FULFILLED", 20.0),
        ("o3", "CANCELED", 40.0),
    ]

    # when the last counted order is canceled too
    [none_left] = await upsert_ok(
        workspace, {"id": "c1", "orders": [{"id": "o2", "status": "CANCELED"}]}
    )

    # then nothing counts any more
    assert (none_left["ordersCount"], none_left["totalSpent"]) == (0, 0.0)
    assert (none_left["firstOrderAt"], none_left["lastOrderAt"]) == (None, None)


async def test_activity_fields_survive_updates_without_orders(workspace: Workspace) -> None:
    # given a customer with an order
    await upsert_ok(workspace, {"id": "c1", "orders": [{"id": "o1", "amount": 7}]})

    # when an unrelated field changes
    [customer] = await upsert_ok(workspace, {"id": "c1", "name": "x"})

    # then the derived fields are unchanged
    assert (customer["ordersCount"], customer["totalSpent"]) == (1, 7.0)


async def test_has_parent_and_has_child(workspace: Workspace) -> None:
    # given a parent and a child naming it, created in the same call (child first)
    [child, parent] = await upsert_ok(
        workspace, {"id": "child", "parentId": "parent"}, {"id": "parent"}
    )

    # then both flags are derived
    assert (child["parentId"], child["hasParent"], child["hasChild"]) == ("parent", True, False)
    assert (parent["hasParent"], parent["hasChild"]) == (False, True)

    # when the child's parentId is cleared
    await upsert_ok(workspace, {"id": "child", "parentId": None})

    # then neither has a relation any more
    child_now, parent_now = await read(workspace, "child"), await read(workspace, "parent")
    assert (child_now["parentId"], child_now["hasParent"]) == (None, False)
    assert parent_now["hasChild"] is False


async def test_a_customer_cannot_be_its_own_parent(workspace: Workspace) -> None:
    payload = await upsert(workspace, {"id": "me", "parentId": "me"})
    assert payload["customers"] == []
    assert [(e["field"], e["code"]) for e in payload["userErrors"]] == [
        (["customers", "0", "parentId"], "INVALID")
    ]


# ---- all or nothing -------------------------------------------------------------


async def test_a_batch_with_one_bad_item_changes_nothing_and_names_it(
    workspace: Workspace,
) -> None:
    # given a stored customer
    await upsert_ok(workspace, {"id": "c0", "name": "before"})

    # when a batch updates it and adds four more, the fourth with an unknown country
    payload = await upsert(
        workspace,
        {"id": "c0", "name": "after"},
        {"id": "c1"},
        {"id": "c2", "orders": [{"id": "o1", "amount": 1}]},
        {"id": "c3", "country": "XX"},
        {"id": "c4"},
    )

    # then the error names the item and its field, and no customer is returned
    assert payload["customers"] == []
    assert [(e["field"], e["code"]) for e in payload["userErrors"]] == [
        (["customers", "3", "country"], "INVALID_COUNTRY")
    ]
    assert "XX" in payload["userErrors"][0]["message"]

    # and nothing changed
    assert await count(workspace) == 1
    assert (await read(workspace, "c0"))["name"] == "before"


async def test_every_bad_field_of_a_batch_is_reported(workspace: Workspace) -> None:
    payload = await upsert(
        workspace,
        {"id": "ok"},
        {"id": "a", "currency": "EURO", "language": "french"},
        {"id": "b", "orders": [{"id": "o1", "currency": "ZZZ"}, {"id": "o2", "status": "LOST"}]},
        {"id": "c", "subscriptions": [{"id": "", "status": "ACTIVE"}]},
    )
    assert sorted((e["field"], e["code"]) for e in payload["userErrors"]) == sorted(
        [
            (["customers", "1", "currency"], "INVALID_CURRENCY"),
            (["customers", "1", "language"], "INVALID_LANGUAGE"),
            (["customers", "2", "orders", "0", "currency"], "INVALID_CURRENCY"),
            (["customers", "2", "orders", "1", "status"], "INVALID_ENUM_VALUE"),
            (["customers", "3", "subscriptions", "0", "id"], "INVALID"),
        ]
    )
    assert await count(workspace) == 0


async def test_duplicate_customer_ids_in_one_call_are_refused(workspace: Workspace) -> None:
    payload = await upsert(workspace, {"id": "a"}, {"id": "b"}, {"id": "a", "name": "again"})
    assert payload["customers"] == []
    assert [(e["field"], e["code"]) for e in payload["userErrors"]] == [
        (["customers", "2", "id"], "DUPLICATE")
    ]
    assert await count(workspace) == 0


async def test_duplicate_record_ids_within_a_customer_are_refused(workspace: Workspace) -> None:
    payload = await upsert(
        workspace, {"id": "a", "orders": [{"id": "o1", "amount": 1}, {"id": "o1", "amount": 2}]}
    )
    assert [(e["field"], e["code"]) for e in payload["userErrors"]] == [
        (["customers", "0", "orders", "1", "id"], "DUPLICATE")
    ]
    assert await count(workspace) == 0


async def test_an_empty_batch_is_refused(workspace: Workspace) -> None:
    payload = await upsert(workspace)
    assert [(e["field"], e["code"]) for e in payload["userErrors"]] == [(["customers"], "TOO_FEW")]


# ---- delete ---------------------------------------------------------------------


async def test_delete_removes_customers_and_their_records(workspace: Workspace) -> None:
    # given two customers with records
    await upsert_ok(
        workspace,
        {
            "id": "a",
            "orders": [{"id": "o1", "amount": 5}],
            "wallets": [{"id": "w1"}],
            "subscriptions": [{"id": "s1"}],
            "invoices": [{"id": "i1"}],
            "verifications": [{"id": "v1"}],
        },
        {"id": "b"},
    )

    # when one is deleted together with an unknown id
    result = await workspace.gql(DELETE, {"ids": ["a", "nobody"]})

    # then only the existing one is reported deleted, the unknown one ignored
    assert result.data["customersDelete"] == {"deletedCustomerIds": ["a"], "userErrors": []}
    assert (await workspace.gql(CUSTOMER, {"id": "a"})).data["customer"] is None
    assert await count(workspace) == 1

    # and re-creating the same id starts from nothing: its records went with it
    [again] = await upsert_ok(workspace, {"id": "a"})
    assert again["ordersCount"] == 0
    stored = await read(workspace, "a")
    assert stored["orders"]["totalCount"] == 0
    assert stored["subscriptions"] == stored["invoices"] == stored["wallets"] == []
    assert stored["verifications"] == []


async def test_delete_batch_limits(workspace: Workspace) -> None:
    # given a customer
    await upsert_ok(workspace, {"id": "a"})

    # when deletes send no ids, too many ids, or a malformed id
    empty = await workspace.gql(DELETE, {"ids": []})
    too_many = await workspace.gql(DELETE, {"ids": ["a"] + [f"x{n}" for n in range(1000)]})
    malformed = await workspace.gql(DELETE, {"ids": ["a", "  "]})

    # then each is a userError and nothing is deleted
    assert [(e["field"], e["code"]) for e in empty.data["customersDelete"]["userErrors"]] == [
        (["ids"], "TOO_FEW")
    ]
    assert [(e["field"], e["code"]) for e in too_many.data["customersDelete"]["userErrors"]] == [
        (["ids"], "TOO_MANY")
    ]
    assert [(e["field"], e["code"]) for e in malformed.data["customersDelete"]["userErrors"]] == [
        (["ids", "1"], "INVALID")
    ]
    assert await count(workspace) == 1

    # and exactly 1000 ids is accepted
    thousand = await workspace.gql(DELETE, {"ids": ["a"] + [f"x{n}" for n in range(999)]})
    assert thousand.data["customersDelete"] == {"deletedCustomerIds": ["a"], "userErrors": []}
