"""Custom properties: per-workspace declared keys under `Customer.properties`.

A key must be declared with a type before a predicate may name it, so a
typo in a segment is a validation error instead of a silently empty segment.
Values are checked and normalised here, before they are stored, so storage
only ever holds values of the declared type.
"""

from __future__ import annotations

import enum
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

from domain.errors import DomainError, ErrorCode
from domain.instant import parse_instant, sortable_instant

KEY_PATTERN = re.compile(r"[a-z][a-z0-9_]{0,62}")
MAX_ALLOWED_VALUES = 200
MAX_ALLOWED_VALUE_LENGTH = 255
MAX_STRING_VALUE_LENGTH = 2000

PropertyValue = str | int | float | bool


class PropertyType(enum.Enum):
    STRING = "STRING"
    NUMBER = "NUMBER"
    BOOLEAN = "BOOLEAN"
    DATETIME = "DATETIME"


# the members as plain names for `coerce_property_value`, which an import calls for every
# property of every line (reading `PropertyType.X` costs about 0.2 us on Python 3.11)
_STRING, _NUMBER, _BOOLEAN = PropertyType.STRING, PropertyType.NUMBER, PropertyType.BOOLEAN


@dataclass(frozen=True)
class CustomPropertyDef:
    """A declared key. `allowed_values` (STRING only) turns it into an enum."""

    key: str
    type: PropertyType
    allowed_values: tuple[str, ...] | None = None
    indexed: bool = False
    description: str | None = None


def storable_text(text: str) -> bool:
    """Whether PostgreSQL can store `text` in a text or jsonb column.

    jsonb refuses the NUL character and UTF-8 cannot encode lone surrogates
    (which a JSON `\\ud800` escape produces); refusing them here keeps them a
    validation error instead of a database fault.
    """
    if "\x00" in text:
        return False
    if text.isascii():  # (a flag CPython keeps: no scan) ASCII always encodes
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def validate_definition(key: str, type: PropertyType, allowed_values: Sequence[str] | None) -> None:
    """Refuse a malformed declaration; paths are relative to the input object."""
    if not isinstance(key, str) or KEY_PATTERN.fullmatch(key) is None:
        raise DomainError(
            ErrorCode.INVALID,
            "A property key starts with a lowercase letter, then up to 62 "
            "lowercase letters, digits or underscores.",
            ("key",),
        )
    if allowed_values is None:
        return
    if type is not PropertyType.STRING:
        raise DomainError(
            ErrorCode.INVALID, "Only STRING properties can have allowed values.", ("allowedValues",)
        )
    _validate_allowed_values(allowed_values)


def _validate_allowed_values(allowed_values: Sequence[str]) -> None:
    if len(allowed_values) == 0:
        raise DomainError(
            ErrorCode.TOO_FEW,
            "Give at least one allowed value, or none at all.",
            ("allowedValues",),
        )
    if len(allowed_values) > MAX_ALLOWED_VALUES:
        raise DomainError(
            ErrorCode.TOO_MANY,
            f"At most {MAX_ALLOWED_VALUES} allowed values.",
            ("allowedValues",),
        )
    seen: set[str] = set()
    for index, value in enumerate(allowed_values):
        path = (f"allowedValues[{index}]",)
        if not isinstance(value, str) or value == "" or not storable_text(value):
            raise DomainError(ErrorCode.INVALID, "An allowed value is a non-empty string.", path)
        if len(value) > MAX_ALLOWED_VALUE_LENGTH:
            raise DomainError(
                ErrorCode.TOO_LONG,
                f"An allowed value has at most {MAX_ALLOWED_VALUE_LENGTH} characters.",
                path,
            )
        if value in seen:
            raise DomainError(ErrorCode.DUPLICATE, f"{value!r} is listed twice.", path)
        seen.add(value)


def coerce_property_value(
    defn: CustomPropertyDef, raw: object, field_path: tuple[str, ...]
) -> PropertyValue:
    """The value to store for `raw` under `defn`, or a DomainError at `field_path`.

    DATETIME values are stored as `YYYY-MM-DDTHH:MM:SS.ffffffZ` in UTC (see
    `domain.instant.sortable_instant`): fixed width, so the lexical order of the
    stored strings is their time order. `None` ("remove the key") is the
    caller's business and is refused here like any other wrong type.
    """
    kind = defn.type
    if kind is _STRING:
        return _coerce_string(defn, raw, field_path)
    if kind is _NUMBER:
        if isinstance(raw, bool) or not isinstance(raw, (int, float)):
            raise _mismatch(defn, "a number", field_path)
        if isinstance(raw, float) and not math.isfinite(raw):
            raise _mismatch(defn, "a finite number", field_path)
        return raw
    if kind is _BOOLEAN:
        if not isinstance(raw, bool):
            raise _mismatch(defn, "true or false", field_path)
        return raw
    moment = parse_instant(raw) if isinstance(raw, str) else None
    if moment is None:
        raise _mismatch(defn, "an ISO-8601 datetime such as 2026-01-31T12:00:00Z", field_path)
    return sortable_instant(moment)


def _coerce_string(defn: CustomPropertyDef, raw: object, field_path: tuple[str, ...]) -> str:
    if not isinstance(raw, str) or not storable_text(raw):
        raise _mismatch(defn, "a string", field_path)
    if len(raw) > MAX_STRING_VALUE_LENGTH:
        raise DomainError(
            ErrorCode.TOO_LONG,
            f"properties.{defn.key} has at most {MAX_STRING_VALUE_LENGTH} characters.",
            field_path,
        )
    if defn.allowed_values is not None and raw not in defn.allowed_values:
        raise DomainError(
            ErrorCode.PROPERTY_VALUE_NOT_ALLOWED,
            f"properties.{defn.key} must be one of: {', '.join(defn.allowed_values)}.",
            field_path,
        )
    return raw


def _mismatch(defn: CustomPropertyDef, expected: str, field_path: tuple[str, ...]) -> DomainError:
    return DomainError(
        ErrorCode.PROPERTY_TYPE_MISMATCH,
        f"properties.{defn.key} is {defn.type.name}: expected {expected}.",
        field_path,
    )
