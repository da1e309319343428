"""Webhook endpoints and their deliveries, written from the durable event log.

How events become deliveries (docs/webhooks.md tells why):

- each endpoint keeps a cursor into its workspace's event log; `fan_out` reads
  the events after it, writes one delivery row per matching event, and moves
  the cursor, all in one transaction, so an event is written exactly once
  whatever crashes (seq numbers commit in order: persistence.tables.SegmentEvent);
- `claim` hands out due deliveries under FOR UPDATE SKIP LOCKED and leases them
  (next_attempt_at moves past the request timeout), so one process at a time
  tries a delivery, and a process that dies mid-request leaves it to be retried;
- only the oldest pending delivery of each (endpoint, customer) is ever due:
  order per customer holds under retries.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from domain.webhook import Delivery, DeliveryStatus, Endpoint, EventType

_ENDPOINT_COLUMNS = """
    id, url, description, segment_ids, event_types, enabled, disabled_reason, created_at,
    failing_since, secret, previous_secret, previous_secret_until
"""

_DELIVERY_COLUMNS = """
    endpoint_id, seq, kind, segment_id, segment_name, customer_id, occurred_at, status, attempts,
    next_attempt_at, last_status_code, last_error, last_attempt_at, delivered_at
"""


def _endpoint(row: Any) -> Endpoint:
    m = row._mapping
    return Endpoint(
        id=m["id"],
        url=m["url"],
        description=m["description"],
        segment_ids=list(m["segment_ids"]),
        event_types=[EventType(t) for t in m["event_types"]],
        enabled=m["enabled"],
        disabled_reason=m["disabled_reason"],
        created_at=m["created_at"],
        failing_since=m["failing_since"],
        secret=m["secret"],
        previous_secret=m["previous_secret"],
        previous_secret_until=m["previous_secret_until"],
    )


def _delivery(row: Any) -> Delivery:
    m = row._mapping
    return Delivery(
        endpoint_id=m["endpoint_id"],
        seq=m["seq"],
        event_type=EventType.of_log_kind(m["kind"]),
        segment_id=m["segment_id"],
        segment_name=m["segment_name"],
        customer_id=m["customer_id"],
        occurred_at=m["occurred_at"],
        status=DeliveryStatus(m["status"]),
        attempts=m["attempts"],
        next_attempt_at=m["next_attempt_at"] if m["status"] == "PENDING" else None,
        last_status_code=m["last_status_code"],
        last_error=m["last_error"],
        last_attempt_at=m["last_attempt_at"],
        delivered_at=m["delivered_at"],
    )


def _kinds(event_types: Sequence[EventType]) -> list[str]:
    return [t.log_kind for t in event_types]


# The deliveries of the events in (after, upto] that the endpoint's filters let through.
_WRITE_DELIVERIES = """
INSERT INTO webhook_delivery
    (workspace_pk, endpoint_id, seq, kind, segment_id, segment_name, customer_id, occurred_at,
     status, attempts, next_attempt_at)
SELECT e.workspace_pk, CAST(:endpoint AS text), e.seq, e.kind, e.segment_id,
       coalesce(s.name, ''), e.customer_id, e.occurred_at, 'PENDING', 0, now()
FROM segment_event AS e
LEFT JOIN segment AS s ON s.pk = e.segment_pk
WHERE e.workspace_pk = :ws AND e.seq > :after AND e.seq <= :upto
  AND e.kind = ANY(CAST(:kinds AS text[]))
  AND (cardinality(CAST(:segments AS text[])) = 0 OR e.segment_id = ANY(CAST(:segments AS text[])))
ON CONFLICT (workspace_pk, endpoint_id, seq) DO UPDATE
    SET status = 'PENDING', attempts = 0, next_attempt_at = now(), last_error = NULL,
        last_status_code = NULL, delivered_at = NULL
"""


class WebhookRepository:
    """One workspace's endpoints and deliveries, as the API manages them."""

    def __init__(self, conn: AsyncConnection, workspace_pk: int) -> None:
        self.conn = conn
        self.workspace_pk = workspace_pk

    async def _one(self, sql: str, **params: Any) -> Any:
        result = await self.conn.execute(text(sql), {"ws": self.workspace_pk, **params})
        return result.first()

    async def create(
        self,
        endpoint_id: str,
        url: str,
        description: str | None,
        segment_ids: Sequence[str],
        event_types: Sequence[EventType],
        secret: str,
    ) -> Endpoint:
        """A new endpoint receives the events recorded from now on (replay sends older ones)."""
        row = await self._one(
            f"""
            INSERT INTO webhook_endpoint
                (workspace_pk, id, url, description, segment_ids, event_types, enabled, secret,
                 cursor_seq)
            SELECT :ws, :id, :url, :description, :segments, :types, true, :secret, w.event_seq
            FROM workspace AS w WHERE w.pk = :ws
            RETURNING {_ENDPOINT_COLUMNS}
            """,
            id=endpoint_id,
            url=url,
            description=description,
            segments=list(segment_ids),
            types=[t.value for t in event_types],
            secret=secret,
        )
        return _endpoint(row)

    async def all(self) -> list[Endpoint]:
        result = await self.conn.execute(
            text(
                f"SELECT {_ENDPOINT_COLUMNS} FROM webhook_endpoint WHERE workspace_pk = :ws"
                " ORDER BY created_at, id"
            ),
            {"ws": self.workspace_pk},
        )
        return [_endpoint(r) for r in result]

    async def get(self, endpoint_id: str, lock: bool = False) -> Endpoint | None:
        row = await self._one(
            f"SELECT {_ENDPOINT_COLUMNS} FROM webhook_endpoint WHERE workspace_pk = :ws"
            f" AND id = :id{' FOR UPDATE' if lock else ''}",
            id=endpoint_id,
        )
        return None if row is None else _endpoint(row)

    async def save(self, endpoint: Endpoint) -> None:
        """Stores what an update may change; enabling clears the reason and failure clock."""
        await self.conn.execute(
            text(
                """
                UPDATE webhook_endpoint
                SET url = :url, description = :description, segment_ids = :segments,
                    event_types = :types, enabled = :enabled,
                    disabled_reason = CASE WHEN :enabled THEN NULL ELSE disabled_reason END,
                    failing_since = CASE WHEN :enabled THEN NULL ELSE failing_since END,
                    secret = :secret, previous_secret = :previous,
                    previous_secret_until = :previous_until
                WHERE workspace_pk = :ws AND id = :id
                """
            ),
            {
                "ws": self.workspace_pk,
                "id": endpoint.id,
                "url": endpoint.url,
                "description": endpoint.description,
                "segments": endpoint.segment_ids,
                "types": [t.value for t in endpoint.event_types],
                "enabled": endpoint.enabled,
                "secret": endpoint.secret,
                "previous": endpoint.previous_secret,
                "previous_until": endpoint.previous_secret_until,
            },
        )

    async def delete(self, endpoint_id: str) -> bool:
        row = await self._one(
            "DELETE FROM webhook_endpoint WHERE workspace_pk = :ws AND id = :id RETURNING id",
            id=endpoint_id,
        )
        return row is not None

    async def deliveries(
        self, endpoint_id: str, status: DeliveryStatus | None, after_seq: int, limit: int
    ) -> list[Delivery]:
        """Oldest event first, strictly after `after_seq`."""
        result = await self.conn.execute(
            text(
                f"""
                SELECT {_DELIVERY_COLUMNS} FROM webhook_delivery
                WHERE workspace_pk = :ws AND endpoint_id = :endpoint AND seq > :after
                  AND (CAST(:status AS text) IS NULL OR status = CAST(:status AS text))
                ORDER BY seq LIMIT :limit
                """
            ),
            {
                "ws": self.workspace_pk,
                "endpoint": endpoint_id,
                "after": after_seq,
                "status": None if status is None else status.value,
                "limit": limit,
            },
        )
        return [_delivery(r) for r in result]

    async def retry(self, endpoint_id: str, seq: int) -> Delivery | None:
        """Due again at once, attempts counted afresh (a delivered one is sent again too)."""
        row = await self._one(
            f"""
            UPDATE webhook_delivery
            SET status = 'PENDING', attempts = 0, next_attempt_at = now(), delivered_at = NULL
            WHERE workspace_pk = :ws AND endpoint_id = :endpoint AND seq = :seq
            RETURNING {_DELIVERY_COLUMNS}
            """,
            endpoint=endpoint_id,
            seq=seq,
        )
        return None if row is None else _delivery(row)

    async def replay(self, endpoint: Endpoint, after_seq: int) -> int:
        """Deliveries, due now, for the kept events after `after_seq` up to the cursor."""
        cursor = await self._one(
            "SELECT cursor_seq FROM webhook_endpoint WHERE workspace_pk = :ws AND id = :id",
            id=endpoint.id,
        )
        result = await self.conn.execute(
            text(_WRITE_DELIVERIES),
            {
                "ws": self.workspace_pk,
                "endpoint": endpoint.id,
                "after": after_seq,
                "upto": cursor.cursor_seq,
                "kinds": _kinds(endpoint.event_types),
                "segments": endpoint.segment_ids,
            },
        )
        return int(result.rowcount or 0)


async def fan_out(conn: AsyncConnection, batch: int = 10_000) -> int:
    """Write deliveries for the events past each enabled endpoint's cursor; move the cursors.

    Endpoints another process is fanning out are skipped (SKIP LOCKED), not waited for.
    Call inside a transaction; the deliveries and cursors commit together.
    """
    endpoints = await conn.execute(
        text(
            """
            SELECT e.workspace_pk, e.id, e.cursor_seq, e.segment_ids, e.event_types,
                   least(w.event_seq, e.cursor_seq + :batch) AS upto
            FROM webhook_endpoint AS e JOIN workspace AS w ON w.pk = e.workspace_pk
            WHERE e.enabled AND e.cursor_seq < w.event_seq
            FOR UPDATE OF e SKIP LOCKED
            """
        ),
        {"batch": batch},
    )
    written = 0
    for ws, endpoint_id, cursor, segments, types, upto in endpoints.all():
        result = await conn.execute(
            text(_WRITE_DELIVERIES),
            {
                "ws": ws,
                "endpoint": endpoint_id,
                "after": cursor,
                "upto": upto,
                "kinds": _kinds([EventType(t) for t in types]),
                "segments": list(segments),
            },
        )
        written += int(result.rowcount or 0)
        await conn.execute(
            text(
                "UPDATE webhook_endpoint SET cursor_seq = :upto"
                " WHERE workspace_pk = :ws AND id = :id"
            ),
            {"ws": ws, "id": endpoint_id, "upto": upto},
        )
    return written


def _prefixed(columns: str, alias: str) -> str:
    return ", ".join(f"{alias}.{c.strip()}" for c in columns.split(","))


@dataclass(frozen=True)
class Claimed:
    """A delivery leased to this process, with where it goes and the keys to sign it."""

    workspace_pk: int
    delivery: Delivery
    url: str
    secrets: list[str]


_CLAIM = f"""
WITH heads AS (
    -- the oldest pending delivery of each (endpoint, customer): one pass over an index
    SELECT DISTINCT ON (workspace_pk, endpoint_id, customer_id) workspace_pk, endpoint_id, seq
    FROM webhook_delivery
    WHERE status = 'PENDING'
    ORDER BY workspace_pk, endpoint_id, customer_id, seq
), due AS (
    SELECT d.workspace_pk, d.endpoint_id, d.seq
    FROM heads
    JOIN webhook_delivery AS d
      ON d.workspace_pk = heads.workspace_pk AND d.endpoint_id = heads.endpoint_id
     AND d.seq = heads.seq
    JOIN webhook_endpoint AS e ON e.workspace_pk = d.workspace_pk AND e.id = d.endpoint_id
    WHERE d.status = 'PENDING' AND d.next_attempt_at <= now() AND e.enabled
    ORDER BY d.next_attempt_at, d.seq
    LIMIT :limit
    FOR UPDATE OF d SKIP LOCKED
), leased AS (
    UPDATE webhook_delivery AS d
    SET next_attempt_at = now() + make_interval(secs => CAST(:lease AS float8)),
        attempts = d.attempts + 1,
        last_attempt_at = now()
    FROM due
    WHERE d.workspace_pk = due.workspace_pk AND d.endpoint_id = due.endpoint_id
      AND d.seq = due.seq
    RETURNING d.workspace_pk, {_prefixed(_DELIVERY_COLUMNS, "d")}
)
SELECT leased.*, e.url, e.secret, e.previous_secret,
       CASE WHEN e.previous_secret_until > now() THEN e.previous_secret END AS still_previous
FROM leased
JOIN webhook_endpoint AS e ON e.workspace_pk = leased.workspace_pk AND e.id = leased.endpoint_id
ORDER BY leased.seq
"""


async def claim(conn: AsyncConnection, limit: int, lease_s: float) -> list[Claimed]:
    """Lease up to `limit` due deliveries to the caller (commit to make the lease hold)."""
    rows = await conn.execute(text(_CLAIM), {"limit": limit, "lease": lease_s})
    claimed = []
    for row in rows:
        keys = [row.secret] + ([row.still_previous] if row.still_previous else [])
        claimed.append(Claimed(row.workspace_pk, _delivery(row), row.url, keys))
    return claimed


async def record_success(conn: AsyncConnection, claimed: Claimed, status_code: int) -> None:
    d = claimed.delivery
    await conn.execute(
        text(
            """
            WITH done AS (
                UPDATE webhook_delivery
                SET status = 'DELIVERED', delivered_at = now(), last_status_code = :code,
                    last_error = NULL
                WHERE workspace_pk = :ws AND endpoint_id = :endpoint AND seq = :seq
            )
            UPDATE webhook_endpoint SET failing_since = NULL
            WHERE workspace_pk = :ws AND id = :endpoint AND failing_since IS NOT NULL
            """
        ),
        {"ws": claimed.workspace_pk, "endpoint": d.endpoint_id, "seq": d.seq, "code": status_code},
    )


async def record_failure(
    conn: AsyncConnection,
    claimed: Claimed,
    status_code: int | None,
    error: str,
    retry_in_s: float | None,
    disable_after_s: float,
) -> None:
    """A failed attempt: due again in `retry_in_s`, or given up (None).

    The endpoint's failure clock starts at its first failure since a success; past
    `disable_after_s` of failing the endpoint is disabled, with the reason on it.
    """
    d = claimed.delivery
    await conn.execute(
        text(
            """
            WITH failed AS (
                UPDATE webhook_delivery
                SET status = CASE WHEN CAST(:retry AS float8) IS NULL THEN 'FAILED'
                                  ELSE 'PENDING' END,
                    next_attempt_at = now()
                        + make_interval(secs => coalesce(CAST(:retry AS float8), 0)),
                    last_status_code = :code, last_error = :error
                WHERE workspace_pk = :ws AND endpoint_id = :endpoint AND seq = :seq
            )
            UPDATE webhook_endpoint
            SET failing_since = coalesce(failing_since, now()),
                enabled = enabled AND coalesce(failing_since, now())
                          > now() - make_interval(secs => CAST(:disable_after AS float8)),
                disabled_reason = CASE
                    WHEN coalesce(failing_since, now())
                         <= now() - make_interval(secs => CAST(:disable_after AS float8))
                    THEN 'Failing since ' || to_char(failing_since AT TIME ZONE 'UTC',
                         'YYYY-MM-DD"T"HH24:MI:SS"Z"') || '; last error: ' || CAST(:error AS text)
                    ELSE disabled_reason END
            WHERE workspace_pk = :ws AND id = :endpoint
            """
        ),
        {
            "ws": claimed.workspace_pk,
            "endpoint": d.endpoint_id,
            "seq": d.seq,
            "code": status_code,
            "error": error[:1000],
            "retry": retry_in_s,
            "disable_after": float(disable_after_s),
        },
    )
