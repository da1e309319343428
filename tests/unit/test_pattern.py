"""validate_pattern: the MATCHES subset, accepted and refused."""

from __future__ import annotations

import re
import warnings

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.errors import DomainError, ErrorCode
from domain.pattern import portable_pattern, validate_pattern

ACCEPTED = [
    "abc",
    "é+",
    ".",
    ".*@acme\\.com",
    "[a-z]+",
    "[A-Za-z0-9_]{2,}",
    "[^0-9]",
    "[]a]",
    "[^]a]",
    "[a-]",
    "[-a]",
    "[a-z-]",
    "[$^.*+?(){}|]",
    "[\\d\\w\\s]",
    "[\\]\\[\\\\]",
    "[\\.-\\/]",
    "(a|b)+",
    "(fr|de|es)?",
    "((a|b)c)*",
    "a{0}",
    "a{2}",
    "a{2,}",
    "a{2,5}",
    "a{255}",
    "\\d{3}-\\d{4}",
    "\\s*\\w+\\s*",
    "\\^\\$\\(\\)\\{\\}\\[\\]\\|\\*\\+\\?\\.\\\\\\/\\-",
    "a" * 512,
    ".{1,255}@.{1,255}",
]

REFUSED = [
    # syntax
    ("", ErrorCode.INVALID_PATTERN),
    ("(a", ErrorCode.INVALID_PATTERN),
    ("((a)", ErrorCode.INVALID_PATTERN),
    ("a)", ErrorCode.INVALID_PATTERN),
    ("()", ErrorCode.INVALID_PATTERN),
    ("a|", ErrorCode.INVALID_PATTERN),
    ("|a", ErrorCode.INVALID_PATTERN),
    ("(a|)", ErrorCode.INVALID_PATTERN),
    ("*a", ErrorCode.INVALID_PATTERN),
    ("+", ErrorCode.INVALID_PATTERN),
    ("(*a)", ErrorCode.INVALID_PATTERN),
    ("a|*", ErrorCode.INVALID_PATTERN),
    ("a**", ErrorCode.INVALID_PATTERN),
    ("a*?", ErrorCode.INVALID_PATTERN),
    ("a+*", ErrorCode.INVALID_PATTERN),
    ("a{2}{3}", ErrorCode.INVALID_PATTERN),
    ("a{", ErrorCode.INVALID_PATTERN),
    ("a{2", ErrorCode.INVALID_PATTERN),
    ("a{x}", ErrorCode.INVALID_PATTERN),
    ("a{,3}", ErrorCode.INVALID_PATTERN),
    ("a{1,2,3}", ErrorCode.INVALID_PATTERN),
    ("a{5,2}", ErrorCode.INVALID_PATTERN),
    ("a{256}", ErrorCode.INVALID_PATTERN),
    ("a{1,256}", ErrorCode.INVALID_PATTERN),
    ("{2}", ErrorCode.INVALID_PATTERN),
    ("a}", ErrorCode.INVALID_PATTERN),
    ("a]", ErrorCode.INVALID_PATTERN),
    ("[a", ErrorCode.INVALID_PATTERN),
    ("[]", ErrorCode.INVALID_PATTERN),
    ("[^]", ErrorCode.INVALID_PATTERN),
    ("[a-", ErrorCode.INVALID_PATTERN),
    ("[z-a]", ErrorCode.INVALID_PATTERN),
    ("[a-z-0]", ErrorCode.INVALID_PATTERN),
    ("[\\d-z]", ErrorCode.INVALID_PATTERN),
    ("[[]", ErrorCode.INVALID_PATTERN),
    ("[[:alpha:]]", ErrorCode.INVALID_PATTERN),
    ("[a--]", ErrorCode.INVALID_PATTERN),
    ("[&&]", ErrorCode.INVALID_PATTERN),
    ("[a||b]", ErrorCode.INVALID_PATTERN),
    ("[~~]", ErrorCode.INVALID_PATTERN),
    ("\\", ErrorCode.INVALID_PATTERN),
    ("a\\", ErrorCode.INVALID_PATTERN),
    # refused features
    ("^a", ErrorCode.PATTERN_NOT_ALLOWED),
    ("a$", ErrorCode.PATTERN_NOT_ALLOWED),
    ("a|^b", ErrorCode.PATTERN_NOT_ALLOWED),
    ("(?=a)a", ErrorCode.PATTERN_NOT_ALLOWED),
    ("(?!a)b", ErrorCode.PATTERN_NOT_ALLOWED),
    ("(?<=a)b", ErrorCode.PATTERN_NOT_ALLOWED),
    ("(?<!a)b", ErrorCode.PATTERN_NOT_ALLOWED),
    ("(?:ab)+", ErrorCode.PATTERN_NOT_ALLOWED),
    ("(?P<x>a)", ErrorCode.PATTERN_NOT_ALLOWED),
    ("(?i)abc", ErrorCode.PATTERN_NOT_ALLOWED),
    ("(a)\\1", ErrorCode.PATTERN_NOT_ALLOWED),
    ("\\0", ErrorCode.PATTERN_NOT_ALLOWED),
    ("\\b", ErrorCode.PATTERN_NOT_ALLOWED),
    ("\\B", ErrorCode.PATTERN_NOT_ALLOWED),
    ("\\A", ErrorCode.PATTERN_NOT_ALLOWED),
    ("\\Z", ErrorCode.PATTERN_NOT_ALLOWED),
    ("\\D", ErrorCode.PATTERN_NOT_ALLOWED),
    ("\\n", ErrorCode.PATTERN_NOT_ALLOWED),
    ("\\x41", ErrorCode.PATTERN_NOT_ALLOWED),
    ("\\é", ErrorCode.PATTERN_NOT_ALLOWED),
    ("[\\b]", ErrorCode.PATTERN_NOT_ALLOWED),
    ("a" * 513, ErrorCode.PATTERN_NOT_ALLOWED),
    ("(a{255}){255}", ErrorCode.PATTERN_NOT_ALLOWED),
    ("((a{20}){20}){20}", ErrorCode.PATTERN_NOT_ALLOWED),
]


@pytest.mark.parametrize("pattern", ACCEPTED)
def test_patterns_in_the_subset_are_accepted(pattern: str) -> None:
    # given a pattern in the subset, when validated, then nothing is raised
    validate_pattern(pattern)
    # and Python's engine reads it without complaint
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        re.compile(pattern)


@pytest.mark.parametrize(("pattern", "code"), REFUSED)
def test_patterns_outside_the_subset_are_refused(pattern: str, code: ErrorCode) -> None:
    # given a pattern outside the subset, when validated, then it is refused with its code
    with pytest.raises(DomainError) as refused:
        validate_pattern(pattern)
    assert refused.value.code is code
    assert refused.value.field == ()


def test_a_refusal_says_where() -> None:
    with pytest.raises(DomainError) as refused:
        validate_pattern("abc)")
    assert "position 3" in refused.value.message


@pytest.mark.parametrize(
    ("pattern", "matching", "not_matching"),
    [
        (".*@acme\\.com", "ada@acme.com", "ada@acme.com.evil"),
        ("(fr|de)+", "frde", "frx"),
        ("[^0-9]{2}", "ab", "a1"),
        ("\\d{3}-\\d{4}", "555-1234", "555-12345"),
    ],
)
def test_accepted_patterns_mean_what_they_say_when_anchored(
    pattern: str, matching: str, not_matching: str
) -> None:
    # the whole value must match: an evaluator uses fullmatch (or ^(?:...)$ in SQL)
    validate_pattern(pattern)
    assert re.fullmatch(pattern, matching, re.DOTALL)
    assert not re.fullmatch(pattern, not_matching, re.DOTALL)


REGEX_ALPHABET = "ab.|()[]^$*+?{}0123,-\\dws:&é"


@settings(max_examples=1000, deadline=None)
@given(st.text(alphabet=REGEX_ALPHABET, max_size=16))
def test_any_text_is_accepted_or_refused_and_accepted_text_compiles(pattern: str) -> None:
    # given any text made of regex characters
    try:
        validate_pattern(pattern)
    except DomainError as refused:
        # then it is either refused with one of the two pattern codes
        assert refused.code in (ErrorCode.INVALID_PATTERN, ErrorCode.PATTERN_NOT_ALLOWED)
        return
    # or it compiles in Python without warnings (a second engine reading it the same way)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        re.compile(pattern)


@pytest.mark.parametrize(
    ("pattern", "portable"),
    [
        ("\\d+", "[0-9]+"),
        ("\\w", "[A-Za-z0-9_]"),
        ("\\s", "[ \\t\\n\\r\\f\\v]"),
        ("[\\d.]", "[0-9.]"),
        ("[^\\w-]", "[^A-Za-z0-9_-]"),
        ("[]\\d]", "[]0-9]"),
        ("\\\\d", "\\\\d"),  # an escaped backslash, then a plain d
        ("a\\.b[\\]]", "a\\.b[\\]]"),
    ],
)
def test_portable_patterns_spell_out_class_escapes(pattern: str, portable: str) -> None:
    validate_pattern(pattern)
    assert portable_pattern(pattern) == portable


SUBJECTS = ["", "a", "ab", "a1", "1", "_", " ", "\t", "a b", "-", "é", "٣", "\xa0", "a\nb"]


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet=REGEX_ALPHABET, max_size=12))
def test_portable_patterns_mean_the_ascii_reading_of_the_original(pattern: str) -> None:
    # given an accepted pattern
    try:
        validate_pattern(pattern)
    except DomainError:
        return
    # when its class escapes are spelled out
    portable = re.compile(portable_pattern(pattern), re.DOTALL)
    original = re.compile(pattern, re.DOTALL | re.ASCII)
    # then, even in Unicode mode, it matches what the ASCII reading of the original matches
    for subject in SUBJECTS:
        assert bool(portable.fullmatch(subject)) == bool(original.fullmatch(subject))
