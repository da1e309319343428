"""Webhook endpoints and their deliveries, written from the durable event log.

How events become deliveries (docs/webhooks.md tells why):

- each endpoint keeps a cursor into its workspace's event log; `fan_out` reads
  the events after it, writes one delivery row per matching event, and moves
  the cursor, all in one transaction, so an event is written exactly once
  whatever crashes (seq numbers commit in order: persistence.tables.SegmentEvent);
- `claim` hands out due deliveries under FOR UPDATE SKIP LOCKED and leases them
  (next_attempt_at moves past the request timeout), so one process at a time
  tries a delivery, and a process that dies mid-request leaves it to be retried;
- only the oldest pending delivery of each (endpoint, customer) is ever due
  (persistence.webhook_lines keeps the others waiting): order per customer
  holds under retries;
- `record` stores a sent batch's outcomes in a few statements, whatever its size, each
  only under the lease it was claimed with (a retry or replay of a delivery in flight
  moves the lease on: the re-send, not the attempt it overtook, ends the delivery).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from domain.records import Page
from domain.webhook import Delivery, DeliveryStatus, Endpoint, EventType
from persistence import cursors
from persistence.cursors import Slice
from persistence.webhook_lines import Line, lock_endpoints, promote, reline, write_deliveries

WEBHOOKS_CHANNEL = "segmentql_webhooks"
"""Notified when deliveries become due other than by new events (a retry, a replay, an
endpoint enabled again), so that every process's sender looks at once (api.live)."""

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


def encode_endpoint_cursor(endpoint: Endpoint) -> str:
    return cursors.encode("we", f"{endpoint.created_at.isoformat()} {endpoint.id}")


def decode_endpoint_cursor(cursor: str) -> tuple[datetime, str] | None:
    """The (created_at, id) an endpoint cursor holds, or None for anything else."""
    key = cursors.decode("we", cursor)
    created, _, endpoint_id = (key or "").partition(" ")
    try:
        at = datetime.fromisoformat(created)
    except ValueError:
        return None
    return (at, endpoint_id) if endpoint_id and at.tzinfo is not None else None


def _delivery(row: Any) -> Delivery:
    m = row._mapping
    # 'infinity' (a delivery waiting in its line) arrives as the naive datetime.max
    waiting = m["next_attempt_at"] == datetime.max
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
        next_attempt_at=None if m["status"] != "PENDING" or waiting else m["next_attempt_at"],
        last_status_code=m["last_status_code"],
        last_error=m["last_error"],
        last_attempt_at=m["last_attempt_at"],
        delivered_at=m["delivered_at"],
    )


def _kinds(event_types: Sequence[EventType]) -> list[str]:
    return [t.log_kind for t in event_types]


class WebhookRepository:
    """One workspace's endpoints and deliveries, as the API manages them."""

    def __init__(self, conn: AsyncConnection, workspace_pk: int) -> None:
        self.conn = conn
        self.workspace_pk = workspace_pk

    async def wake_senders(self) -> None:
        """Senders in every process look for due deliveries once this transaction commits."""
        notify = text("SELECT pg_notify(:channel, '')")
        await self.conn.execute(notify, {"channel": WEBHOOKS_CHANNEL})

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

    async def page(self, window: Slice[tuple[datetime, str]]) -> Page[Endpoint]:
        """A keyset page of the endpoints, oldest first (by created_at, then id)."""
        conditions = ["workspace_pk = :ws"]
        params: dict[str, Any] = {"ws": self.workspace_pk, "limit": window.limit}
        for name, key, op in (("after", window.after, ">"), ("before", window.before, "<")):
            if key is not None:
                conditions.append(f"(created_at, id) {op} (:{name}_at, :{name}_id)")
                params[f"{name}_at"], params[f"{name}_id"] = key
        direction = "DESC" if window.backward else "ASC"
        result = await self.conn.execute(
            text(
                f"SELECT {_ENDPOINT_COLUMNS} FROM webhook_endpoint"
                f" WHERE {' AND '.join(conditions)}"
                f" ORDER BY created_at {direction}, id {direction} LIMIT :limit"
            ),
            params,
        )
        rows, has_next, has_previous = window.cut(list(result))
        items = [_endpoint(r) for r in rows]
        keys = [encode_endpoint_cursor(e) for e in items]
        return Page(items, has_next, keys, has_previous)

    async def count(self) -> int:
        result = await self.conn.execute(
            text("SELECT count(*) FROM webhook_endpoint WHERE workspace_pk = :ws"),
            {"ws": self.workspace_pk},
        )
        return int(result.scalar_one())

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
        """Due again at once, attempts counted afresh (a delivered one is sent again too),
        unless an earlier delivery of its customer is pending: then after that one."""
        await lock_endpoints(self.conn, [(self.workspace_pk, endpoint_id)])
        row = await self._one(
            f"""
            UPDATE webhook_delivery
            SET status = 'PENDING', attempts = 0, next_attempt_at = now(), delivered_at = NULL,
                lease = lease + 1
            WHERE workspace_pk = :ws AND endpoint_id = :endpoint AND seq = :seq
            RETURNING {_DELIVERY_COLUMNS}
            """,
            endpoint=endpoint_id,
            seq=seq,
        )
        if row is None:
            return None
        await reline(self.conn, (self.workspace_pk, endpoint_id, row.customer_id))
        again = await self._one(
            f"SELECT {_DELIVERY_COLUMNS} FROM webhook_delivery"
            " WHERE workspace_pk = :ws AND endpoint_id = :endpoint AND seq = :seq",
            endpoint=endpoint_id,
            seq=seq,
        )
        return _delivery(again)

    async def replay(self, endpoint: Endpoint, after_seq: int) -> int:
        """Deliveries for the kept events after `after_seq` up to the cursor, in line.

        The caller holds the endpoint's row lock (`get(..., lock=True)`).
        """
        cursor = await self._one(
            "SELECT cursor_seq FROM webhook_endpoint WHERE workspace_pk = :ws AND id = :id",
            id=endpoint.id,
        )
        return await write_deliveries(
            self.conn,
            self.workspace_pk,
            endpoint.id,
            after_seq,
            cursor.cursor_seq,
            _kinds(endpoint.event_types),
            endpoint.segment_ids,
        )


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
        kinds = _kinds([EventType(t) for t in types])
        written += await write_deliveries(conn, ws, endpoint_id, cursor, upto, kinds, segments)
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
    lease: int


_CLAIM = f"""
WITH due AS (
    -- only heads of lines have a time that comes (persistence.webhook_lines): a range scan
    SELECT d.workspace_pk, d.endpoint_id, d.seq
    FROM webhook_delivery AS d
    JOIN webhook_endpoint AS e ON e.workspace_pk = d.workspace_pk AND e.id = d.endpoint_id
    WHERE d.status = 'PENDING' AND d.next_attempt_at <= now() AND e.enabled
    ORDER BY d.next_attempt_at
    LIMIT :limit
    FOR UPDATE OF d SKIP LOCKED
), leased AS (
    UPDATE webhook_delivery AS d
    SET next_attempt_at = now() + make_interval(secs => CAST(:lease AS float8)),
        attempts = d.attempts + 1,
        last_attempt_at = now(),
        lease = d.lease + 1
    FROM due
    WHERE d.workspace_pk = due.workspace_pk AND d.endpoint_id = due.endpoint_id
      AND d.seq = due.seq
    RETURNING d.workspace_pk, d.lease, {_prefixed(_DELIVERY_COLUMNS, "d")}
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
        claimed.append(Claimed(row.workspace_pk, _delivery(row), row.url, keys, row.lease))
    return claimed


@dataclass(frozen=True)
class Outcome:
    """What became of one attempt: delivered (no error), or failed and due again in
    `retry_in_s` seconds, or given up (`retry_in_s` None)."""

    claimed: Claimed
    status_code: int | None
    error: str | None
    retry_in_s: float | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def status(self) -> DeliveryStatus:
        if self.ok:
            return DeliveryStatus.DELIVERED
        return DeliveryStatus.FAILED if self.retry_in_s is None else DeliveryStatus.PENDING


# Only under the lease the attempt was claimed with: a delivery retried or replayed while
# in flight is due again for a fresh send, which this attempt's outcome must not end (it
# would let the customer's next delivery go before the re-send). A delivery demoted while
# in flight (a retry or replay put an earlier one first) keeps waiting in its line rather
# than getting a retry time of its own.
_RECORD_DELIVERIES = """
UPDATE webhook_delivery AS d
SET status = o.status,
    delivered_at = CASE WHEN o.status = 'DELIVERED' THEN now() END,
    last_status_code = o.code,
    last_error = o.error,
    next_attempt_at = CASE
        WHEN o.status <> 'PENDING' OR d.next_attempt_at = 'infinity' THEN d.next_attempt_at
        ELSE now() + make_interval(secs => o.retry) END
FROM unnest(CAST(:ws AS bigint[]), CAST(:endpoints AS text[]), CAST(:seqs AS bigint[]),
            CAST(:statuses AS text[]), CAST(:codes AS int[]), CAST(:errors AS text[]),
            CAST(:retries AS float8[]), CAST(:leases AS bigint[]))
     AS o(ws, endpoint_id, seq, status, code, error, retry, lease)
WHERE d.workspace_pk = o.ws AND d.endpoint_id = o.endpoint_id AND d.seq = o.seq
  AND d.lease = o.lease
RETURNING d.workspace_pk, d.endpoint_id, d.seq
"""

# An endpoint with a success in the batch is not failing; one with only failures starts
# (or keeps) its failure clock, and past `disable_after` of failing is disabled.
_RECORD_ENDPOINTS = """
UPDATE webhook_endpoint AS e
SET failing_since = CASE WHEN o.ok THEN NULL ELSE coalesce(e.failing_since, now()) END,
    enabled = e.enabled AND (o.ok OR coalesce(e.failing_since, now())
                             > now() - make_interval(secs => CAST(:disable_after AS float8))),
    disabled_reason = CASE
        WHEN NOT o.ok AND coalesce(e.failing_since, now())
             <= now() - make_interval(secs => CAST(:disable_after AS float8))
        THEN 'Failing since ' || to_char(coalesce(e.failing_since, now()) AT TIME ZONE 'UTC',
             'YYYY-MM-DD"T"HH24:MI:SS"Z"') || '; last error: ' || o.error
        ELSE e.disabled_reason END
FROM unnest(CAST(:ws AS bigint[]), CAST(:endpoints AS text[]), CAST(:oks AS boolean[]),
            CAST(:errors AS text[]))
     AS o(ws, endpoint_id, ok, error)
WHERE e.workspace_pk = o.ws AND e.id = o.endpoint_id
  AND (NOT o.ok OR e.failing_since IS NOT NULL)
"""


async def record(
    conn: AsyncConnection, outcomes: Sequence[Outcome], disable_after_s: float
) -> None:
    """Store a batch's outcomes and let each ended delivery's successor go (call in a
    transaction: a crash before it commits sends the batch again after the lease)."""
    if not outcomes:
        return
    await lock_endpoints(
        conn, {(o.claimed.workspace_pk, o.claimed.delivery.endpoint_id) for o in outcomes}
    )
    stored = await conn.execute(
        text(_RECORD_DELIVERIES),
        {
            "ws": [o.claimed.workspace_pk for o in outcomes],
            "endpoints": [o.claimed.delivery.endpoint_id for o in outcomes],
            "seqs": [o.claimed.delivery.seq for o in outcomes],
            "statuses": [o.status.value for o in outcomes],
            "codes": [o.status_code for o in outcomes],
            "errors": [None if o.error is None else o.error[:1000] for o in outcomes],
            "retries": [o.retry_in_s for o in outcomes],
            "leases": [o.claimed.lease for o in outcomes],
        },
    )
    current = {(r.workspace_pk, r.endpoint_id, r.seq) for r in stored}
    endpoints: dict[tuple[int, str], tuple[bool, str]] = {}
    for o in outcomes:
        key = (o.claimed.workspace_pk, o.claimed.delivery.endpoint_id)
        ok, error = endpoints.get(key, (False, ""))
        endpoints[key] = (ok or o.ok, error if o.ok else (o.error or "failed")[:1000])
    await conn.execute(
        text(_RECORD_ENDPOINTS),
        {
            "ws": [k[0] for k in endpoints],
            "endpoints": [k[1] for k in endpoints],
            "oks": [v[0] for v in endpoints.values()],
            "errors": [v[1] for v in endpoints.values()],
            "disable_after": float(disable_after_s),
        },
    )
    ended: list[Line] = [
        (o.claimed.workspace_pk, o.claimed.delivery.endpoint_id, o.claimed.delivery.customer_id)
        for o in outcomes
        if o.status is not DeliveryStatus.PENDING
        and (o.claimed.workspace_pk, o.claimed.delivery.endpoint_id, o.claimed.delivery.seq)
        in current
    ]
    await promote(conn, ended)
