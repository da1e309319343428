"""Opaque keyset cursors: a kind letter and the key, base64url-encoded.

The kind letter keeps one list's cursor from being accepted by another.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Generic, TypeVar

from sqlalchemy import ColumnElement, UnaryExpression

K = TypeVar("K")
T = TypeVar("T")


def encode(kind: str, key: str) -> str:
    return base64.urlsafe_b64encode(f"{kind}:{key}".encode()).decode()


def decode(kind: str, cursor: str) -> str | None:
    """The key `cursor` holds, or None if it is not a cursor of this kind."""
    try:
        raw = base64.urlsafe_b64decode(cursor.encode()).decode()
    except (ValueError, UnicodeDecodeError):
        return None
    prefix = f"{kind}:"
    return raw[len(prefix) :] if raw.startswith(prefix) else None


@dataclass(frozen=True)
class Slice(Generic[K]):
    """Which page of a list ordered by one unique key: the cursor connection arguments.

    `size` items after `after` and before `before` (either may be None), the first
    ones, or the last ones when `backward` (`last`). Both directions are one
    `WHERE key > / < cursor ORDER BY key [DESC] LIMIT size + 1`: an index scan
    either way, never an offset. A list ordered by its key `descending` (newest
    first) flips the comparisons and the order.
    """

    size: int
    after: K | None = None
    before: K | None = None
    backward: bool = False
    descending: bool = False

    def listed_descending(self) -> Slice[K]:
        return replace(self, descending=True)

    def conditions(self, key: ColumnElement[K]) -> list[ColumnElement[bool]]:
        found: list[ColumnElement[bool]] = []
        if self.after is not None:
            found.append(key < self.after if self.descending else key > self.after)
        if self.before is not None:
            found.append(key > self.before if self.descending else key < self.before)
        return found

    def order(self, key: ColumnElement[K]) -> UnaryExpression[K]:
        return key.desc() if self.backward != self.descending else key.asc()

    @property
    def limit(self) -> int:
        return self.size + 1  # the one past the page says whether more follow

    def cut(self, rows: Sequence[T]) -> tuple[list[T], bool, bool]:
        """The page in list order from the rows read, hasNextPage, hasPreviousPage.

        Past the far cursor, there is more in the direction not read: the cursor's
        own item at least (a cursor whose item was deleted still counts, as in the
        forward lists before `before` existed).
        """
        more = len(rows) > self.size
        items = list(rows[: self.size])
        if self.backward:
            items.reverse()
            return items, self.before is not None, more
        return items, more, self.after is not None
