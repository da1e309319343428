"""Top-level GraphQL errors: every one carries `extensions.code`; server faults are masked.

Business refusals are `userErrors` and never get here. What does get here is
either the client's fault (a malformed document, a limit, a bad variable, a
resolver refusing an argument with a `GraphQLError`) or ours (an exception
escaping a resolver). The first keeps its message and gains `BAD_REQUEST`
when it has no code yet; the second becomes a bare `INTERNAL_SERVER_ERROR`,
so SQL, parameters and stack details never reach the client. Strawberry logs
every error with its original exception before extensions see them.
"""

from __future__ import annotations

from typing import Any

from graphql import GraphQLError
from strawberry.extensions import MaskErrors

from api.errors import request_error
from api.request_budget import is_timeout, timed_out
from domain.errors import DomainError, ValidationFailed
from persistence.database import database_unavailable

BAD_REQUEST = "BAD_REQUEST"
INTERNAL_SERVER_ERROR = "INTERNAL_SERVER_ERROR"
DATABASE_UNAVAILABLE = "DATABASE_UNAVAILABLE"
UNAVAILABLE_MESSAGE = (
    "The database is unavailable (restarting or unreachable); nothing was changed. "
    "Retry in a few seconds."
)

REQUEST_CODES = (
    "BAD_REQUEST",
    "BAD_USER_INPUT",
    "FORBIDDEN",
    "INTERNAL_SERVER_ERROR",
    "QUERY_TOO_COSTLY",  # api.cost
    "THROTTLED",  # api.cost
    "TIMEOUT",  # api.request_budget
    "DATABASE_UNAVAILABLE",  # the database is away: nothing was done, retry
    "PERSISTED_QUERY_NOT_FOUND",  # api.persisted_documents
    "PERSISTED_QUERY_HASH_MISMATCH",
    "DOCUMENT_NOT_TRUSTED",
)
"""The codes of malformed or refused requests. A query's own refusals (an unknown id, a
predicate that does not validate) carry an `ErrorCode`, as userErrors do; docs/api.md lists
both, and a test checks that every code a top-level error carries is one of them."""


def _is_fault(error: GraphQLError) -> bool:
    """An exception other than a GraphQLError escaped a resolver (errors with a path)."""
    original = error.original_error
    return (
        error.path is not None and original is not None and not isinstance(original, GraphQLError)
    )


class TopLevelErrors(MaskErrors):
    def __init__(self) -> None:
        super().__init__(should_mask_error=lambda error: "code" not in (error.extensions or {}))

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        original = error.original_error
        if isinstance(original, (DomainError, ValidationFailed)):
            # A refusal raised by a field resolved after its payload was built (a count cut
            # off by the statement timeout): coded as a query's own refusal, at its path.
            refusal = request_error(original)
            return _in_place_of(error, refusal.message, refusal.extensions)
        if is_timeout(original):  # no pool connection came in time
            refusal = timed_out()
            return _in_place_of(error, refusal.message, refusal.extensions)
        if database_unavailable(original):
            return _in_place_of(
                error, UNAVAILABLE_MESSAGE, {"code": DATABASE_UNAVAILABLE, "retryable": True}
            )
        if _is_fault(error):
            return _in_place_of(error, "Internal server error.", {"code": INTERNAL_SERVER_ERROR})
        return GraphQLError(
            error.message,
            nodes=error.nodes,
            source=error.source,
            positions=error.positions,
            path=error.path,
            original_error=original,
            extensions={**(error.extensions or {}), "code": BAD_REQUEST},
        )


def _in_place_of(error: GraphQLError, message: str, extensions: Any) -> GraphQLError:
    """`message` and `extensions` at the error's place, without the original exception."""
    return GraphQLError(
        message,
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        extensions=extensions,
    )
