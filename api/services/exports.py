"""CSV exports of a segment's current members or of a snapshot, streamed."""

from __future__ import annotations

import contextlib
import csv
import io
from collections.abc import AsyncGenerator, Callable, Sequence
from dataclasses import dataclass

from api.context import Context
from api.services.predicates import workspace_segments
from domain.csv_safety import cell, instant_cell
from domain.errors import DomainError, ErrorCode, segment_not_found
from domain.fields import CUSTOM_PROPERTY_PREFIX, FieldCatalog, FieldType
from domain.segment import SegmentKind
from persistence.export import instance_query, members_query, stream_rows

DEFAULT_FIELDS = ("id", "email", "name", "country", "createdAt")
MAX_FIELDS = 100


@dataclass(frozen=True)
class Export:
    filename: str
    fields: list[str]
    rows: AsyncGenerator[bytes, None]


def parse_fields(raw: str | None) -> list[str]:
    if raw is None or not raw.strip():
        return list(DEFAULT_FIELDS)
    fields = [f.strip() for f in raw.split(",") if f.strip()]
    if len(fields) > MAX_FIELDS:
        raise DomainError(ErrorCode.TOO_MANY, f"At most {MAX_FIELDS} fields.", ("fields",))
    return fields


async def segment_export(
    ctx: Context,
    segment_id: str,
    fields_raw: str | None,
    instance_id: str | None = None,
    on_rows: Callable[[int], None] | None = None,
) -> Export:
    """Everything is checked here, before the first byte is sent.

    `on_rows` hears how many rows each streamed batch held (for progress bars).
    """
    fields = parse_fields(fields_raw)
    now = ctx.runtime.clock()
    async with ctx.read_transaction() as uow:
        source = uow.engine  # the rows are read where the checks were (a fresh replica, say)
        segment = await uow.segments.get(segment_id)
        if segment is None:
            raise segment_not_found(segment_id)
        segments = await workspace_segments(uow, {segment.id})
        unknown = [f for f in fields if segments.catalog.customer_field(f) is None]
        if unknown:
            raise DomainError(
                ErrorCode.UNKNOWN_FIELD,
                f"Unknown field {unknown[0]!r}; fields are customer field paths "
                "such as id, email, country, properties.plan.",
                ("fields",),
            )
        if instance_id is None:
            query = members_query(
                ctx.workspace_pk, segments.condition(segment, now), fields, segments.catalog
            )
            name = f"{segment.id}.csv"
        else:
            instance = await uow.snapshots.get(instance_id)
            if instance is None or instance.segment_id != segment.id:
                raise DomainError(
                    ErrorCode.NOT_FOUND,
                    f"There is no instance {instance_id!r} of this segment.",
                    (),
                )
            query = instance_query(ctx.workspace_pk, instance.pk, fields, segments.catalog)
            name = f"{instance.id}.csv"
    timeout = ctx.runtime.settings.export_timeout_ms
    formats = [_cell_format(f, segments.catalog) for f in fields]
    rows = stream_rows(source, query, timeout)
    return Export(name, fields, _csv(fields, formats, rows, on_rows))


async def export_total(ctx: Context, segment_id: str, instance_id: str | None) -> int | None:
    """The number of rows to expect, when it is known without evaluating the segment."""
    async with ctx.read_transaction() as uow:
        if instance_id is not None:
            instance = await uow.snapshots.get(instance_id)
            return instance.num_customers if instance is not None else None
        segment = await uow.segments.get(segment_id)
        if segment is None or segment.pk is None:
            return None
        cached = (await uow.segments.stats(segment.pk)).member_count
        if cached is not None or segment.kind is SegmentKind.PASSIVE:
            return cached  # PASSIVE counts may be a little old; a progress bar copes
        return await uow.segments.stored_count(segment.pk)


def _cell_format(path: str, catalog: FieldCatalog) -> Callable[[object], str]:
    descriptor = catalog.customer_field(path)
    custom_time = descriptor is not None and descriptor.type is FieldType.DATETIME
    return instant_cell if custom_time and path.startswith(CUSTOM_PROPERTY_PREFIX) else cell


async def _csv(
    fields: Sequence[str],
    formats: Sequence[Callable[[object], str]],
    batches: AsyncGenerator[Sequence[Sequence[object]], None],
    on_rows: Callable[[int], None] | None,
) -> AsyncGenerator[bytes, None]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")  # RFC 4180
    writer.writerow(fields)
    yield buffer.getvalue().encode()
    async with contextlib.aclosing(batches):  # closing this closes the database cursor
        async for batch in batches:
            buffer.seek(0)
            buffer.truncate()
            # Column by column: each format maps over its column in C, and the
            # rows are zipped back together, with no Python loop a row.
            cells = zip(*batch, strict=True)  # a batch is never empty
            columns = [map(fmt, column) for fmt, column in zip(formats, cells, strict=True)]
            writer.writerows(zip(*columns, strict=True))
            if on_rows is not None:
                on_rows(len(batch))
            yield buffer.getvalue().encode()
