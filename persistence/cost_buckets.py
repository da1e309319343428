"""Per-key leaky buckets of query cost points, kept in PostgreSQL.

One statement charges a bucket: it refills what the time since the last charge
restores (by the database's clock, so every process of the service agrees),
takes the cost if that much is available, and says whether it did. Processes
share the row, so N of them never grant N times the rate.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import BigInteger, Float, bindparam, text
from sqlalchemy.ext.asyncio import AsyncConnection

_REFILLED = "least(:size, b.available + :rate * extract(epoch FROM now() - b.updated_at))"
_CHARGE = text(
    f"""
    INSERT INTO cost_bucket AS b (workspace_pk, key_pk, available, refused, updated_at)
    VALUES (:workspace_pk, :key_pk,
            CASE WHEN :cost <= :size THEN :size - :cost ELSE :size END,
            :cost > :size, now())
    ON CONFLICT (workspace_pk, key_pk) DO UPDATE SET
        available = CASE WHEN {_REFILLED} >= :cost THEN {_REFILLED} - :cost ELSE {_REFILLED} END,
        refused = {_REFILLED} < :cost,
        updated_at = now()
    RETURNING available, refused
    """
).bindparams(
    bindparam("workspace_pk", type_=BigInteger),
    bindparam("key_pk", type_=BigInteger),
    *(bindparam(name, type_=Float) for name in ("cost", "size", "rate")),
)


@dataclass(frozen=True)
class Charge:
    granted: bool
    available: float
    """Points left in the bucket after the charge (or, refused, before it)."""


async def charge(
    conn: AsyncConnection, workspace_pk: int, key_pk: int, cost: int, size: int, rate: float
) -> Charge:
    """Take `cost` points from the key's bucket (`size` points, refilled at `rate` a second)."""
    row = (
        await conn.execute(
            _CHARGE,
            {
                "workspace_pk": workspace_pk,
                "key_pk": key_pk,
                "cost": float(cost),
                "size": float(size),
                "rate": float(rate),
            },
        )
    ).one()
    return Charge(granted=not row.refused, available=float(row.available))


_REFUND = text(
    f"""
    UPDATE cost_bucket AS b SET
        available = least(:size, {_REFILLED} + :points),
        updated_at = now()
    WHERE b.workspace_pk = :workspace_pk AND b.key_pk = :key_pk
    RETURNING available
    """
).bindparams(
    bindparam("workspace_pk", type_=BigInteger),
    bindparam("key_pk", type_=BigInteger),
    *(bindparam(name, type_=Float) for name in ("points", "size", "rate")),
)


async def refund(
    conn: AsyncConnection,
    workspace_pk: int,
    key_pk: int,
    points: int,
    size: int,
    rate: float,
) -> float | None:
    """Give `points` back to the key's bucket (what a query was charged beyond what it
    cost), never over `size`; returns the points available after, None without a bucket."""
    row = (
        await conn.execute(
            _REFUND,
            {
                "workspace_pk": workspace_pk,
                "key_pk": key_pk,
                "points": float(points),
                "size": float(size),
                "rate": float(rate),
            },
        )
    ).one_or_none()
    return None if row is None else float(row.available)
