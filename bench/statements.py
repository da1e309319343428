"""The service's own SQL for a predicate, compiled for a raw asyncpg connection.

Scenarios compare a GraphQL call with the statement the service runs for it,
timed alone with `Bench.sql_timed`. Nothing is hand-written here: the
condition comes from the service's compiler (`select_customers`, which parses
the predicate against the workspace's catalog and segments, as a request
does), and the page and count statements are built exactly as
`CustomerRepository.page` and `.count` build them (keep them in step).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, func, select

from api.services.predicates import select_customers
from bench.harness import Bench
from persistence.cursors import Slice
from persistence.customers import page_query
from persistence.driver import compiled_for_driver
from persistence.field_map import customer_table as c
from persistence.unit_of_work import UnitOfWork


async def condition_of(
    bench: Bench, predicate: object, now: datetime, workspace_pk: int | None = None
) -> ColumnElement[bool]:
    """The membership condition the service compiles for `predicate` at `now`."""
    async with UnitOfWork(bench.runtime.engine, workspace_pk or bench.workspace_pk) as uow:
        return (await select_customers(uow, predicate, now)).condition


def page_statement(workspace_pk: int, condition: ColumnElement[bool], first: int) -> Select[Any]:
    """`CustomerRepository.page` without cursor or search: the first `first` rows by id.

    As there, a page reads few customers: COUNT nodes take their per-customer form.
    """
    return page_query(workspace_pk, Slice(first), None, condition)


def count_statement(workspace_pk: int, condition: ColumnElement[bool]) -> Select[Any]:
    """`CustomerRepository.count` without search."""
    where = and_(c.c.workspace_pk == workspace_pk, condition)
    return select(func.count()).select_from(c).where(where)


def compiled(bench: Bench, statement: Select[Any]) -> tuple[str, list[Any]]:
    """SQL with `$n` placeholders and its arguments, as SQLAlchemy would send them to asyncpg.

    Bound values stay parameters (asyncpg prepares the statement, as it does for
    the service); each goes through its type's bind processor (JSONB to text).
    """
    sql, args, _ = compiled_for_driver(statement, bench.runtime.engine.dialect)
    return sql, args
