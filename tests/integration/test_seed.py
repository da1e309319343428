"""The seed loader: derived columns agree with refresh_activity, data is valid and deterministic."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import text

from api.runtime import Runtime
from domain.custom_property import coerce_property_value
from domain.customer import CUSTOMER_ATTRS, RELATED_ATTRS
from domain.iso_codes import is_country, is_currency, is_language
from persistence.custom_properties import CustomPropertyRepository
from persistence.customers import CustomerRepository
from persistence.seed import SeedError, seed_customers
from persistence.workspaces import WorkspaceRepository

NOW = datetime(2026, 11, 1, 15, 30, tzinfo=UTC)

DERIVED = text(
    "SELECT id, orders_count, total_spent, first_order_at, last_order_at FROM customer "
    "WHERE workspace_pk = :ws ORDER BY id"
)
ALL_PKS = text("SELECT pk FROM customer WHERE workspace_pk = :ws")
CUSTOMERS = text(
    "SELECT id, email, name, country, currency, language, payment_method_type, parent_id, "
    "properties, total_spent, created_at FROM customer WHERE workspace_pk = :ws ORDER BY id"
)
RELATED_VALUES = text(
    " UNION ".join(
        f"SELECT '{scope}', r.status, r.{other} FROM {table} r "
        "JOIN customer c ON c.pk = r.customer_pk WHERE c.workspace_pk = :ws"
        for scope, table, other in (
            ("subscriptions", "subscription", "currency"),
            ("invoices", "invoice", "currency"),
            ("orders", "customer_order", "currency"),
            ("verifications", "verification", "kind"),
        )
    )
)


def _name() -> str:
    return f"seed-{uuid.uuid4().hex[:10]}"


async def _workspace_pk(runtime: Runtime, name: str) -> int:
    async with runtime.engine.begin() as conn:
        pk, _ = await WorkspaceRepository(conn).ensure(name)
    return pk


async def _rows(runtime: Runtime, query: Any, ws: int) -> list[tuple[Any, ...]]:
    async with runtime.engine.connect() as conn:
        return [tuple(row) for row in await conn.execute(query, {"ws": ws})]


async def test_derived_columns_equal_what_refresh_activity_computes(runtime: Runtime) -> None:
    # given 2000 customers loaded by two worker processes, in chunks of 1000
    name = _name()
    report = await seed_customers(runtime, name, 2000, seed=7, jobs=2, chunk_size=1000, now=NOW)
    ws = await _workspace_pk(runtime, name)
    stored = await _rows(runtime, DERIVED, ws)
    # when the repository recomputes them from the orders (in a transaction rolled back)
    async with runtime.engine.connect() as conn:
        pks = [row.pk for row in await conn.execute(ALL_PKS, {"ws": ws})]
        await CustomerRepository(conn, ws).refresh_activity(pks)
        recomputed = [tuple(row) for row in await conn.execute(DERIVED, {"ws": ws})]
        await conn.rollback()
    # then nothing changes
    assert report.customers == len(stored) == 2000
    assert report.rows["customer_order"] > 2000
    assert stored == recomputed
    assert any(row[1] > 0 for row in stored) and any(row[1] == 0 for row in stored)


async def test_excluded_and_unstatused_orders_occur(runtime: Runtime) -> None:
    # given a seeded workspace
    name = _name()
    await seed_customers(runtime, name, 1500, now=NOW)
    ws = await _workspace_pk(runtime, name)
    # when counting its orders by status
    statuses = dict(
        await _rows(
            runtime,
            text(
                "SELECT coalesce(o.status, 'null'), count(*) FROM customer_order o "
                "JOIN customer c ON c.pk = o.customer_pk WHERE c.workspace_pk = :ws GROUP BY 1"
            ),
            ws,
        )
    )
    # then every case refresh_activity distinguishes is exercised
    assert {"PLACED", "FULFILLED", "CANCELED", "REFUNDED", "null"} <= set(statuses)


async def test_values_are_what_the_api_would_accept(runtime: Runtime) -> None:
    # given a seeded workspace and its declared properties
    name = _name()
    await seed_customers(runtime, name, 1000, now=NOW)
    ws = await _workspace_pk(runtime, name)
    async with runtime.engine.connect() as conn:
        declared = await CustomPropertyRepository(conn, ws).all()
    rows = await _rows(runtime, CUSTOMERS, ws)
    ids = {row[0] for row in rows}
    payment_methods = CUSTOMER_ATTRS["paymentMethodType"].allowed or ()
    # then every value is valid, and normalised as the API stores it
    for cid, _, _, country, currency, language, payment, parent, props, _, created in rows:
        assert country is None or is_country(country)
        assert currency is None or is_currency(currency)
        assert language is None or is_language(language)
        assert payment is None or payment in payment_methods
        assert parent is None or (parent in ids and parent < cid)
        assert created <= NOW
        for key, value in props.items():
            assert coerce_property_value(declared[key], value, (key,)) == value
    assert sum(1 for row in rows if row[8]) > 0.8 * len(rows)
    assert {"plan", "seats", "beta", "renewal_at", "industry"} <= set(declared)
    for scope, status, other in await _rows(runtime, RELATED_VALUES, ws):
        field = "kind" if scope == "verifications" else "currency"
        assert status in (RELATED_ATTRS[scope]["status"].allowed or ()) or status is None
        assert other is not None and (field == "kind" or is_currency(other))


async def test_same_seed_same_data_whatever_the_chunking(runtime: Runtime) -> None:
    # given the same seed loaded in one process and in two, with other chunk sizes
    first, second = _name(), _name()
    await seed_customers(runtime, first, 2500, seed=3, jobs=1, now=NOW)
    await seed_customers(runtime, second, 2500, seed=3, jobs=2, chunk_size=2000, now=NOW)
    # then both workspaces hold the same customers
    a = await _rows(runtime, CUSTOMERS, await _workspace_pk(runtime, first))
    b = await _rows(runtime, CUSTOMERS, await _workspace_pk(runtime, second))
    assert a == b


async def test_a_second_seed_appends_after_the_first(runtime: Runtime) -> None:
    # given a workspace seeded once
    name = _name()
    await seed_customers(runtime, name, 1200, now=NOW)
    # when seeding it again
    report = await seed_customers(runtime, name, 300, now=NOW)
    # then the new customers come after the existing ones
    assert (report.first_id, report.last_id) == ("cus_0001201", "cus_0001500")
    rows = await _rows(runtime, CUSTOMERS, await _workspace_pk(runtime, name))
    assert len(rows) == 1500


async def test_indexes_are_rebuilt_as_they_were(runtime: Runtime) -> None:
    # given the indexes of the seeded tables
    query = text(
        "SELECT indexname, indexdef FROM pg_indexes WHERE tablename IN ('customer', "
        "'subscription', 'invoice', 'customer_order', 'wallet', 'verification') ORDER BY 1"
    )
    async with runtime.engine.connect() as conn:
        before = [tuple(row) for row in await conn.execute(query)]
    # when a seed drops and rebuilds them
    report = await seed_customers(runtime, _name(), 1000, rebuild_indexes=True, now=NOW)
    async with runtime.engine.connect() as conn:
        after = [tuple(row) for row in await conn.execute(query)]
    # then they are all back, defined the same way
    assert report.indexes_rebuilt > 10
    assert after == before


async def test_a_conflicting_property_declaration_is_refused(runtime: Runtime) -> None:
    # given a workspace where `plan` is a number
    name = _name()
    ws = await _workspace_pk(runtime, name)
    async with runtime.engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO custom_property (workspace_pk, key, type) "
                "VALUES (:ws, 'plan', 'NUMBER')"
            ),
            {"ws": ws},
        )
    # when seeding it, then the seed says why it cannot
    with pytest.raises(SeedError, match=r"properties\.plan"):
        await seed_customers(runtime, name, 10, now=NOW)
