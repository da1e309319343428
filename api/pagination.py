"""Relay connection pieces shared by every list: page info and argument checks."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import strawberry
from graphql import GraphQLError
from strawberry.types.nodes import SelectedField

from domain.records import Page
from persistence.cursors import Slice

K = TypeVar("K")
V = TypeVar("V")
E = TypeVar("E")

DEFAULT_PAGE = 50
MAX_PAGE = 1000


@strawberry.type(description="Where a page sits in the whole list.")
class PageInfo:
    has_next_page: bool
    has_previous_page: bool
    start_cursor: str | None
    end_cursor: str | None


def page_size(first: int | None, argument: str = "first") -> int:
    """`first` (or `last`) as asked, or the default; outside 1..1000 is a request error."""
    if first is None:
        return DEFAULT_PAGE
    if not 1 <= first <= MAX_PAGE:
        raise GraphQLError(
            f"`{argument}` must be between 1 and {MAX_PAGE} (got {first}).",
            extensions={"code": "BAD_USER_INPUT"},
        )
    return first


def bad_cursor(cursor: str, argument: str = "after") -> GraphQLError:
    return GraphQLError(
        f"`{argument}` is not a cursor this list gave out: {cursor[:80]!r}.",
        extensions={"code": "BAD_USER_INPUT"},
    )


def window(
    decode: Callable[[str], K | None],
    first: int | None,
    after: str | None,
    last: int | None = None,
    before: str | None = None,
) -> Slice[K]:
    """The cursor connection arguments of one list, checked and decoded.

    `first`/`after` read forward, `last`/`before` backward, with the same limits and
    error codes; `first` and `last` together are refused (the specification
    discourages it, and no client needs it).
    """
    if first is not None and last is not None:
        raise GraphQLError(
            "Pass `first` or `last`, not both.", extensions={"code": "BAD_USER_INPUT"}
        )
    size = page_size(last, "last") if last is not None else page_size(first)
    return Slice(
        size,
        _decoded(decode, after, "after"),
        _decoded(decode, before, "before"),
        backward=last is not None,
    )


def _decoded(decode: Callable[[str], K | None], cursor: str | None, argument: str) -> K | None:
    if cursor is None:
        return None
    key = decode(cursor)
    if key is None:
        raise bad_cursor(cursor, argument)
    return key


def asks_for_rows(info: Any) -> bool:
    """Whether a connection field's selection reads its page: anything but `totalCount`
    (fragments are taken to read it)."""
    for field in info.selected_fields:
        for selection in field.selections:
            if not isinstance(selection, SelectedField) or selection.name not in COUNT_ONLY:
                return True
    return False


COUNT_ONLY = ("totalCount", "__typename")


def page_info_of(page: Page[Any]) -> PageInfo:
    return PageInfo(
        has_next_page=page.has_next,
        has_previous_page=page.has_previous,
        start_cursor=page.cursors[0] if page.cursors else None,
        end_cursor=page.cursors[-1] if page.cursors else None,
    )


def page_info(cursors: list[str], has_next: bool, after: str | None) -> PageInfo:
    return PageInfo(
        has_next_page=has_next,
        has_previous_page=after is not None,
        start_cursor=cursors[0] if cursors else None,
        end_cursor=cursors[-1] if cursors else None,
    )


def edges_of(page: Page[V], edge: Callable[..., E], node: Callable[[V], Any]) -> list[E]:
    """A page's edges: `edge(cursor=..., node=node(item))` for each item, in order."""
    return [edge(cursor=c, node=node(v)) for c, v in zip(page.cursors, page.items, strict=True)]
