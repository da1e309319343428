"""Segments and the rules of their lifecycle.

STATIC: a fixed list, immutable predicate-wise. PASSIVE: a predicate, editable,
no events. ACTIVE: a passive segment some activating usage depends on; from
then on immutable (for good, even when the usage is detached) and tracked.
Names and descriptions stay editable on every kind.
"""

from __future__ import annotations

import enum
import os
import time
from dataclasses import dataclass, field
from datetime import datetime

from domain.errors import DomainError, ErrorCode

MAX_STATIC_MEMBERS = 20_000
MAX_NAME_LENGTH = 200
MAX_DESCRIPTION_LENGTH = 2_000
MAX_REFERENCE_LENGTH = 255


class SegmentKind(enum.Enum):
    STATIC = "STATIC"
    PASSIVE = "PASSIVE"
    ACTIVE = "ACTIVE"


class UsageKind(enum.Enum):
    LOYALTY_EARNING_RULE = "LOYALTY_EARNING_RULE"
    DISTRIBUTION = "DISTRIBUTION"
    REFERRAL_TIER = "REFERRAL_TIER"
    VALIDATION_RULE = "VALIDATION_RULE"
    PROMOTION = "PROMOTION"
    APPROVAL_WORKFLOW = "APPROVAL_WORKFLOW"
    DUNNING_POLICY = "DUNNING_POLICY"
    ANALYTICS = "ANALYTICS"

    @property
    def activates(self) -> bool:
        return self in ACTIVATING_USAGES


ACTIVATING_USAGES = frozenset(
    {UsageKind.LOYALTY_EARNING_RULE, UsageKind.DISTRIBUTION, UsageKind.REFERRAL_TIER}
)


class SnapshotSchedule(enum.Enum):
    ONCE = "ONCE"
    ONCE_A_DAY = "ONCE_A_DAY"
    ONCE_EVERY_OTHER_DAY = "ONCE_EVERY_OTHER_DAY"
    ONCE_A_WEEK = "ONCE_A_WEEK"


class SegmentBy(enum.Enum):
    CUSTOMER_ID = "CUSTOMER_ID"
    EMAIL = "EMAIL"


@dataclass(frozen=True)
class Usage:
    kind: UsageKind
    reference: str
    attached_at: datetime


@dataclass(frozen=True)
class Counted:
    """The segment's last full count, as stored with it (a cache for listings, never truth)."""

    member_count: int | None
    total_customers: int | None
    computed_at: datetime | None


@dataclass
class Segment:
    """A saved segment. `predicate` is the canonical JSON form (None for STATIC)."""

    pk: int | None
    id: str
    name: str
    description: str | None
    kind: SegmentKind
    predicate: dict[str, object] | None
    time_relative: bool
    created_at: datetime
    updated_at: datetime
    activated_at: datetime | None = None
    usages: list[Usage] = field(default_factory=list)
    schedule: SnapshotSchedule | None = None
    segment_by: SegmentBy = SegmentBy.CUSTOMER_ID
    predicate_text: str | None = None
    counted: Counted | None = None

    @property
    def editable(self) -> bool:
        return self.kind is SegmentKind.PASSIVE

    def update(
        self,
        now: datetime,
        *,
        name: str | None = None,
        description: str | None = None,
        clear_description: bool = False,
        predicate: dict[str, object] | None = None,
        predicate_text: str | None = None,
        time_relative: bool = False,
    ) -> None:
        """Apply an edit; only PASSIVE segments take a new predicate."""
        if predicate is not None and predicate != self.predicate:
            self.ensure_predicate_editable()
            self.predicate = predicate
            self.predicate_text = predicate_text
            self.time_relative = time_relative
        if name is not None:
            self.name = check_name(name)
        if clear_description:
            self.description = None
        elif description is not None:
            self.description = check_description(description)
        self.updated_at = now

    def ensure_predicate_editable(self) -> None:
        if not self.editable:
            raise DomainError(
                ErrorCode.SEGMENT_IMMUTABLE,
                f"A {self.kind.value} segment's predicate cannot change; "
                "only its name and description can.",
                ("input", "predicate"),
            )

    def attach(self, kind: UsageKind, reference: str, now: datetime) -> bool:
        """Record a usage; returns True when it turns this segment ACTIVE."""
        reference = check_reference(reference)
        if any(u.kind is kind and u.reference == reference for u in self.usages):
            return False
        if kind.activates and self.kind is SegmentKind.STATIC:
            raise DomainError(
                ErrorCode.SEGMENT_IMMUTABLE,
                f"A STATIC segment cannot be used by a {kind.value}: it cannot become active.",
                ("kind",),
            )
        self.usages.append(Usage(kind, reference, now))
        self.updated_at = now
        if kind.activates and self.kind is SegmentKind.PASSIVE:
            self.kind = SegmentKind.ACTIVE
            self.activated_at = now
            return True
        return False

    def detach(self, kind: UsageKind, reference: str, now: datetime) -> None:
        """Forget a usage. An ACTIVE segment stays ACTIVE."""
        kept = [u for u in self.usages if not (u.kind is kind and u.reference == reference)]
        if len(kept) == len(self.usages):
            raise DomainError(
                ErrorCode.NOT_FOUND,
                f"This segment has no {kind.value} usage {reference!r}.",
                ("reference",),
            )
        self.usages = kept
        self.updated_at = now

    def schedule_snapshots(
        self, schedule: SnapshotSchedule | None, segment_by: SegmentBy | None, now: datetime
    ) -> None:
        """Any kind may be snapshotted; `segment_by` omitted keeps the current identity."""
        self.schedule = schedule
        if segment_by is not None:
            self.segment_by = segment_by
        self.updated_at = now

    def ensure_deletable(self, referenced_by: list[str]) -> None:
        if self.usages:
            used = ", ".join(f"{u.kind.value} {u.reference}" for u in self.usages[:5])
            raise DomainError(
                ErrorCode.SEGMENT_IN_USE,
                f"The segment is in use ({used}); detach its usages first.",
                ("id",),
            )
        if referenced_by:
            raise DomainError(
                ErrorCode.SEGMENT_IN_USE,
                f"Other segments reference this one: {', '.join(sorted(referenced_by)[:5])}.",
                ("id",),
            )


def check_name(name: str) -> str:
    cleaned = name.strip()
    if not cleaned:
        raise DomainError(ErrorCode.REQUIRED, "A segment needs a name.", ("input", "name"))
    if len(cleaned) > MAX_NAME_LENGTH:
        raise DomainError(
            ErrorCode.TOO_LONG,
            f"A name has at most {MAX_NAME_LENGTH} characters.",
            ("input", "name"),
        )
    return cleaned


def check_description(description: str) -> str:
    if len(description) > MAX_DESCRIPTION_LENGTH:
        raise DomainError(
            ErrorCode.TOO_LONG,
            f"A description has at most {MAX_DESCRIPTION_LENGTH} characters.",
            ("input", "description"),
        )
    return description


def check_reference(reference: str) -> str:
    if not reference.strip() or len(reference) > MAX_REFERENCE_LENGTH:
        raise DomainError(
            ErrorCode.INVALID,
            f"A usage reference is 1..{MAX_REFERENCE_LENGTH} characters.",
            ("reference",),
        )
    return reference


def check_static_size(count: int, path: tuple[str, ...]) -> None:
    if count > MAX_STATIC_MEMBERS:
        raise DomainError(
            ErrorCode.SEGMENT_TOO_LARGE,
            f"A static segment holds at most {MAX_STATIC_MEMBERS} customers (this one: {count}).",
            path,
        )
    if count == 0:
        raise DomainError(ErrorCode.TOO_FEW, "A static segment needs at least one customer.", path)


_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def new_segment_id(now_ms: int | None = None) -> str:
    """`seg_` + a ULID: 48 bits of milliseconds, 80 random bits, so ids sort by creation."""
    return sortable_id("seg_", now_ms)


def sortable_id(prefix: str, now_ms: int | None = None) -> str:
    """`prefix` + a ULID (server-made ids of segments, import jobs...)."""
    millis = int(time.time() * 1000) if now_ms is None else now_ms
    value = (millis << 80) | int.from_bytes(os.urandom(10), "big")
    chars = []
    for _ in range(26):
        chars.append(_CROCKFORD[value & 31])
        value >>= 5
    return prefix + "".join(reversed(chars))
