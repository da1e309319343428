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
import time
from collections.abc import AsyncIterator, Callable, Mapping
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
from persistence.bulk_load import NoProgress, ProgressSink
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
    """Every id the file names, even on lines refused later; how many lines name none."""
    declared = await _declared(runtime, workspace_pk)
    header: CsvHeader | None = None
    ids: list[str] = []
    unreadable = 0
    async for line in open_lines():
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
    chunks = _Chunks(open_lines(), options.format, declared, writer.report)
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


class _Chunks:
    """The file's lines as chunks of validated changes, each customer id once a chunk.

    A file broken part way (a truncated gzip) gives its lines before the break
    first, then raises FileBroken.

    A line is validated exactly as `customersUpsert` validates a customer; a
    refused one is recorded in the report with its number and left out. A
    customer named again ends the chunk (the later line starts the next), so
    the later line wins, as two upserts in a row would have it.
    """

    def __init__(
        self,
        lines: AsyncIterator[Line],
        file_format: FileFormat,
        declared: Mapping[str, CustomPropertyDef],
        report: ImportReport,
    ) -> None:
        self.lines, self.format, self.declared, self.report = lines, file_format, declared, report
        self.header: CsvHeader | None = None
        self.carried: CustomerChange | None = None
        self.broken: FileBroken | None = None

    async def next(self) -> tuple[StagedChunk, int] | None:
        """The next chunk and how many lines it took; None at the end of the file."""
        if self.broken is not None:
            raise self.broken
        chunk, read = StagedChunk(), 0
        if self.carried is not None:
            chunk.add(self.carried)
            self.carried = None
        try:
            async for line in self.lines:
                read += 1
                if read % YIELD_EVERY == 0:
                    await asyncio.sleep(0)  # let the merge of the chunk before go on meanwhile
                change = self._change(line)
                if change is None:
                    continue
                if change.id in chunk:
                    self.carried = change
                    break
                chunk.add(change)
                if len(chunk) >= CHUNK_CUSTOMERS:
                    break
        except FileBroken as broken:
            self.broken = broken  # raised at the next call: the lines before it go in first
        return (chunk, read) if len(chunk) or read or self.broken else None

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
