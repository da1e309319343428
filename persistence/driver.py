"""Statements run by asyncpg itself, past SQLAlchemy's results, failing as SQLAlchemy fails.

A hot read compiled once (a customer page's plan, one customer by id, the key lookup)
gains about a third of a millisecond a page by asking the driver for its rows: no
cursor result, no `Row` built for each. What such a read must keep is SQLAlchemy's
failure: a `DBAPIError` wrapping the driver's error (what `evaluation_guard`, the
unstorable-text check and `database_unavailable` read), and a connection that the
server dropped invalidated, so that the pool does not hand it out again. `fetch` and
`fetchrow` route a failure through the same translation SQLAlchemy's own execute uses.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NoReturn

from asyncpg import Record
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection


async def fetch(conn: AsyncConnection, sql: str, args: Sequence[Any]) -> list[Record]:
    """The rows of `sql` (`$n` placeholders) with `args`, on `conn`'s driver connection.

    SQLAlchemy's `before_cursor_execute` and `after_cursor_execute` listeners hear of it
    as of any statement (what counts statements or times SQL sees these too)."""
    raw = await conn.get_raw_connection()
    driver = raw.driver_connection
    assert driver is not None
    sync = conn.sync_connection
    dispatch = sync.dispatch if sync is not None else None
    if dispatch is not None and dispatch.before_cursor_execute:
        dispatch.before_cursor_execute(sync, None, sql, args, None, False)
    try:
        rows = list(await driver.fetch(sql, *args))
    except BaseException as error:  # cancelled too: SQLAlchemy invalidates the connection
        await conn.run_sync(_raise_as_sqlalchemy, error, sql, args)
        raise  # not reached: _raise_as_sqlalchemy always raises
    if dispatch is not None and dispatch.after_cursor_execute:
        dispatch.after_cursor_execute(sync, None, sql, args, None, False)
    return rows


async def fetchrow(conn: AsyncConnection, sql: str, args: Sequence[Any]) -> Record | None:
    """The first row of `sql` with `args`, or None."""
    rows = await fetch(conn, sql, args)
    return rows[0] if rows else None


def _raise_as_sqlalchemy(
    sync_conn: Connection, error: BaseException, sql: str, args: Sequence[Any]
) -> NoReturn:
    """Raise `error` as `exec_driver_sql` would have: the dialect's adapter turns the
    asyncpg error into its DB-API class (and forgets a transaction the server closed),
    then the connection wraps it in `DBAPIError` and, for a disconnect or a
    cancellation, invalidates itself. Run in SQLAlchemy's greenlet (`run_sync`):
    invalidating closes the driver connection, which awaits."""
    try:
        if not isinstance(error, Exception):  # a cancellation goes on as it is
            raise error
        adapted = sync_conn.connection.dbapi_connection
        adapted._handle_exception(error)  # type: ignore[union-attr]  # always raises
    except BaseException as translated:  # in an except: it reads sys.exc_info()
        sync_conn._handle_dbapi_exception(translated, sql, tuple(args), None, None)
    raise error  # not reached: the adapter always raises
