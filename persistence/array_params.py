"""`column = ANY($1)`: a list of keys as one array parameter, not one parameter each.

A batch loader asks for a thousand customers' records at once. Written as `IN (...)`,
SQLAlchemy renders and casts a thousand parameters at every execution, and the SQL text
changes with the number of keys, so asyncpg prepares a new statement for each batch
size: a few milliseconds of the event loop's time per query, in one stretch. With a
single array parameter the text is the same for every batch, compiled and prepared
once; PostgreSQL plans `= ANY(array)` on an index as it plans `IN`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import BigInteger, ColumnElement, String, any_, bindparam
from sqlalchemy.dialects.postgresql import ARRAY


def among_pks(column: ColumnElement[Any], pks: Iterable[int]) -> ColumnElement[bool]:
    """`column` (a bigint) is one of `pks`."""
    return column == any_(bindparam(None, list(pks), type_=ARRAY(BigInteger)))


def among_ids(column: ColumnElement[Any], ids: Iterable[str]) -> ColumnElement[bool]:
    """`column` (text) is one of `ids`."""
    return column == any_(bindparam(None, list(ids), type_=ARRAY(String)))
