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

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NoReturn

from asyncpg import Record
from sqlalchemy.dialects.postgresql.asyncpg import dialect as asyncpg_dialect
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.expression import ClauseElement

DIALECT: Dialect = asyncpg_dialect()  # type: ignore[no-untyped-call]


def compiled_for_driver(
    statement: ClauseElement, dialect: Dialect = DIALECT
) -> tuple[str, list[Any], list[str]]:
    """SQL with `$n` placeholders, its arguments in order (each through its type's bind
    processor, e.g. JSONB to text) and their bind names, as SQLAlchemy sends them."""
    sql, args, names, _ = _compiled(statement, dialect)
    return sql, args, names


def _compiled(
    statement: ClauseElement, dialect: Dialect
) -> tuple[str, list[Any], list[str], dict[str, Any]]:
    result: Any = statement.compile(dialect=dialect, compile_kwargs={"render_postcompile": True})
    params = result.construct_params()
    processors: dict[str, Any] = dict(result._bind_processors)
    names = list(result.positiontup or [])
    args = [processors[n](params[n]) if n in processors else params[n] for n in names]
    return result.string, args, names, processors


@dataclass(frozen=True)
class Compiled:
    """A statement compiled once for the driver: its `$n` SQL, its arguments as SQLAlchemy
    would send them, and where each value named at run time goes (with the bind
    processor of its type). Building, compiling and executing a statement through
    SQLAlchemy costs a hot statement more of the event loop than PostgreSQL takes to
    run it."""

    sql: str
    args: tuple[Any, ...]
    slots: tuple[tuple[int, str, Callable[[Any], Any] | None], ...]

    @classmethod
    def of(cls, statement: ClauseElement, *named: str, **placeholders: Any) -> Compiled:
        """`statement` compiled, with the bind parameters `named` or given `placeholders`
        (values for those that have none) as the slots `arguments` fills."""
        bound = statement.params(**placeholders) if placeholders else statement
        sql, args, names, processors = _compiled(bound, DIALECT)
        slotted = {*named, *placeholders}
        slots = tuple((i, n, processors.get(n)) for i, n in enumerate(names) if n in slotted)
        return cls(sql, tuple(args), slots)

    def arguments(self, values: Mapping[str, Any]) -> list[Any]:
        args = list(self.args)
        for position, name, process in self.slots:
            args[position] = process(values[name]) if process else values[name]
        return args

    async def fetch(self, conn: AsyncConnection, **values: Any) -> list[Record]:
        return await fetch(conn, self.sql, self.arguments(values))

    async def fetchrow(self, conn: AsyncConnection, **values: Any) -> Record | None:
        return await fetchrow(conn, self.sql, self.arguments(values))


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
