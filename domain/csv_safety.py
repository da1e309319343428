"""Spreadsheet-safe CSV cells: text that a spreadsheet would run as a formula is escaped."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from domain.instant import format_instant, parse_instant

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def cell(value: object) -> str:
    """One CSV cell's text. Numbers stay numbers; times are UTC ISO-8601; text is defused.

    A text value that starts with = + - @ tab or carriage return gets a leading
    apostrophe (the OWASP recommendation), so `=HYPERLINK(...)` shows as text.
    """
    if type(value) is str:  # the common case first: an export asks this of every cell
        return _defused(value)
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, datetime):
        return format_instant(value)
    return _defused(value if isinstance(value, str) else str(value))


def _defused(text: str) -> str:
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def instant_cell(value: object) -> str:
    """A DATETIME custom property (stored as fixed-width text) in the form other times take."""
    moment = parse_instant(value) if isinstance(value, str) else None
    return cell(moment if moment is not None else value)
