"""Business failures as data: every refusal the product makes has a code.

The API maps `DomainError` to a GraphQL `UserError` in exactly one place;
nothing else builds user errors.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence


class ErrorCode(enum.Enum):
    INVALID = "INVALID"
    REQUIRED = "REQUIRED"
    TOO_LONG = "TOO_LONG"
    TOO_MANY = "TOO_MANY"
    TOO_FEW = "TOO_FEW"
    NOT_FOUND = "NOT_FOUND"
    DUPLICATE = "DUPLICATE"
    INVALID_COUNTRY = "INVALID_COUNTRY"
    INVALID_CURRENCY = "INVALID_CURRENCY"
    INVALID_LANGUAGE = "INVALID_LANGUAGE"
    INVALID_ENUM_VALUE = "INVALID_ENUM_VALUE"
    PROPERTY_NOT_DECLARED = "PROPERTY_NOT_DECLARED"
    PROPERTY_TYPE_MISMATCH = "PROPERTY_TYPE_MISMATCH"
    PROPERTY_VALUE_NOT_ALLOWED = "PROPERTY_VALUE_NOT_ALLOWED"
    PROPERTY_TYPE_CHANGE = "PROPERTY_TYPE_CHANGE"
    # predicate validation
    UNKNOWN_FIELD = "UNKNOWN_FIELD"
    UNKNOWN_NODE = "UNKNOWN_NODE"
    UNKNOWN_OPERATOR = "UNKNOWN_OPERATOR"
    OPERATOR_NOT_ALLOWED = "OPERATOR_NOT_ALLOWED"
    VALUE_TYPE_MISMATCH = "VALUE_TYPE_MISMATCH"
    VALUE_COUNT = "VALUE_COUNT"
    BETWEEN_RANGE = "BETWEEN_RANGE"
    INVALID_RELATIVE_TIME = "INVALID_RELATIVE_TIME"
    INVALID_DATETIME = "INVALID_DATETIME"
    INVALID_PATTERN = "INVALID_PATTERN"
    PATTERN_NOT_ALLOWED = "PATTERN_NOT_ALLOWED"
    TOO_MANY_NODES = "TOO_MANY_NODES"
    TOO_DEEP = "TOO_DEEP"
    SEGMENT_REFERENCE_CYCLE = "SEGMENT_REFERENCE_CYCLE"
    UNKNOWN_SEGMENT = "UNKNOWN_SEGMENT"
    UNKNOWN_SCOPE = "UNKNOWN_SCOPE"
    INVALID_QUANTIFIER = "INVALID_QUANTIFIER"
    INVALID_LAST = "INVALID_LAST"
    # segments
    SEGMENT_IMMUTABLE = "SEGMENT_IMMUTABLE"
    SEGMENT_IN_USE = "SEGMENT_IN_USE"
    SEGMENT_TOO_LARGE = "SEGMENT_TOO_LARGE"
    NAME_TAKEN = "NAME_TAKEN"
    # evaluation
    QUERY_TIMEOUT = "QUERY_TIMEOUT"
    # access
    FORBIDDEN = "FORBIDDEN"
    # bulk import files
    INVALID_JSON = "INVALID_JSON"
    INVALID_UTF8 = "INVALID_UTF8"
    LINE_TOO_LONG = "LINE_TOO_LONG"
    NOT_AN_OBJECT = "NOT_AN_OBJECT"
    TRUNCATED_INPUT = "TRUNCATED_INPUT"
    # webhooks
    WEBHOOK_URL_REFUSED = "WEBHOOK_URL_REFUSED"


class DomainError(Exception):
    """One refusal: a code, a message for humans, and the input path it concerns."""

    def __init__(self, code: ErrorCode, message: str, field: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = tuple(field)

    def at(self, *prefix: str) -> DomainError:
        """The same error, its path prefixed (an item's index inside a batch, say)."""
        return DomainError(self.code, self.message, (*prefix, *self.field))

    def __repr__(self) -> str:
        return f"DomainError({self.code.name}, {self.message!r}, {'.'.join(self.field)})"


class ValidationFailed(Exception):
    """Several refusals at once; the request changes nothing."""

    def __init__(self, errors: Sequence[DomainError]) -> None:
        super().__init__("; ".join(e.message for e in errors))
        self.errors = list(errors)


def segment_not_found(segment_id: str, *field: str) -> DomainError:
    """NOT_FOUND for an id that names no segment of the workspace (at `field`)."""
    return DomainError(ErrorCode.NOT_FOUND, f"There is no segment {segment_id!r}.", field)
