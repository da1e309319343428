"""ISO-8601 instants as the product reads and writes them.

One parser serves predicate operands and DATETIME custom properties, so
`createdAt GTE "2026-01-31"` and a property set to `"2026-01-31"` mean the
same instant. The grammar is deliberately narrower than `datetime.fromisoformat`
(whose accepted forms change between Python versions):

    YYYY-MM-DD
    YYYY-MM-DD(T|t| )HH:MM[:SS[.fraction]][Z|z|+HH:MM|-HH:MM|+HHMM|-HHMM|+HH|-HH]

A date alone is its midnight UTC, a time without an offset is UTC, an offset
is honoured. Fractions beyond microseconds (up to 9 digits) are truncated.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

_INSTANT = re.compile(
    r"(?P<year>[0-9]{4})-(?P<month>[0-9]{2})-(?P<day>[0-9]{2})"
    r"(?:[Tt ](?P<hour>[0-9]{2}):(?P<minute>[0-9]{2})"
    r"(?::(?P<second>[0-9]{2})(?:\.(?P<fraction>[0-9]{1,9}))?)?"
    r"(?P<offset>[Zz]|[+-][0-9]{2}(?::?[0-9]{2})?)?)?"
)


_ZULU_LENGTHS = frozenset({20, 24, 27})
"""`YYYY-MM-DDTHH:MM:SSZ`, with 3 or 6 digits of fraction: the form exports, the API and
most sources write, read by `datetime.fromisoformat` at a twentieth of the grammar's cost
(an import reads a dozen instants a customer)."""
_OFFSET_LENGTHS = frozenset({25, 29, 32})
"""The same with `+HH:MM` or `-HH:MM` for the `Z` (what Python's `isoformat()` and many
databases write)."""


def parse_instant(text: str) -> datetime | None:
    """The aware UTC instant `text` denotes, or None if it is not one."""
    size = len(text)
    if size in _ZULU_LENGTHS and text[-1] == "Z" and _is_common(text, size - 1):
        try:
            return datetime.fromisoformat(text)
        except ValueError:
            return None
    if size in _OFFSET_LENGTHS and _has_common_offset(text) and _is_common(text, size - 6):
        try:
            moment = datetime.fromisoformat(text)
            return moment if moment.tzinfo is UTC else moment.astimezone(UTC)
        except (ValueError, OverflowError):
            return None
    return _parsed_by_grammar(text)


def _is_common(text: str, end: int) -> bool:
    """The common form's punctuation at its places before `end`, where the zone starts
    (fromisoformat then reads exactly what the grammar reads: its own parser takes only
    ASCII digits between them)."""
    return (
        text[10] == "T"
        and text[4] == "-"
        and text[7] == "-"
        and text[13] == ":"
        and text[16] == ":"
        and (end == 19 or text[19] == ".")
        and text.isascii()
    )


def _has_common_offset(text: str) -> bool:
    """`+HH:MM` or `-HH:MM` at the end, in the grammar's range (fromisoformat would take
    minutes past 59)."""
    hours, minutes = text[-5:-3], text[-2:]
    return (
        text[-6] in "+-"
        and text[-3] == ":"
        and hours.isdigit()
        and minutes.isdigit()
        and hours <= "23"
        and minutes <= "59"
    )


def _parsed_by_grammar(text: str) -> datetime | None:
    match = _INSTANT.fullmatch(text)
    if match is None:
        return None
    parts = match.groupdict()
    fraction = (parts["fraction"] or "").ljust(6, "0")[:6]
    try:
        tz = _offset(parts["offset"])
        local = datetime(
            int(parts["year"]),
            int(parts["month"]),
            int(parts["day"]),
            int(parts["hour"] or 0),
            int(parts["minute"] or 0),
            int(parts["second"] or 0),
            int(fraction),
            tzinfo=tz,
        )
        return local.astimezone(UTC)
    except (ValueError, OverflowError):
        return None


def _offset(text: str | None) -> timezone:
    if text is None or text in ("Z", "z"):
        return UTC
    sign = -1 if text[0] == "-" else 1
    digits = text[1:].replace(":", "")
    hours, minutes = int(digits[:2]), int(digits[2:] or 0)
    if hours > 23 or minutes > 59:
        raise ValueError("offset out of range")
    return timezone(sign * timedelta(hours=hours, minutes=minutes))


def format_instant(moment: datetime) -> str:
    """Compact UTC ISO text for the API: `2026-01-31T12:00:00Z`, microseconds only when set."""
    utc = moment if moment.tzinfo is UTC else moment.astimezone(UTC)
    # isoformat() writes this form (a 4-digit year, `.ffffff` only when set), then
    # `+00:00`, in a fraction of strftime's time: an export formats millions of these.
    return utc.isoformat()[:-6] + "Z"


def sortable_instant(moment: datetime) -> str:
    """Fixed-width UTC text, `YYYY-MM-DDTHH:MM:SS.ffffffZ`, for storage.

    Every instant has the same width and field order, so comparing two of
    these strings by code point orders them in time: a JSON document can hold
    DATETIME values that SQL compares as text.
    """
    utc = moment.astimezone(UTC)
    return f"{utc.year:04d}-{utc:%m-%dT%H:%M:%S}.{utc.microsecond:06d}Z"
