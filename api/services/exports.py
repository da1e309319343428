"""CSV exports of a segment's current members or of a snapshot, streamed."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass

from api.context import Context
from api.services.predicates import workspace_segments
from domain.csv_safety import cell
from domain.errors import DomainError, ErrorCode
from persistence.export import instance_query, members_query, stream_rows

DEFAULT_FIELDS = ("id", "email", "name", "country", "createdAt")
MAX_FIELDS = 100


@dataclass(frozen=True)
class Export:
    filename: str
    fields: list[str]
    rows: AsyncIterator[bytes]


def parse_fields(raw: str | None) -> list[str]:
    if raw is None or not raw.strip():
        return list(DEFAULT_FIELDS)
    fields = [f.strip() for f in raw.split(",") if f.strip()]
    if len(fields) > MAX_FIELDS:
        raise DomainError(ErrorCode.TOO_MANY, f"At most {MAX_FIELDS} fields.", ("fields",))
    return fields


async def segment_export(
    ctx: Context, segment_id: str, fields_raw: str | None, instance_id: str | None = None
) -> Export:
    """Everything is checked here, before the first byte is sent."""
    fields = parse_fields(fields_raw)
    now = ctx.runtime.clock()
    async with ctx.uow() as uow:
        segment = await uow.segments.get(segment_id)
        if segment is None:
            raise DomainError(ErrorCode.NOT_FOUND, f"There is no segment {segment_id!r}.", ())
        segments = await workspace_segments(uow)
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
                    ErrorCode.NOT_FOUND, f"There is no instance {instance_id!r} of this segment.", ()
                )
            query = instance_query(ctx.workspace_pk, instance.pk, fields, segments.catalog)
            name = f"{instance.id}.csv"
    timeout = ctx.runtime.settings.export_timeout_ms
    return Export(name, fields, _csv(fields, stream_rows(ctx.runtime.engine, query, timeout)))


async def _csv(fields: Sequence[str], batches: AsyncIterator[Sequence[object]]) -> AsyncIterator[bytes]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")  # RFC 4180
    writer.writerow(fields)
    yield buffer.getvalue().encode()
    async for batch in batches:
        buffer.seek(0)
        buffer.truncate()
        for row in batch:
            writer.writerow([cell(v) for v in row])  # type: ignore[attr-defined]
        yield buffer.getvalue().encode()
