"""persistence.driver: the driver's rows are SQLAlchemy's, and its failures are SQLAlchemy's.

The hot reads (a planned customer page, one customer by id, the key lookup) ask asyncpg
for their rows; what reads their errors (evaluation_guard, database_unavailable) and the
pool (a dropped connection is not handed out again) must not tell the difference.
"""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from api.runtime import Runtime
from persistence import driver
from persistence.database import database_unavailable

TYPED = (
    'SELECT $1::bigint AS pk, $2::text AS id, \'{"a": [1, "x"]}\'::jsonb AS properties,'
    " 12.5000::numeric(20, 4) AS total, now() AS at, true AS flag, NULL::text AS nothing"
)


async def test_rows_are_those_sqlalchemy_reads(runtime: Runtime) -> None:
    async with runtime.reader.connect() as conn:
        record = await driver.fetchrow(conn, TYPED, [7, "cus_1"])
        row = (await conn.exec_driver_sql(TYPED, (7, "cus_1"))).one()
    assert record is not None
    assert tuple(record.keys()) == row._fields
    assert tuple(record)[:3] == tuple(row)[:3] == (7, "cus_1", {"a": [1, "x"]})
    assert record["total"] == row.total == Decimal("12.5000")
    assert type(record["at"]) is type(row.at) and record["flag"] is row.flag is True
    assert record["nothing"] is None


async def test_no_row_is_none(runtime: Runtime) -> None:
    async with runtime.reader.connect() as conn:
        assert await driver.fetchrow(conn, "SELECT 1 WHERE $1::int = 0", [1]) is None
        assert await driver.fetch(conn, "SELECT 1 WHERE $1::int = 0", [1]) == []


async def test_a_statement_error_is_a_dbapi_error_with_its_sqlstate(runtime: Runtime) -> None:
    async with runtime.reader.connect() as conn:
        await conn.exec_driver_sql("SET statement_timeout = 50")
        with pytest.raises(DBAPIError) as caught:
            await driver.fetch(conn, "SELECT pg_sleep($1::float)", [5.0])
        assert caught.value.orig is not None
        assert getattr(caught.value.orig, "sqlstate", None) == "57014"  # query_canceled
        assert not caught.value.connection_invalidated
        assert not database_unavailable(caught.value)
        await conn.exec_driver_sql("RESET statement_timeout")
        assert await driver.fetchrow(conn, "SELECT $1::int AS one", [1]) == (1,)


async def test_a_dropped_connection_is_invalidated_and_not_handed_out_again(
    runtime: Runtime,
) -> None:
    async with runtime.reader.connect() as conn:
        victim = (await conn.exec_driver_sql("SELECT pg_backend_pid()")).scalar_one()
        async with runtime.reader.connect() as other:
            await other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": victim})
        with pytest.raises(DBAPIError) as caught:
            await driver.fetch(conn, "SELECT $1::int", [1])
        assert caught.value.connection_invalidated
        assert database_unavailable(caught.value)
        assert conn.invalidated
    for _ in range(runtime.settings.pool_size + 1):  # every pooled connection answers
        async with runtime.reader.connect() as conn:
            assert await driver.fetchrow(conn, "SELECT $1::int AS one", [1]) == (1,)


async def test_a_cancelled_fetch_invalidates_its_connection_as_sqlalchemy_does(
    runtime: Runtime,
) -> None:
    async with runtime.reader.connect() as conn:
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.05):  # the request budget's way of stopping a read
                await driver.fetch(conn, "SELECT pg_sleep($1::float)", [5.0])
        assert conn.invalidated  # not handed out again mid-statement
    async with runtime.reader.connect() as conn:
        assert await driver.fetchrow(conn, "SELECT $1::int AS one", [1]) == (1,)
