"""Snapshots ("instances") of segments: when they are due, and what they are called."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from domain.segment import SegmentBy, SnapshotSchedule

PERIODS: dict[SnapshotSchedule, timedelta | None] = {
    SnapshotSchedule.ONCE: None,
    SnapshotSchedule.ONCE_A_DAY: timedelta(days=1),
    SnapshotSchedule.ONCE_EVERY_OTHER_DAY: timedelta(days=2),
    SnapshotSchedule.ONCE_A_WEEK: timedelta(weeks=1),
}


def first_due(schedule: SnapshotSchedule | None, now: datetime) -> datetime | None:
    """Setting a schedule makes the first snapshot due at once; clearing it stops them."""
    return now if schedule is not None else None


def next_due(schedule: SnapshotSchedule | None, taken_at: datetime) -> datetime | None:
    """After a scheduled run, the next one is a period after *this run*.

    Runs missed while the service was down are not made up one by one: the
    scheduler takes one snapshot when it comes back and counts the period from
    there. ONCE has no next run.
    """
    if schedule is None:
        return None
    period = PERIODS[schedule]
    return taken_at + period if period is not None else None


def instance_id(segment_id: str, taken_at: datetime, same_day_index: int) -> str:
    """`seg_..._2026_11_22`, then `_2`, `_3`... for further runs on the same UTC day."""
    day = taken_at.astimezone(UTC).strftime("%Y_%m_%d")
    base = f"{segment_id}_{day}"
    return base if same_day_index <= 1 else f"{base}_{same_day_index}"


@dataclass(frozen=True)
class Instance:
    pk: int
    id: str
    segment_id: str
    segment_name: str
    segment_created_at: datetime
    schedule: SnapshotSchedule | None
    segment_by: SegmentBy
    created_at: datetime
    window_start: datetime
    num_customers: int
    num_orders: int
    total_revenue: Decimal


@dataclass(frozen=True)
class InstanceRow:
    """One member of one instance, flat, for analytics joins."""

    instance: Instance
    customer_id: str
    email: str | None

    @property
    def identity(self) -> str:
        if self.instance.segment_by is SegmentBy.EMAIL:
            return self.email or ""
        return self.customer_id
