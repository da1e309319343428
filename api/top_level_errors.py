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

from graphql import GraphQLError
from strawberry.extensions import MaskErrors

from api.request_budget import is_timeout, timed_out
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
        if is_timeout(error.original_error):  # no pool connection came in time
            refusal = timed_out()
            return GraphQLError(
                refusal.message,
                nodes=error.nodes,
                source=error.source,
                positions=error.positions,
                path=error.path,
                extensions=refusal.extensions,
            )
        if database_unavailable(error.original_error):
            return GraphQLError(
                UNAVAILABLE_MESSAGE,
                nodes=error.nodes,
                source=error.source,
                positions=error.positions,
                path=error.path,
                extensions={"code": DATABASE_UNAVAILABLE, "retryable": True},
            )
        if _is_fault(error):
            return GraphQLError(
                "Internal server error.",
                nodes=error.nodes,
                source=error.source,
                positions=error.positions,
                path=error.path,
                extensions={"code": INTERNAL_SERVER_ERROR},
            )
        return GraphQLError(
            error.message,
            nodes=error.nodes,
            source=error.source,
            positions=error.positions,
            path=error.path,
            original_error=error.original_error,
            extensions={**(error.extensions or {}), "code": BAD_REQUEST},
        )
