"""Bulk-loading tracked events from JSON Lines: COPY into a staging table, then merge.

Each line is one event: {"customerId", "name", "occurredAt"?, "properties"?, "id"?}.
Bad lines are reported with their line numbers and skipped; the rest load, a
chunk per transaction, with the same idempotency as eventsTrack (an id
already stored is skipped).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import IO, Any

from sqlalchemy.ext.asyncio import AsyncConnection

from domain.errors import ValidationFailed
from domain.instant import parse_instant
from domain.tracked_event import EventChange, check_event

CHUNK_LINES = 20_000
MAX_REPORTED = 1000


@dataclass
class ImportReport:
    lines: int = 0
    loaded: int = 0
    duplicates: int = 0
    bad: list[tuple[int, str]] = field(default_factory=list)
    bad_count: int = 0

    def reject(self, line_no: int, reason: str) -> None:
        self.bad_count += 1
        if len(self.bad) < MAX_REPORTED:
            self.bad.append((line_no, reason))


def parse_line(text: str, now: datetime) -> EventChange:
    """One JSONL line as a checked event; raises ValueError with a readable reason."""
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not JSON ({exc.msg})") from exc
    if not isinstance(raw, dict):
        raise ValueError("not a JSON object")
    occurred = raw.get("occurredAt")
    if occurred is not None:
        moment = parse_instant(occurred) if isinstance(occurred, str) else None
        if moment is None:
            raise ValueError("occurredAt is not an ISO-8601 instant")
        raw = {**raw, "occurredAt": moment}
    try:
        return check_event(raw, now, ())
    except ValidationFailed as failed:
        raise ValueError(
            "; ".join(f"{'.'.join(e.field)}: {e.message}" for e in failed.errors)
        ) from None


def chunks(
    stream: IO[str], now: datetime, report: ImportReport
) -> Iterator[list[tuple[int, EventChange]]]:
    batch: list[tuple[int, EventChange]] = []
    for line_no, text in enumerate(stream, start=1):
        report.lines += 1
        if not text.strip():
            continue
        try:
            batch.append((line_no, parse_line(text, now)))
        except ValueError as exc:
            report.reject(line_no, str(exc))
        if len(batch) >= CHUNK_LINES:
            yield batch
            batch = []
    if batch:
        yield batch


async def copy_chunk(
    conn: AsyncConnection,
    workspace_pk: int,
    rows: list[tuple[int, EventChange]],
    pks: dict[str, int],
) -> int:
    """COPY the chunk into a staging table and merge it into `event`; returns rows inserted."""
    raw = (await conn.get_raw_connection()).driver_connection
    assert raw is not None
    await conn.exec_driver_sql(
        "CREATE TEMP TABLE IF NOT EXISTS event_import "
        "(customer_pk bigint, id text, name text, occurred_at timestamptz, properties jsonb) "
        "ON COMMIT DELETE ROWS"
    )
    records: list[tuple[Any, ...]] = [
        (pks[e.customer_id], e.id, e.name, e.occurred_at, json.dumps(e.properties)) for _, e in rows
    ]
    await raw.copy_records_to_table("event_import", records=records)
    result = await conn.exec_driver_sql(
        "INSERT INTO event (workspace_pk, customer_pk, id, name, occurred_at, properties) "
        f"SELECT {int(workspace_pk)}, customer_pk, id, name, occurred_at, properties "
        "FROM event_import "
        "ON CONFLICT (workspace_pk, id) WHERE id IS NOT NULL DO NOTHING"
    )
    return int(result.rowcount or 0)
