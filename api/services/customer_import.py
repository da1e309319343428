"""Bulk customer import: a file of `CustomerInput`s written chunk by chunk, live segments kept.

Each line is validated exactly as `customersUpsert` validates one customer
(domain.customer.validate_customer); a bad line is reported with its number
and changes nothing, and the good lines go in, `CHUNK_CUSTOMERS` a
transaction, COPYed into staging tables and merged set-based
(persistence/customer_staging.py) by `write_staged`, which keeps ACTIVE
memberships live as the API's writes do: their ENTERED/LEFT events are
recorded in the chunk's own transaction, exactly once. The next chunk is
parsed while one is merged. Customers whose stored values already equal the
line are left alone: importing the same file again writes nothing and records
no event.

`strict` makes the file all-or-nothing: one transaction, rolled back if any
line is refused. `replace` makes the file the whole truth: a first pass
collects its ids, the import is refused before any change if it would
delete more than `max_delete_percent` of the workspace (unless `force`),
and after the writes the customers absent from the file, and not written
since the import began, are deleted with their LEFT events.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from api.runtime import Runtime
from api.services.customers import delete_ids, write_staged
from api.services.stats_refresher import recount_workspace
from domain.custom_property import CustomPropertyDef
from domain.customer import CustomerChange, validate_customer
from domain.customer_file import (
    CsvHeader,
    FileBroken,
    Line,
    customer_from_json,
    line_text,
    lines_of,
)
from domain.errors import DomainError, ErrorCode, ValidationFailed
from domain.import_job import FileFormat, ImportMode, ImportOptions, ImportReport
from domain.line_fingerprint import fingerprint, line_key
from persistence.bulk_load import NoProgress, ProgressSink
from persistence.customer_fingerprints import current
from persistence.customer_import import SeenIds
from persistence.customer_staging import StagedChunk, allow_import_time
from persistence.unit_of_work import UnitOfWork

BATCH = 1000
"""Ids a statement of replace mode sends or deletes at a time."""
CHUNK = 1 << 20
"""Bytes read from the file at a time."""
CHUNK_CUSTOMERS = 20_000
"""Customers merged a transaction: big enough for set-based statements to pay, small
enough that a chunk's rows and locks stay modest (memory stays flat whatever the file)."""
LOOKUP_LINES = 2000
"""Lines read ahead, fingerprinted and looked up at a time."""
YIELD_EVERY = 200
"""Lines parsed between two turns given to the event loop (the merge in flight)."""

Lines = Callable[[], AsyncIterator[Line]]
"""Opens the file from its start (replace mode reads it twice)."""


def file_lines(path: Path) -> Lines:
    """A file's lines, read in 1 MiB chunks, each time the import asks from the start."""

    async def lines() -> AsyncIterator[Line]:
        with path.open("rb") as stream:
            for line in lines_of(iter(lambda: stream.read(CHUNK), b"")):
                yield line

    return lines


class ImportRefused(Exception):
    """The import as asked would do harm (too many deletions): nothing was changed."""


async def import_customers(
    runtime: Runtime,
    workspace_pk: int,
    open_lines: Lines,
    options: ImportOptions,
    progress: ProgressSink | None = None,
    report: ImportReport | None = None,
) -> ImportReport:
    """Import the file; `report` (new if not given) is filled as the import goes."""
    started = time.perf_counter()
    bar = progress or NoProgress()
    report = report if report is not None else ImportReport()
    import_began = runtime.clock()
    async with contextlib.AsyncExitStack() as stack:
        seen: SeenIds | None = None
        if options.mode is ImportMode.REPLACE:  # only replace needs the ids (and a connection)
            conn = await stack.enter_async_context(runtime.engine.connect())
            seen = await stack.enter_async_context(SeenIds(conn, workspace_pk))
            await _check_replace(runtime, workspace_pk, open_lines, options, seen, import_began)
        writer = _Writer(runtime, workspace_pk, options.strict, report)
        async with writer:
            try:
                await _write_file(runtime, workspace_pk, open_lines, options, writer, bar)
            except FileBroken as broken:
                report.reject(broken.line, DomainError(ErrorCode.TRUNCATED_INPUT, broken.message))
                report.failure = f"line {broken.line}: {broken.message}"
            if options.strict and report.rejected:
                report.failure = report.failure or (
                    f"{report.rejected:,} lines were rejected; nothing was written (--strict)"
                )
            elif seen is not None and report.failure is None:
                await writer.delete_absent(seen, import_began)
            await writer.finish()
    if report.written or report.deleted:
        await recount_workspace(runtime, workspace_pk)
    report.seconds = time.perf_counter() - started
    return report


async def _check_replace(
    runtime: Runtime,
    workspace_pk: int,
    open_lines: Lines,
    options: ImportOptions,
    seen: SeenIds,
    began: datetime,
) -> None:
    """Replace mode's first pass: the file's ids into `seen`; refused before any change when
    a line names no readable id (its customer could not be told from those to delete), when
    the file is broken, or when it would delete more than the limit allows."""
    try:
        unreadable = await _collect_ids(runtime, workspace_pk, open_lines, options, seen)
    except FileBroken as broken:
        raise ImportRefused(
            f"line {broken.line}: {broken.message}; nothing was changed"
        ) from broken
    if unreadable:
        raise ImportRefused(
            f"{unreadable:,} lines name no readable customer id, so the customers they "
            "describe cannot be told from those to delete; nothing was changed (fix them, or "
            "use --mode upsert)"
        )
    held, absent = await seen.counts(began)
    share = 100.0 * absent / held if held else 0.0
    if share > options.max_delete_percent and not options.force:
        raise ImportRefused(
            f"the file would delete {absent:,} of {held:,} customers ({share:.1f}%), "
            f"more than --max-delete {options.max_delete_percent:g}%; nothing was "
            "changed (use --force to delete them)"
        )


async def _collect_ids(
    runtime: Runtime, workspace_pk: int, open_lines: Lines, options: ImportOptions, seen: SeenIds
) -> int:
    """Every id the file names, even on lines refused later; how many lines name none.

    A JSON Lines line whose fingerprint a customer holds names that customer: its id is
    taken from there, and the line is not parsed (an unchanged file is only hashed)."""
    declared = await _declared(runtime, workspace_pk)
    key = line_key(workspace_pk, declared, None) if options.format is FileFormat.JSONL else None
    header: CsvHeader | None = None
    ids: list[str] = []
    unreadable = 0
    block: list[Line] = []
    lines = open_lines()
    while True:
        block.clear()
        async for line in lines:
            block.append(line)
            if len(block) >= LOOKUP_LINES:
                break
        if not block:
            break
        digests = [fingerprint(key, line.data) for line in block] if key is not None else []
        known = await current(runtime.reader, workspace_pk, digests) if digests else {}
        for index, line in enumerate(block):
            owner = known.get(digests[index]) if known else None
            if owner is not None:
                ids.append(owner)
                continue
            try:
                values = _values(line, options.format, header, declared)
            except DomainError:
                unreadable += 1
                continue
            if isinstance(values, CsvHeader):
                header = values
            elif values is not None:
                if isinstance(values.get("id"), str):
                    ids.append(values["id"])
                else:
                    unreadable += 1
        if len(ids) >= 10 * BATCH:
            await seen.add(ids)
            ids = []
    await seen.add(ids)
    return unreadable


async def _write_file(
    runtime: Runtime,
    workspace_pk: int,
    open_lines: Lines,
    options: ImportOptions,
    writer: _Writer,
    bar: ProgressSink,
) -> None:
    """Chunk after chunk, the next one parsed and validated while this one is merged (the
    database works on its own core meanwhile)."""
    declared = await _declared(runtime, workspace_pk)
    lookup = None if options.strict else functools.partial(current, runtime.reader, workspace_pk)
    chunks = _Chunks(open_lines(), options.format, declared, writer.report, workspace_pk, lookup)
    pending = asyncio.ensure_future(chunks.next())
    try:
        while (parsed := await pending) is not None:
            pending = asyncio.ensure_future(chunks.next())
            chunk, lines = parsed
            await writer.write(chunk)
            bar.advance(lines)
            bar.describe(f"{writer.report.rejected:,} rejected")
    finally:
        if not pending.done():
            pending.cancel()
        with contextlib.suppress(Exception, asyncio.CancelledError):
            await pending


@dataclass(frozen=True)
class _Read:
    """A line read ahead, its fingerprint, and who had already taken that line."""

    line: Line
    digest: bytes | None
    taken_by: str | None  # the customer whose current fingerprint it is, if any
    in_flight: AbstractSet[str]  # the customers of the chunk being merged when looked up
    chunk: int  # the number of the chunk being built when looked up


class _Chunks:
    """The file's lines as chunks of validated changes, each customer id once a chunk.

    A file broken part way (a truncated gzip) gives its lines before the break
    first, then raises FileBroken.

    A line is validated exactly as `customersUpsert` validates a customer; a
    refused one is recorded in the report with its number and left out. A
    customer named again ends the chunk (the later line starts the next), so
    the later line wins, as two upserts in a row would have it.

    Lines are read ahead `LOOKUP_LINES` at a time and fingerprinted
    (domain.line_fingerprint); with `lookup`, a line its customer already took,
    with no write since, is counted unchanged without being parsed. Not when the
    customer is in a chunk that was not committed when the line was looked up
    (the one being merged then, and those built since), whose fingerprint may be
    about to move: that line is read.
    """

    def __init__(
        self,
        lines: AsyncIterator[Line],
        file_format: FileFormat,
        declared: Mapping[str, CustomPropertyDef],
        report: ImportReport,
        workspace_pk: int,
        lookup: Callable[[Sequence[bytes]], Awaitable[Mapping[bytes, str]]] | None,
    ) -> None:
        self.lines, self.format, self.declared, self.report = lines, file_format, declared, report
        self.workspace_pk, self.lookup = workspace_pk, lookup
        self.header: CsvHeader | None = None
        self.carried: tuple[CustomerChange, bytes | None] | None = None
        self.broken: FileBroken | None = None
        self._broken_ahead: FileBroken | None = None
        self.ahead: deque[_Read] = deque()
        self.in_flight: AbstractSet[str] = frozenset()
        self.number = 0  # of the chunk being built
        self._key = (
            line_key(workspace_pk, declared, None) if file_format is FileFormat.JSONL else None
        )

    async def next(self) -> tuple[StagedChunk, int] | None:
        """The next chunk and how many lines it took; None at the end of the file."""
        if self.broken is not None:
            raise self.broken
        chunk, read = StagedChunk(), 0
        self.number += 1
        if self.carried is not None:
            chunk.add(*self.carried)
            self.carried = None
        try:
            while len(chunk) < CHUNK_CUSTOMERS:
                if not self.ahead and not await self._read_ahead():
                    break
                item = self.ahead.popleft()
                read += 1
                if read % YIELD_EVERY == 0:
                    await asyncio.sleep(0)  # let the merge of the chunk before go on meanwhile
                if self._already_taken(item, chunk):
                    self.report.lines += 1
                    self.report.unchanged += 1
                    continue
                change = self._change(item.line)
                if change is None:
                    continue
                if change.id in chunk:
                    self.carried = (change, item.digest)
                    break
                chunk.add(change, item.digest)
        except FileBroken as broken:
            self.broken = broken  # raised at the next call: the lines before it go in first
        self.in_flight = chunk.ids  # merged while the next chunk is read
        return (chunk, read) if len(chunk) or read or self.broken else None

    def _already_taken(self, item: _Read, chunk: StagedChunk) -> bool:
        who = item.taken_by
        return (
            who is not None
            and self.number - item.chunk <= 1  # else chunks in between would need checking
            and who not in chunk
            and who not in item.in_flight
            and who not in self.in_flight
        )

    async def _read_ahead(self) -> bool:
        """Read the next lines into `ahead`, fingerprinted and looked up; False at the end."""
        if self._key is None and self.format is FileFormat.CSV and self.header is not None:
            self._key = line_key(self.workspace_pk, self.declared, ",".join(self.header.columns))
        size = LOOKUP_LINES if self._key is not None else 1  # a CSV file's header comes first
        block: list[Line] = []
        try:
            async for line in self.lines:
                block.append(line)
                if len(block) >= size:
                    break
        except FileBroken as broken:
            self._broken_ahead = broken
        if not block:
            if self._broken_ahead is not None:
                raise self._broken_ahead
            return False
        key = self._key
        digests = [None if key is None else fingerprint(key, line.data) for line in block]
        taken: Mapping[bytes, str] = {}
        if self.lookup is not None and key is not None:
            taken = await self.lookup([d for d in digests if d is not None])
        for line, digest in zip(block, digests, strict=True):
            owner = taken.get(digest) if digest is not None else None
            self.ahead.append(_Read(line, digest, owner, self.in_flight, self.number))
        return True

    def _change(self, line: Line) -> CustomerChange | None:
        """The line's change; None for the header, a blank line or a refused line."""
        report = self.report
        try:
            values = _values(line, self.format, self.header, self.declared)
            if isinstance(values, CsvHeader):
                self.header = values
                return None
            if values is None:
                return None
            report.lines += 1
            return validate_customer(values, self.declared, ())
        except DomainError as error:
            report.lines += 1
            report.reject(line.number, error)
        except ValidationFailed as failed:
            report.reject(line.number, failed.errors[0])
        return None


def _values(
    line: Line,
    file_format: FileFormat,
    header: CsvHeader | None,
    declared: Mapping[str, CustomPropertyDef],
) -> dict[str, Any] | CsvHeader | None:
    """A line's `CustomerInput` values, the CSV header (line 1), or None for a blank line."""
    text = line_text(line)
    if not text.strip():
        return None
    if file_format is FileFormat.JSONL:
        return customer_from_json(text)
    if header is None:
        return CsvHeader.parse(text, declared)
    return header.customer(text, declared)


async def _declared(runtime: Runtime, workspace_pk: int) -> dict[str, CustomPropertyDef]:
    async with UnitOfWork(runtime.reader, workspace_pk) as uow:
        return dict(await uow.properties.all())


class _Writer:
    """Chunks of validated changes, each its own transaction (or one for a strict import)."""

    def __init__(self, runtime: Runtime, workspace_pk: int, strict: bool, report: ImportReport):
        self.runtime, self.workspace_pk, self.strict = runtime, workspace_pk, strict
        self.report = report
        self._whole: UnitOfWork | None = None
        self._timeout_ms = runtime.settings.import_statement_timeout_ms

    async def __aenter__(self) -> _Writer:
        if self.strict:
            self._whole = await UnitOfWork(self.runtime.engine, self.workspace_pk).__aenter__()
            await allow_import_time(self._whole.conn, self._timeout_ms)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._whole is not None:
            await self._whole.__aexit__(None, None, None)  # rolls back unless finished

    async def write(self, chunk: StagedChunk) -> None:
        """Merge one chunk in its own transaction (or the strict import's one)."""
        if not len(chunk) or (self.strict and self.report.rejected):
            return  # a strict import is rolled back once a line is refused
        async with self._transaction() as uow:
            outcome = await write_staged(uow, chunk, self.runtime.clock)
        self.report.written += len(outcome.pks)
        self.report.unchanged += len(chunk) - len(outcome.pks)

    async def delete_absent(self, seen: SeenIds, began: datetime) -> None:
        after = ""
        while ids := await seen.absent(began, after, BATCH):
            async with self._transaction() as uow:
                self.report.deleted += len(await delete_ids(uow, ids, self.runtime.clock))
            after = ids[-1]

    async def finish(self) -> None:
        if self._whole is not None and self.report.failure is None:
            await self._whole.commit()

    @contextlib.asynccontextmanager
    async def _transaction(self) -> AsyncIterator[UnitOfWork]:
        """The strict import's one transaction (left open), or a batch's own, committed."""
        if self._whole is not None:
            yield self._whole
            return
        async with UnitOfWork(self.runtime.engine, self.workspace_pk) as uow:
            await allow_import_time(uow.conn, self._timeout_ms)
            yield uow
            await uow.commit()
