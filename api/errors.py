"""The one place domain refusals become GraphQL `UserError`s."""

from __future__ import annotations

import strawberry
from graphql import GraphQLError

from api.metrics import USER_ERRORS
from domain.errors import DomainError, ErrorCode, ValidationFailed

ErrorCodeType = strawberry.enum(
    ErrorCode, name="ErrorCode", description="Why a request was refused."
)


@strawberry.type(
    description="A business failure: what was wrong, where in the input, and its code."
)
class UserError:
    field: list[str] | None = strawberry.field(
        description="Path to the offending input, e.g. ['customers', '3', 'country']."
    )
    message: str = strawberry.field(description="What was wrong, for humans.")
    code: ErrorCodeType = strawberry.field(description="Machine-readable reason.")  # type: ignore[valid-type]


def user_errors(exc: DomainError | ValidationFailed) -> list[UserError]:
    errors = exc.errors if isinstance(exc, ValidationFailed) else [exc]
    for e in errors:
        USER_ERRORS.labels(e.code.value).inc()
    return [UserError(field=list(e.field) or None, message=e.message, code=e.code) for e in errors]


def request_error(exc: DomainError | ValidationFailed) -> GraphQLError:
    """For queries, which have no payload: the refusals as one top-level error with codes."""
    errors = exc.errors if isinstance(exc, ValidationFailed) else [exc]
    return GraphQLError(
        "; ".join(f"{'.'.join(e.field)}: {e.message}" if e.field else e.message for e in errors),
        extensions={
            "code": errors[0].code.value,
            "userErrors": [
                {"field": list(e.field), "message": e.message, "code": e.code.value} for e in errors
            ],
        },
    )
