"""The line of deliveries each (endpoint, customer) waits in.

Order per customer needs "only the oldest PENDING delivery of a customer may be
sent". Finding those heads by scanning every PENDING row on every claim made a
claim cost grow with the backlog (18 s per claim at 20,000 pending with stale
statistics), so the heads are kept instead:

- a PENDING delivery that waits behind an earlier one of its line has
  `next_attempt_at = 'infinity'`: it is in the due index but never due;
- the head of a line has a real `next_attempt_at` (now, a retry time, a lease);
- whoever ends a head (delivered, given up) or writes new deliveries calls
  `promote` for the lines it touched: the oldest PENDING delivery of each, if it
  waits, becomes due now.

A claim is then a range scan of the due index, whatever the backlog.

`promote` must not miss a delivery written concurrently (a head ending in one
transaction while another writes the line's next delivery would each see the
other's row as not yet there, and the line would wait for ever): both take the
endpoint's row lock first (`lock_endpoints`; fan-out holds it FOR UPDATE), so
they run one after the other and the later sees the earlier's rows.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

Line = tuple[int, str, str]
"""(workspace_pk, endpoint_id, customer_id)."""

# The deliveries of the events in (after, upto] that the endpoint's filters let through,
# each waiting in its line until `promote` makes it due. A replayed one is reset too, and
# its lease moved on: an attempt in flight when it was replayed no longer counts for it.
_WRITE = """
INSERT INTO webhook_delivery
    (workspace_pk, endpoint_id, seq, kind, segment_id, segment_name, customer_id, occurred_at,
     status, attempts, next_attempt_at)
SELECT e.workspace_pk, CAST(:endpoint AS text), e.seq, e.kind, e.segment_id,
       coalesce(s.name, ''), e.customer_id, e.occurred_at, 'PENDING', 0, 'infinity'
FROM segment_event AS e
LEFT JOIN segment AS s ON s.workspace_pk = e.workspace_pk AND s.pk = e.segment_pk
WHERE e.workspace_pk = :ws AND e.seq > :after AND e.seq <= :upto
  AND e.kind = ANY(CAST(:kinds AS text[]))
  AND (cardinality(CAST(:segments AS text[])) = 0 OR e.segment_id = ANY(CAST(:segments AS text[])))
ON CONFLICT (workspace_pk, endpoint_id, seq) DO UPDATE
    SET status = 'PENDING', attempts = 0, next_attempt_at = 'infinity', last_error = NULL,
        last_status_code = NULL, delivered_at = NULL, lease = webhook_delivery.lease + 1
RETURNING customer_id
"""

# The waiting heads are found first (an index probe a line), then updated by primary key
# alone: with a condition on next_attempt_at the planner may read the due index whole
# for every line instead (it did, with no statistics on a freshly filled table).
_PROMOTE = """
WITH heads AS MATERIALIZED (
    SELECT line.ws, line.endpoint_id, head.seq
    FROM (
        SELECT DISTINCT ws, endpoint_id, customer_id
        FROM unnest(CAST(:ws AS bigint[]), CAST(:endpoints AS text[]),
                    CAST(:customers AS text[])) AS l(ws, endpoint_id, customer_id)
    ) AS line
    CROSS JOIN LATERAL (
        SELECT x.seq, x.next_attempt_at FROM webhook_delivery AS x
        WHERE x.workspace_pk = line.ws AND x.endpoint_id = line.endpoint_id
          AND x.customer_id = line.customer_id AND x.status = 'PENDING'
        ORDER BY x.seq LIMIT 1
    ) AS head
    WHERE head.next_attempt_at = 'infinity'
)
UPDATE webhook_delivery AS d SET next_attempt_at = now()
FROM heads
WHERE d.workspace_pk = heads.ws AND d.endpoint_id = heads.endpoint_id AND d.seq = heads.seq
"""

# One line put right after a delivery was made PENDING out of turn (webhookDeliveryRetry):
# its oldest PENDING delivery is the only one with a real time.
_RELINE = """
WITH line AS (
    SELECT seq, next_attempt_at,
           row_number() OVER (ORDER BY seq) = 1 AS head
    FROM webhook_delivery
    WHERE workspace_pk = :ws AND endpoint_id = :endpoint AND customer_id = :customer
      AND status = 'PENDING'
)
UPDATE webhook_delivery AS d
SET next_attempt_at = CASE WHEN line.head THEN now() ELSE 'infinity' END
FROM line
WHERE d.workspace_pk = :ws AND d.endpoint_id = :endpoint AND d.seq = line.seq
  AND (line.head = (line.next_attempt_at = 'infinity'))
"""


async def lock_endpoints(conn: AsyncConnection, endpoints: Iterable[tuple[int, str]]) -> None:
    """The endpoints' row locks, in one order (no deadlock between two batches)."""
    keys = sorted(set(endpoints))
    if not keys:
        return
    await conn.execute(
        text(
            """
            SELECT 1 FROM webhook_endpoint AS e
            JOIN unnest(CAST(:ws AS bigint[]), CAST(:ids AS text[])) AS k(ws, id)
              ON e.workspace_pk = k.ws AND e.id = k.id
            ORDER BY e.workspace_pk, e.id
            FOR NO KEY UPDATE OF e
            """
        ),
        {"ws": [k[0] for k in keys], "ids": [k[1] for k in keys]},
    )


async def write_deliveries(
    conn: AsyncConnection,
    workspace_pk: int,
    endpoint_id: str,
    after: int,
    upto: int,
    kinds: Sequence[str],
    segment_ids: Sequence[str],
) -> int:
    """Deliveries for the endpoint's events in (after, upto], in line; the number written.

    The caller holds the endpoint's row lock.
    """
    result = await conn.execute(
        text(_WRITE),
        {
            "ws": workspace_pk,
            "endpoint": endpoint_id,
            "after": after,
            "upto": upto,
            "kinds": list(kinds),
            "segments": list(segment_ids),
        },
    )
    rows = result.all()
    customers = sorted({row.customer_id for row in rows})
    await promote(conn, [(workspace_pk, endpoint_id, c) for c in customers])
    return len(rows)


async def promote(conn: AsyncConnection, lines: Sequence[Line]) -> None:
    """The oldest PENDING delivery of each line, if it waits, is due now.

    The caller holds the lines' endpoints' row locks.
    """
    if not lines:
        return
    await conn.execute(
        text(_PROMOTE),
        {
            "ws": [line[0] for line in lines],
            "endpoints": [line[1] for line in lines],
            "customers": [line[2] for line in lines],
        },
    )


async def reline(conn: AsyncConnection, line: Line) -> None:
    """Only the oldest PENDING delivery of the line is due (now, if it was waiting)."""
    params: dict[str, Any] = {"ws": line[0], "endpoint": line[1], "customer": line[2]}
    await conn.execute(text(_RELINE), params)
