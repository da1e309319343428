"""ISO code sets for country (3166-1 alpha-2), currency (4217) and language (639-1)."""

from __future__ import annotations

from functools import cache

import pycountry


@cache
def _countries() -> frozenset[str]:
    return frozenset(c.alpha_2 for c in pycountry.countries)


@cache
def _currencies() -> frozenset[str]:
    return frozenset(c.alpha_3 for c in pycountry.currencies)


@cache
def _languages() -> frozenset[str]:
    return frozenset(lang.alpha_2 for lang in pycountry.languages if hasattr(lang, "alpha_2"))


def is_country(code: str) -> bool:
    return code in _countries()


def is_currency(code: str) -> bool:
    return code in _currencies()


def is_language(code: str) -> bool:
    return code in _languages()
