"""ISO-8601 instants: the one reading shared by predicates and properties."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta, timezone

import pytest

from domain.instant import _parsed_by_grammar, format_instant, parse_instant, sortable_instant


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-01-31", datetime(2026, 1, 31, tzinfo=UTC)),
        ("2026-01-31T12:30", datetime(2026, 1, 31, 12, 30, tzinfo=UTC)),
        ("2026-01-31T12:30:15", datetime(2026, 1, 31, 12, 30, 15, tzinfo=UTC)),
        ("2026-01-31 12:30:15Z", datetime(2026, 1, 31, 12, 30, 15, tzinfo=UTC)),
        ("2026-01-31t12:30:15z", datetime(2026, 1, 31, 12, 30, 15, tzinfo=UTC)),
        ("2026-01-31T12:30:15.1Z", datetime(2026, 1, 31, 12, 30, 15, 100000, tzinfo=UTC)),
        ("2026-01-31T12:30:15.123456789Z", datetime(2026, 1, 31, 12, 30, 15, 123456, tzinfo=UTC)),
        ("2026-01-31T12:00:00+02:00", datetime(2026, 1, 31, 10, tzinfo=UTC)),
        ("2026-01-31T12:00:00+0200", datetime(2026, 1, 31, 10, tzinfo=UTC)),
        ("2026-01-31T12:00:00-02", datetime(2026, 1, 31, 14, tzinfo=UTC)),
        ("2026-01-31T00:00:00+23:59", datetime(2026, 1, 30, 0, 1, tzinfo=UTC)),
    ],
)
def test_accepted_forms_give_a_utc_instant(text: str, expected: datetime) -> None:
    moment = parse_instant(text)
    assert moment == expected
    assert moment is not None and moment.tzinfo is UTC


@pytest.mark.parametrize(
    "text",
    [
        "",
        "2026",
        "2026-01",
        "20260131",
        "2026-1-31",
        "2026-01-31T",
        "2026-01-31T12",
        "2026-01-31T24:00:00Z",
        "2026-01-31T12:60:00Z",
        "2026-01-31T12:00:60Z",
        "2026-02-29",
        "0000-01-01",
        "2026-01-31T12:00:00+24:00",
        "2026-01-31T12:00:00+02:60",
        "2026-01-31T12:00:00.Z",
        "2026-01-31T12:00:00.1234567890Z",
        " 2026-01-31",
        "2026-01-31\n",
        "\uff12\uff10\uff12\uff16-01-31",  # fullwidth digits
        "0001-01-01T00:00:00+01:00",
        "9999-12-31T23:00:00-02:00",
    ],
)
def test_other_text_is_not_an_instant(text: str) -> None:
    assert parse_instant(text) is None


def test_formats() -> None:
    moment = datetime(2026, 1, 31, 13, 0, tzinfo=timezone(timedelta(hours=1)))
    assert format_instant(moment) == "2026-01-31T12:00:00Z"
    assert format_instant(moment.replace(microsecond=5)) == "2026-01-31T12:00:00.000005Z"
    assert sortable_instant(moment) == "2026-01-31T12:00:00.000000Z"
    assert sortable_instant(datetime(5, 1, 1, tzinfo=UTC)) == "0005-01-01T00:00:00.000000Z"
    assert format_instant(datetime(5, 1, 1, tzinfo=UTC)) == "0005-01-01T00:00:00Z"


@pytest.mark.parametrize(
    "moment",
    [
        datetime(2026, 1, 31, 12, 0, tzinfo=UTC),  # the driver's own UTC: the fast path
        datetime(2026, 1, 31, 12, 0, 0, 120, tzinfo=UTC),
        datetime(2026, 1, 31, 12, 0, tzinfo=timezone(timedelta(0))),  # UTC, another object
        datetime(2026, 1, 1, 0, 30, tzinfo=timezone(timedelta(hours=1))),  # the year before
        datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
    ],
)
def test_format_is_strftimes_form(moment: datetime) -> None:
    utc = moment.astimezone(UTC)
    expected = f"{utc.year:04d}-{utc:%m-%dT%H:%M:%S}"
    expected += f".{utc.microsecond:06d}Z" if utc.microsecond else "Z"
    assert format_instant(moment) == expected


def test_the_common_forms_fast_reading_agrees_with_the_grammar() -> None:
    # given the common forms, and 20,000 of them with one to three characters replaced
    # (digits, punctuation, week-date and non-ASCII digits among the replacements)
    rng = random.Random(7)
    common = [
        "2026-03-04T05:06:07Z",
        "2026-03-04T05:06:07.123Z",
        "2026-12-31T23:59:59.999999Z",
        "1999-01-01T00:00:00.000Z",
        "2026-03-04T05:06:07+00:00",
        "2026-03-04T05:06:07.123-05:30",
        "2026-12-31T23:59:59.999999+13:45",
        "0001-01-01T00:30:00+01:00",
    ]
    alphabet = "0123456789-:T.Z+ tzW,_\u0661\uff10a"
    texts = list(common)
    for _ in range(20_000):
        chars = list(rng.choice(common))
        for _ in range(rng.randint(1, 3)):
            chars[rng.randrange(len(chars))] = rng.choice(alphabet)
        texts.append("".join(chars))

    # then the reading every caller gets is the grammar's, instant for instant
    disagreeing = [t for t in texts if parse_instant(t) != _parsed_by_grammar(t)]
    assert disagreeing == []
    assert all((m := parse_instant(t)) is not None and m.tzinfo is UTC for t in common[:-1])
