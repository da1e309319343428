"""What the lines of a customer import file mean, before `validate_customer` checks them.

Two formats carry the `CustomerInput` shape of the API:

- JSON Lines: one JSON object a line, exactly a `CustomerInput` (nested
  subscriptions, invoices, orders, wallets, verifications, properties). Times
  are ISO-8601 strings, as the `DateTime` scalar takes them.
- CSV: flat customer attributes; the header row names `CustomerInput` fields
  and `properties.KEY` columns. An empty cell leaves the field as it is (CSV
  cannot tell empty from absent), and property cells are read by the declared
  type (a NUMBER column holds numbers, a BOOLEAN column true or false).

Framing comes first: bytes are split into lines of at most `MAX_LINE_BYTES`
and decoded as UTF-8; a line that fails is refused alone with its number,
and the file goes on. Everything here is plain Python over bytes: the command
line and the HTTP route feed it the same way.
"""

from __future__ import annotations

import csv
import json
import re
import zlib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from domain.custom_property import CustomPropertyDef, PropertyType
from domain.customer import CUSTOMER_ATTRS, DATETIME, ID, RELATED_ATTRS, Attr
from domain.errors import DomainError, ErrorCode
from domain.instant import parse_instant

MAX_LINE_BYTES = 1_000_000
GZIP_MAGIC = b"\x1f\x8b"
_LONG_NUMBER = re.compile(r"[0-9]{19}")
INPUT_FIELDS = {"id", "properties", *CUSTOMER_ATTRS, *RELATED_ATTRS}


@dataclass(frozen=True)
class Line:
    """One line of the file, numbered from 1, without its line break."""

    number: int
    data: bytes


class FileBroken(Exception):
    """The file cannot be read past this point (a truncated or corrupt gzip stream)."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.message = message


class Gunzip:
    """Decompresses when the stream starts with the gzip magic; passes bytes through otherwise."""

    def __init__(self) -> None:
        self._decided = False
        self._inflate: Any = None
        self._head = b""

    def feed(self, chunk: bytes) -> bytes:
        if not self._decided:
            self._head += chunk
            if len(self._head) < 2:
                return b""
            chunk, self._head, self._decided = self._head, b"", True
            if chunk.startswith(GZIP_MAGIC):
                self._inflate = zlib.decompressobj(wbits=31)
        if self._inflate is None:
            return chunk
        out: bytes = self._inflate.decompress(chunk)
        while self._inflate.eof and self._inflate.unused_data:  # concatenated gzip members
            rest = self._inflate.unused_data
            self._inflate = zlib.decompressobj(wbits=31)
            out += self._inflate.decompress(rest)
        return out

    def finish(self) -> tuple[bytes, bool]:
        """Whatever is left, and whether the stream ended where gzip says it may."""
        if not self._decided:
            self._decided = True
            return self._head, True
        if self._inflate is None:
            return b"", True
        return self._inflate.flush(), bool(self._inflate.eof)


class LineSplitter:
    """Bytes in, numbered lines out; a line over the limit is cut out and reported alone."""

    def __init__(self, max_line_bytes: int = MAX_LINE_BYTES) -> None:
        self.max = max_line_bytes
        self.number = 0
        self._partial = bytearray()
        self._overlong = False

    def feed(self, data: bytes) -> Iterator[Line]:
        start = 0
        while True:
            end = data.find(b"\n", start)
            if end < 0:
                self._keep(data[start:])
                return
            self._keep(data[start:end])
            yield self._emit()
            start = end + 1

    def finish(self) -> Iterator[Line]:
        if self._partial or self._overlong:
            yield self._emit()

    def _keep(self, piece: bytes) -> None:
        if self._overlong:
            return
        self._partial += piece
        if len(self._partial) > self.max:
            self._overlong = True
            self._partial.clear()

    def _emit(self) -> Line:
        self.number += 1
        overlong, data = self._overlong, bytes(self._partial)
        self._partial.clear()
        self._overlong = False
        if overlong:
            return Line(self.number, b"\0overlong")
        return Line(self.number, data[:-1] if data.endswith(b"\r") else data)


def lines_of(chunks: Iterable[bytes], max_line_bytes: int = MAX_LINE_BYTES) -> Iterator[Line]:
    """The file's lines, gzip or not; raises FileBroken where a gzip stream stops short."""
    gunzip, splitter = Gunzip(), LineSplitter(max_line_bytes)
    try:
        for chunk in chunks:
            yield from splitter.feed(gunzip.feed(chunk))
        rest, complete = gunzip.finish()
    except zlib.error as exc:
        raise FileBroken(splitter.number + 1, f"the gzip data is corrupt ({exc})") from exc
    yield from splitter.feed(rest)
    yield from splitter.finish()
    if not complete:
        raise FileBroken(splitter.number, "the gzip file is truncated (it ends mid-stream)")


def line_text(line: Line) -> str:
    """The line as text; a DomainError for an overlong line or bytes that are not UTF-8."""
    if line.data == b"\0overlong":
        raise DomainError(
            ErrorCode.LINE_TOO_LONG, f"The line is longer than {MAX_LINE_BYTES:,} bytes."
        )
    try:
        text = line.data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DomainError(
            ErrorCode.INVALID_UTF8, f"The line is not UTF-8 (byte {exc.start + 1})."
        ) from exc
    return text.removeprefix("\ufeff") if line.number == 1 else text


def customer_from_json(text: str) -> dict[str, Any]:
    """A JSON Lines line as `CustomerInput` values (times parsed), or a DomainError."""
    if _LONG_NUMBER.search(text):  # orjson reads integers past 64 bits as floats
        raw = _loads_leniently(text)
    else:
        try:
            raw = orjson.loads(text)
        except orjson.JSONDecodeError:
            raw = _loads_leniently(text)
    if not isinstance(raw, dict):
        raise DomainError(
            ErrorCode.NOT_AN_OBJECT, f"A line must be a JSON object, not {_json_kind(raw)}."
        )
    unknown = raw.keys() - INPUT_FIELDS
    if unknown:
        first = min(unknown)
        raise DomainError(
            ErrorCode.UNKNOWN_FIELD, f"CustomerInput has no field {first!r}.", (first,)
        )
    values = _read_values(raw, _CUSTOMER_READS)
    for scope, reads in _RECORD_READS.items():
        records = values.get(scope)
        if isinstance(records, list):
            values[scope] = [
                _record(scope, reads, record, index) for index, record in enumerate(records)
            ]
    return values


def _loads_leniently(text: str) -> Any:
    """`json.loads`, for what orjson (strict, and bounded to 64-bit integers) refuses: the
    same values and errors as before orjson read the lines (NaN, big integers, lone
    surrogates are then refused by validation with its codes, not as INVALID_JSON)."""
    try:
        return json.loads(text)
    except (json.JSONDecodeError, RecursionError) as exc:
        message = exc.msg if isinstance(exc, json.JSONDecodeError) else "nested too deep"
        raise DomainError(ErrorCode.INVALID_JSON, f"The line is not JSON: {message}.") from exc


def _record(scope: str, reads: _Reads, raw: object, index: int) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise DomainError(
            ErrorCode.NOT_AN_OBJECT, f"Each of {scope} must be an object.", (scope, str(index))
        )
    unknown = raw.keys() - reads.fields
    if unknown:
        key = next(key for key in raw if key in unknown)
        raise DomainError(
            ErrorCode.UNKNOWN_FIELD, f"{scope} have no field {key!r}.", (scope, str(index), key)
        )
    return _read_values(raw, reads)


@dataclass(frozen=True)
class _Reads:
    """Of one input object: the fields it may hold, and those the GraphQL scalars would hand
    the resolvers as something else than the JSON value (datetimes parsed, numeric ids as
    text). Only those are looked at: a line holds some fifty values."""

    fields: frozenset[str]
    datetimes: frozenset[str]
    ids: frozenset[str]


def _reads(attrs: Mapping[str, Attr]) -> _Reads:
    return _Reads(
        frozenset({"id", *attrs}),
        frozenset(name for name, attr in attrs.items() if attr.kind is DATETIME),
        frozenset({"id", *(name for name, attr in attrs.items() if attr.kind is ID)}),
    )


_CUSTOMER_READS = _reads(CUSTOMER_ATTRS)
_RECORD_READS = {scope: _reads(attrs) for scope, attrs in RELATED_ATTRS.items()}


def _read_values(raw: dict[str, Any], reads: _Reads) -> dict[str, Any]:
    """`raw` (a freshly parsed object, changed in place) as `_Reads` says."""
    for name in reads.datetimes.intersection(raw):
        value = raw[name]
        if isinstance(value, str):
            raw[name] = parse_instant(value) or value  # unparsed text is refused by validation
    for name in reads.ids.intersection(raw):
        if _is_int(raw[name]):
            raw[name] = str(raw[name])
    return raw


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _json_kind(value: object) -> str:
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if value is None:
        return "null"
    return "a boolean" if isinstance(value, bool) else "a number"


@dataclass(frozen=True)
class CsvHeader:
    """The columns of a CSV file: `CustomerInput` scalars and `properties.KEY`."""

    columns: tuple[str, ...]

    @staticmethod
    def parse(text: str, declared: Mapping[str, CustomPropertyDef]) -> CsvHeader:
        names = tuple(cell.strip() for cell in _csv_cells(text))
        for index, name in enumerate(names):
            key = name.removeprefix("properties.")
            if name.startswith("properties."):
                if key not in declared:
                    raise DomainError(
                        ErrorCode.PROPERTY_NOT_DECLARED,
                        f"Column {index + 1}: custom property {key!r} is not declared.",
                        ("properties", key),
                    )
            elif name != "id" and name not in CUSTOMER_ATTRS:
                raise DomainError(
                    ErrorCode.UNKNOWN_FIELD,
                    f"Column {index + 1}: {name!r} is not a flat CustomerInput field "
                    "(nested records need JSON Lines).",
                    (name,),
                )
        if "id" not in names:
            raise DomainError(ErrorCode.REQUIRED, "The header row has no 'id' column.", ("id",))
        if len(set(names)) != len(names):
            raise DomainError(ErrorCode.DUPLICATE, "The header row names a column twice.")
        return CsvHeader(names)

    def customer(self, text: str, declared: Mapping[str, CustomPropertyDef]) -> dict[str, Any]:
        cells = _csv_cells(text)
        if len(cells) != len(self.columns):
            raise DomainError(
                ErrorCode.INVALID,
                f"The row has {len(cells)} cells; the header has {len(self.columns)}.",
            )
        values: dict[str, Any] = {}
        properties: dict[str, Any] = {}
        for name, cell in zip(self.columns, cells, strict=True):
            if cell == "":
                continue
            if name.startswith("properties."):
                key = name.removeprefix("properties.")
                properties[key] = _property_cell(declared[key], cell)
            else:
                values[name] = cell
        if properties:
            values["properties"] = properties
        return _read_values(values, _CUSTOMER_READS)


def _csv_cells(text: str) -> list[str]:
    try:
        rows = list(csv.reader([text], strict=True))
    except csv.Error as exc:
        raise DomainError(ErrorCode.INVALID, f"The row is not valid CSV: {exc}.") from exc
    return rows[0] if rows else []


def _property_cell(definition: CustomPropertyDef, cell: str) -> object:
    """A cell as the declared type's JSON value; what does not read stays text (refused later)."""
    if definition.type is PropertyType.NUMBER:
        try:
            number = float(cell)
        except ValueError:
            return cell
        written_as_int = number.is_integer() and not any(ch in cell for ch in ".eE")
        return int(number) if written_as_int else number
    if definition.type is PropertyType.BOOLEAN:
        lowered = cell.strip().lower()
        return {"true": True, "false": False}.get(lowered, cell)
    return cell
