"""The MATCHES pattern language: a small subset of POSIX extended regexes.

A pattern is checked here, by hand, before any regex engine sees it, so that
only constructs that PostgreSQL's `~` (advanced regexes) and Python's `re`
read the same way get through:

- literals; `.`; classes `[...]` and `[^...]` with ranges `a-z`;
- groups `(...)`, alternation `|` (no empty alternatives, no empty groups);
- one quantifier per atom: `*`, `+`, `?`, `{m}`, `{m,}`, `{m,n}` with
  m <= n <= 255 (PostgreSQL's limit for bounds);
- escapes: `\\d`, `\\w`, `\\s` and any escaped ASCII punctuation (`\\.`, `\\\\`, `\\/`...),
  inside or outside classes.

Refused as PATTERN_NOT_ALLOWED: anchors `^`/`$` outside a class (matching is
always anchored at both ends, so they are at best redundant), every `(?`
construct (look-around, non-capturing and named groups, inline flags),
back-references `\\1`, other letter escapes (`\\b`, `\\A`, `\\n`...), patterns
over 512 characters, and patterns whose bounded repetitions would expand past
a fixed budget (`(a{255}){255}`), since engines expand bounds into copies.
Refused as INVALID_PATTERN: syntax errors, and characters that engines read
differently (an unescaped `{`, `}` or `]` that is not part of a construct, an
unescaped `[` or a doubled `-&|~` inside a class).

Semantics an evaluator must honour: the whole value must match; `.` matches
any character including a newline; `\\d` is `[0-9]`, `\\w` is `[A-Za-z0-9_]`,
`\\s` is `[ \\t\\n\\r\\f\\v]`. Engines disagree on the last three (PostgreSQL's
`\\w` follows the locale and matches `é`), so hand them `portable_pattern(p)`.
"""

from __future__ import annotations

import string
from dataclasses import dataclass, field

from domain.errors import DomainError, ErrorCode

MAX_PATTERN_LENGTH = 512
MAX_BOUND = 255
MAX_EXPANDED_SIZE = 5000
CLASS_ESCAPES = frozenset("dws")
PUNCTUATION = frozenset(string.punctuation)


@dataclass
class _Group:
    """One open group (the whole pattern is the outermost one)."""

    start: int
    done: int = 0  # expanded size of the finished alternatives
    branch: int = 0  # expanded size of the current alternative
    last_atom: int | None = None  # size of the atom a quantifier would apply to
    quantified: bool = False
    pieces: int = 0


@dataclass
class _Scanner:
    pattern: str
    pos: int = 0
    groups: list[_Group] = field(default_factory=lambda: [_Group(start=0)])

    def fail(self, code: ErrorCode, message: str) -> DomainError:
        return DomainError(code, f"{message} (at position {self.pos}).")

    @property
    def group(self) -> _Group:
        return self.groups[-1]

    def add_atom(self, size: int) -> None:
        group = self.group
        group.branch += size
        group.last_atom = size
        group.quantified = False
        group.pieces += 1
        self.check_size()

    def quantify(self, factor: int) -> None:
        group = self.group
        if group.last_atom is None:
            raise self.fail(ErrorCode.INVALID_PATTERN, "A quantifier needs something to repeat")
        if group.quantified:
            raise self.fail(ErrorCode.INVALID_PATTERN, "Only one quantifier per atom")
        group.branch += group.last_atom * (factor - 1)
        group.quantified = True
        self.check_size()

    def check_size(self) -> None:
        """Engines expand `x{m,n}` into n copies of x; keep the expansion small."""
        if sum(group.done + group.branch for group in self.groups) > MAX_EXPANDED_SIZE:
            raise self.fail(ErrorCode.PATTERN_NOT_ALLOWED, "The pattern repeats too much")

    def end_branch(self) -> None:
        group = self.group
        if group.pieces == 0:
            raise self.fail(ErrorCode.INVALID_PATTERN, "Empty alternative or group")
        group.done += group.branch
        group.branch, group.last_atom, group.quantified, group.pieces = 0, None, False, 0


def validate_pattern(pattern: str) -> None:
    """Raise a DomainError (INVALID_PATTERN or PATTERN_NOT_ALLOWED, no path) unless allowed."""
    if len(pattern) > MAX_PATTERN_LENGTH:
        raise DomainError(
            ErrorCode.PATTERN_NOT_ALLOWED,
            f"A pattern has at most {MAX_PATTERN_LENGTH} characters.",
        )
    if pattern == "":
        raise DomainError(ErrorCode.INVALID_PATTERN, "A pattern cannot be empty.")
    scanner = _Scanner(pattern)
    while scanner.pos < len(pattern):
        _step(scanner)
    if len(scanner.groups) > 1:
        scanner.pos = scanner.groups[-1].start
        raise scanner.fail(ErrorCode.INVALID_PATTERN, "Unclosed group")
    scanner.end_branch()


def _step(s: _Scanner) -> None:
    char = s.pattern[s.pos]
    if char == "(":
        if s.pattern.startswith("(?", s.pos):
            raise s.fail(
                ErrorCode.PATTERN_NOT_ALLOWED,
                "(? constructs (look-around, flags...) are not supported",
            )
        s.groups.append(_Group(start=s.pos))
        s.pos += 1
    elif char == ")":
        _close_group(s)
    elif char == "|":
        s.end_branch()
        s.pos += 1
    elif char in "*+?":
        s.quantify(2 if char == "+" else 1)
        s.pos += 1
    elif char == "{":
        s.quantify(_bound(s))
    elif char == "[":
        _bracket(s)
        s.add_atom(1)
    elif char == "\\":
        _escape(s)
        s.add_atom(1)
    elif char in "^$":
        raise s.fail(
            ErrorCode.PATTERN_NOT_ALLOWED, f"Anchors are implied; escape {char} as \\{char}"
        )
    elif char in "]}":
        raise s.fail(ErrorCode.INVALID_PATTERN, f"Unmatched {char}; escape it as \\{char}")
    else:
        s.add_atom(1)
        s.pos += 1


def _close_group(s: _Scanner) -> None:
    if len(s.groups) == 1:
        raise s.fail(ErrorCode.INVALID_PATTERN, "Unbalanced )")
    s.end_branch()
    closed = s.groups.pop()
    s.pos += 1
    s.add_atom(closed.done)


def _bound(s: _Scanner) -> int:
    """Read `{m}`, `{m,}` or `{m,n}` at s.pos; the factor it multiplies its atom by."""
    close = s.pattern.find("}", s.pos)
    body = s.pattern[s.pos + 1 : close] if close != -1 else ""
    low_text, comma, high_text = body.partition(",")
    if close == -1 or not _digits(low_text) or (high_text and not _digits(high_text)):
        raise s.fail(ErrorCode.INVALID_PATTERN, "A bound is {m}, {m,} or {m,n}")
    low = int(low_text)
    high = int(high_text) if high_text else (low if not comma else None)
    if low > MAX_BOUND or (high is not None and high > MAX_BOUND):
        raise s.fail(ErrorCode.INVALID_PATTERN, f"Bounds are at most {MAX_BOUND}")
    if high is not None and low > high:
        raise s.fail(ErrorCode.INVALID_PATTERN, "In {m,n}, m must not exceed n")
    s.pos = close + 1
    return max(1, high if high is not None else low + 1)


def _digits(text: str) -> bool:
    return 0 < len(text) <= 4 and all(c in "0123456789" for c in text)


def _escape(s: _Scanner) -> str | None:
    """Consume `\\x` at s.pos; the literal character, or None for a class escape."""
    if s.pos + 1 >= len(s.pattern):
        raise s.fail(ErrorCode.INVALID_PATTERN, "Trailing backslash")
    char = s.pattern[s.pos + 1]
    if char in "0123456789":
        raise s.fail(ErrorCode.PATTERN_NOT_ALLOWED, "Back-references are not supported")
    if char not in CLASS_ESCAPES and char not in PUNCTUATION:
        raise s.fail(
            ErrorCode.PATTERN_NOT_ALLOWED,
            f"Unsupported escape \\{char}; use \\d \\w \\s or an escaped punctuation mark",
        )
    s.pos += 2
    return None if char in CLASS_ESCAPES else char


def _bracket(s: _Scanner) -> None:
    """Consume a class `[...]` starting at s.pos."""
    start = s.pos
    s.pos += 1
    if s.pattern.startswith("^", s.pos):
        s.pos += 1
    items: list[str | None] = []  # literal characters, None for \d \w \s
    while True:
        if s.pos >= len(s.pattern):
            s.pos = start
            raise s.fail(ErrorCode.INVALID_PATTERN, "Unclosed [")
        char = s.pattern[s.pos]
        if char == "]" and items:
            s.pos += 1
            return
        if char == "\\":
            items.append(_escape(s))
            continue
        if char == "[":
            raise s.fail(ErrorCode.INVALID_PATTERN, "Escape [ inside a class as \\[")
        if char in "&|~-" and s.pattern.startswith(char * 2, s.pos):
            raise s.fail(ErrorCode.INVALID_PATTERN, f"Escape a doubled {char} inside a class")
        if char == "-" and items and not s.pattern.startswith("]", s.pos + 1):
            _range(s, items)
            continue
        items.append(char)
        s.pos += 1


def _range(s: _Scanner, items: list[str | None]) -> None:
    """Consume `-x` at s.pos, making a range from the last item to x."""
    low = items.pop()
    s.pos += 1
    if s.pos >= len(s.pattern):
        raise s.fail(ErrorCode.INVALID_PATTERN, "Unclosed [")
    if s.pattern[s.pos] == "\\":
        high = _escape(s)
    else:
        high = s.pattern[s.pos]
        s.pos += 1
    if low is None or high is None:
        raise s.fail(ErrorCode.INVALID_PATTERN, "A range is between two characters")
    if ord(low) > ord(high):
        raise s.fail(ErrorCode.INVALID_PATTERN, f"Empty range {low}-{high}")
    items.append(None)  # a range cannot be the start of another range


_CLASS_ESCAPE_SETS = {"d": "0-9", "w": "A-Za-z0-9_", "s": " \\t\\n\\r\\f\\v"}


def portable_pattern(pattern: str) -> str:
    """A validated pattern with `\\d \\w \\s` spelled out as ASCII sets.

    PostgreSQL's class escapes follow the database locale and Python's follow
    Unicode; the spelled-out sets mean the same to both, so SQL and any
    in-process evaluator agree. Wrap the result as `^(?:...)$` (SQL) or use
    `re.fullmatch(..., re.DOTALL)` (Python): matching is whole-value.
    """
    out: list[str] = []
    in_class, pos = False, 0
    while pos < len(pattern):
        char = pattern[pos]
        if char == "\\":
            escaped = pattern[pos + 1]
            if escaped in _CLASS_ESCAPE_SETS:
                members = _CLASS_ESCAPE_SETS[escaped]
                out.append(members if in_class else f"[{members}]")
            else:
                out.append(pattern[pos : pos + 2])
            pos += 2
            continue
        out.append(char)
        if char == "[" and not in_class:
            in_class = True
            pos += 1
            for literal in ("^", "]"):  # a leading ^ negates, a leading ] is literal
                if pattern.startswith(literal, pos):
                    out.append(literal)
                    pos += 1
            continue
        if char == "]" and in_class:
            in_class = False
        pos += 1
    return "".join(out)
