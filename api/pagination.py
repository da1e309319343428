"""Relay connection pieces shared by every list: page info and argument checks."""

from __future__ import annotations

import strawberry
from graphql import GraphQLError

DEFAULT_PAGE = 50
MAX_PAGE = 1000


@strawberry.type(description="Where a page sits in the whole list.")
class PageInfo:
    has_next_page: bool
    has_previous_page: bool
    start_cursor: str | None
    end_cursor: str | None


def page_size(first: int | None) -> int:
    """`first` as asked, or the default; outside 1..1000 is a request error."""
    if first is None:
        return DEFAULT_PAGE
    if not 1 <= first <= MAX_PAGE:
        raise GraphQLError(
            f"`first` must be between 1 and {MAX_PAGE} (got {first}).",
            extensions={"code": "BAD_USER_INPUT"},
        )
    return first


def bad_cursor(cursor: str) -> GraphQLError:
    return GraphQLError(
        f"`after` is not a cursor this list gave out: {cursor[:80]!r}.",
        extensions={"code": "BAD_USER_INPUT"},
    )


def page_info(cursors: list[str], has_next: bool, after: str | None) -> PageInfo:
    return PageInfo(
        has_next_page=has_next,
        has_previous_page=after is not None,
        start_cursor=cursors[0] if cursors else None,
        end_cursor=cursors[-1] if cursors else None,
    )
