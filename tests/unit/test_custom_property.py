"""Custom property declarations and the values they accept."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.custom_property import (
    CustomPropertyDef,
    PropertyType,
    coerce_property_value,
    validate_definition,
)
from domain.errors import DomainError, ErrorCode

T = PropertyType


@pytest.mark.parametrize(
    ("key", "kind", "allowed"),
    [
        ("plan", T.STRING, None),
        ("a", T.NUMBER, None),
        ("a" + "b" * 62, T.BOOLEAN, None),
        ("plan_2", T.DATETIME, None),
        ("tier", T.STRING, ["GOLD", "SILVER"]),
        ("tier", T.STRING, ["x" * 255]),
        ("tier", T.STRING, [f"v{i}" for i in range(200)]),
    ],
)
def test_valid_definitions_pass(key: str, kind: PropertyType, allowed: list[str] | None) -> None:
    validate_definition(key, kind, allowed)


@pytest.mark.parametrize(
    ("key", "kind", "allowed", "code", "path"),
    [
        ("", T.STRING, None, ErrorCode.INVALID, ("key",)),
        ("Plan", T.STRING, None, ErrorCode.INVALID, ("key",)),
        ("2plan", T.STRING, None, ErrorCode.INVALID, ("key",)),
        ("_plan", T.STRING, None, ErrorCode.INVALID, ("key",)),
        ("plan-b", T.STRING, None, ErrorCode.INVALID, ("key",)),
        ("plan.b", T.STRING, None, ErrorCode.INVALID, ("key",)),
        ("plan\n", T.STRING, None, ErrorCode.INVALID, ("key",)),
        ("a" * 64, T.STRING, None, ErrorCode.INVALID, ("key",)),
        ("tier", T.NUMBER, ["1"], ErrorCode.INVALID, ("allowedValues",)),
        ("tier", T.STRING, [], ErrorCode.TOO_FEW, ("allowedValues",)),
        ("tier", T.STRING, [f"v{i}" for i in range(201)], ErrorCode.TOO_MANY, ("allowedValues",)),
        ("tier", T.STRING, ["a", ""], ErrorCode.INVALID, ("allowedValues[1]",)),
        ("tier", T.STRING, ["a", "x" * 256], ErrorCode.TOO_LONG, ("allowedValues[1]",)),
        ("tier", T.STRING, ["a", "b", "a"], ErrorCode.DUPLICATE, ("allowedValues[2]",)),
        ("tier", T.STRING, ["a\x00"], ErrorCode.INVALID, ("allowedValues[0]",)),
    ],
)
def test_invalid_definitions_are_refused(
    key: str, kind: PropertyType, allowed: list[str] | None, code: ErrorCode, path: tuple[str, ...]
) -> None:
    with pytest.raises(DomainError) as refused:
        validate_definition(key, kind, allowed)
    assert (refused.value.code, refused.value.field) == (code, path)


PATH = ("customers[0]", "properties", "k")


def coerce(kind: PropertyType, raw: object, allowed: tuple[str, ...] | None = None) -> object:
    return coerce_property_value(CustomPropertyDef("k", kind, allowed), raw, PATH)


@pytest.mark.parametrize(
    ("kind", "raw", "stored"),
    [
        (T.STRING, "gold", "gold"),
        (T.STRING, "", ""),
        (T.STRING, "x" * 2000, "x" * 2000),
        (T.NUMBER, 3, 3),
        (T.NUMBER, -2.5, -2.5),
        (T.BOOLEAN, False, False),
        (T.DATETIME, "2026-01-31", "2026-01-31T00:00:00.000000Z"),
        (T.DATETIME, "2026-01-31T12:00:00Z", "2026-01-31T12:00:00.000000Z"),
        (T.DATETIME, "2026-01-31T12:00:00", "2026-01-31T12:00:00.000000Z"),
        (T.DATETIME, "2026-01-31T12:00:00.5+02:00", "2026-01-31T10:00:00.500000Z"),
        (T.DATETIME, "2026-01-01T00:30:00+01:00", "2025-12-31T23:30:00.000000Z"),
    ],
)
def test_values_of_the_declared_type_are_stored_normalised(
    kind: PropertyType, raw: object, stored: object
) -> None:
    value = coerce(kind, raw)
    assert value == stored
    assert value.__class__ is stored.__class__


def test_an_allowed_value_is_accepted_and_others_refused() -> None:
    assert coerce(T.STRING, "GOLD", ("GOLD", "SILVER")) == "GOLD"
    with pytest.raises(DomainError) as refused:
        coerce(T.STRING, "gold", ("GOLD", "SILVER"))
    assert (refused.value.code, refused.value.field) == (ErrorCode.PROPERTY_VALUE_NOT_ALLOWED, PATH)


@pytest.mark.parametrize(
    ("kind", "raw"),
    [
        (T.STRING, 3),
        (T.STRING, None),
        (T.STRING, ["a"]),
        (T.STRING, "a\x00"),
        (T.NUMBER, "3"),
        (T.NUMBER, True),
        (T.NUMBER, float("nan")),
        (T.NUMBER, float("inf")),
        (T.BOOLEAN, "true"),
        (T.BOOLEAN, 1),
        (T.DATETIME, "yesterday"),
        (T.DATETIME, "2026-02-30"),
        (T.DATETIME, "now-1d"),
        (T.DATETIME, 1700000000),
        (T.DATETIME, "0001-01-01T00:00:00+01:00"),
    ],
)
def test_values_of_another_type_are_refused(kind: PropertyType, raw: object) -> None:
    with pytest.raises(DomainError) as refused:
        coerce(kind, raw)
    assert (refused.value.code, refused.value.field) == (ErrorCode.PROPERTY_TYPE_MISMATCH, PATH)


def test_a_string_over_2000_characters_is_too_long() -> None:
    with pytest.raises(DomainError) as refused:
        coerce(T.STRING, "x" * 2001)
    assert (refused.value.code, refused.value.field) == (ErrorCode.TOO_LONG, PATH)


moments = st.datetimes(
    min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.just(UTC)
)
zones = st.integers(-23 * 60, 23 * 60).map(lambda m: timezone(timedelta(minutes=m)))


@given(moments, moments, zones, zones)
def test_stored_datetimes_sort_as_text_in_time_order(
    a: datetime, b: datetime, zone_a: timezone, zone_b: timezone
) -> None:
    # given two instants written with any offsets
    text_a = coerce(T.DATETIME, a.astimezone(zone_a).isoformat())
    text_b = coerce(T.DATETIME, b.astimezone(zone_b).isoformat())
    # then the stored texts compare as the instants do
    assert isinstance(text_a, str) and isinstance(text_b, str)
    assert (text_a < text_b) == (a < b)
    assert (text_a == text_b) == (a == b)
