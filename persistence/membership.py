"""Stored membership of ACTIVE segments, kept equal to live evaluation, with an event per change.

Exactly once, in the writer's transaction:

* Every customer writer takes the workspace's *shared* advisory lock (the
  gate) before it locks a customer row; an activation takes it *exclusively*,
  so a baseline is never computed while a write it cannot see is in flight,
  and no write misses a new ACTIVE segment.
* Whoever records transitions (a writer, the sweeper, an activation-time
  resync) first locks the workspace row (`event_seq`), then compares live
  evaluation with stored membership in one statement, applies the difference
  and numbers the events from `event_seq`. The lock makes those steps
  serial per workspace, so stored membership never drifts from what was
  emitted, and event numbers commit in order.

Lock order, to stay deadlock-free: gate, then customer rows, then the
workspace row. Nothing waits for a customer row while holding the workspace
row: the row is locked FOR NO KEY UPDATE (writers already hold KEY SHARE on
it through foreign keys), and a recorder about to insert a membership row for
a customer another transaction holds leaves that customer to it (see
`_unlocked`).
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Integer,
    String,
    and_,
    any_,
    delete,
    func,
    literal,
    select,
    text,
    union_all,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY, array, insert
from sqlalchemy.ext.asyncio import AsyncConnection

from persistence.field_map import customer_table
from persistence.tables import Segment as SegmentRow
from persistence.tables import SegmentEvent, SegmentMember, Workspace

c = customer_table
member_table = SegmentMember.__table__  # type: ignore[attr-defined]
event_table = SegmentEvent.__table__  # type: ignore[attr-defined]
workspace_table = Workspace.__table__  # type: ignore[attr-defined]
segment_table = SegmentRow.__table__  # type: ignore[attr-defined]

EVENTS_CHANNEL = "segmentql_events"
ENTERED = "ENTERED"
LEFT = "LEFT"


def gate_key(workspace_pk: int) -> int:
    """The advisory-lock key of a workspace's write gate (stable across processes)."""
    return (zlib.crc32(b"segmentql-gate") << 20) ^ workspace_pk


@dataclass(frozen=True)
class Tracked:
    """An ACTIVE segment and its live membership condition at this instant."""

    pk: int
    id: str
    condition: ColumnElement[bool]


@dataclass(frozen=True)
class Transition:
    seq: int
    kind: str
    segment_pk: int
    segment_id: str
    customer_pk: int
    customer_id: str


class MembershipLog:
    def __init__(self, conn: AsyncConnection, workspace_pk: int) -> None:
        self.conn = conn
        self.workspace_pk = workspace_pk

    async def enter_as_writer(self) -> None:
        await self.conn.execute(
            text("SELECT pg_advisory_xact_lock_shared(:k)"), {"k": gate_key(self.workspace_pk)}
        )

    async def lock_customers(self, customer_ids: Sequence[str]) -> dict[str, int]:
        """Lock the existing customers among `customer_ids` (about to be deleted): id -> pk.

        Taken after the gate but before the workspace row, in id order like an
        upsert's own locks: waiting for a customer row while holding the workspace
        row deadlocks with a writer holding that customer and waiting for the row.
        """
        if not customer_ids:
            return {}
        rows = await self.conn.execute(
            select(c.c.id, c.c.pk)
            .where(c.c.workspace_pk == self.workspace_pk, c.c.id.in_(sorted(set(customer_ids))))
            .order_by(c.c.id)
            .with_for_update()
        )
        return {r.id: int(r.pk) for r in rows}

    async def enter_exclusively(self) -> None:
        await self.conn.execute(
            text("SELECT pg_advisory_xact_lock(:k)"), {"k": gate_key(self.workspace_pk)}
        )

    async def _lock_sequence(self) -> int:
        """Lock the workspace row, serialising recorders; returns the last event number.

        NO KEY UPDATE, not UPDATE: the writer already holds KEY SHARE on this row
        from the foreign keys of the rows it inserted (customers, orders), and two
        writers upgrading KEY SHARE to UPDATE deadlock on each other.
        """
        result = await self.conn.execute(
            select(workspace_table.c.event_seq)
            .where(workspace_table.c.pk == self.workspace_pk)
            .with_for_update(key_share=True)
        )
        return int(result.scalar_one())

    async def reconcile(
        self,
        tracked_at: Callable[[datetime], Sequence[Tracked]],
        customer_pks: Sequence[int] | None,
        clock: Callable[[], datetime],
    ) -> list[Transition]:
        """Make stored membership equal live membership; returns the transitions recorded.

        The conditions are compiled for the instant read *after* the lock is
        held, so two recorders never judge with clocks out of order.
        `customer_pks` limits the comparison to those customers (a write); None
        compares the whole workspace (the sweeper, a resync).
        """
        base = await self._lock_sequence()
        now = clock()
        tracked = tracked_at(now)
        if not tracked:
            return []
        changes = await self._diff(tracked, customer_pks)
        if not changes:
            return []
        return await self._apply(changes, base, now)

    async def _diff(
        self, tracked: Sequence[Tracked], customer_pks: Sequence[int] | None
    ) -> list[tuple[str, int, int]]:
        """(kind, segment pk, customer pk) for every difference, all segments in one statement."""
        mine = [c.c.workspace_pk == self.workspace_pk]
        if customer_pks is not None:
            mine.append(c.c.pk.in_(list(customer_pks)))
        live = union_all(
            *(
                select(
                    literal(t.pk, BigInteger).label("segment_pk"), c.c.pk.label("customer_pk")
                ).where(*mine, t.condition)
                for t in tracked
            )
        ).cte("live")
        stored_filter = [member_table.c.segment_pk.in_([t.pk for t in tracked])]
        if customer_pks is not None:
            stored_filter.append(member_table.c.customer_pk.in_(list(customer_pks)))
        stored = (
            select(member_table.c.segment_pk, member_table.c.customer_pk)
            .where(*stored_filter)
            .cte("stored")
        )
        entered = select(
            literal(ENTERED, String).label("kind"), live.c.segment_pk, live.c.customer_pk
        ).except_(select(literal(ENTERED, String), stored.c.segment_pk, stored.c.customer_pk))
        left = select(
            literal(LEFT, String).label("kind"), stored.c.segment_pk, stored.c.customer_pk
        ).except_(select(literal(LEFT, String), live.c.segment_pk, live.c.customer_pk))
        rows = await self.conn.execute(union_all(entered, left))
        return sorted((r[0], int(r[1]), int(r[2])) for r in rows)

    async def _apply(
        self, changes: list[tuple[str, int, int]], base: int, now: datetime
    ) -> list[Transition]:
        free = await self._unlocked({cu for kind, _, cu in changes if kind == ENTERED})
        changes = [ch for ch in changes if ch[0] == LEFT or ch[2] in free]
        if not changes:
            return []
        entered = [(s, cu) for kind, s, cu in changes if kind == ENTERED]
        left = [(s, cu) for kind, s, cu in changes if kind == LEFT]
        if entered:
            await self.conn.execute(
                insert(member_table).on_conflict_do_nothing(),
                [{"segment_pk": s, "customer_pk": cu} for s, cu in entered],
            )
        if left:
            gone = select(
                func.unnest(literal([s for s, _ in left], ARRAY(BigInteger))).label("s"),
                func.unnest(literal([cu for _, cu in left], ARRAY(BigInteger))).label("cu"),
            ).subquery("gone")
            await self.conn.execute(
                delete(member_table).where(
                    member_table.c.segment_pk == gone.c.s, member_table.c.customer_pk == gone.c.cu
                )
            )
        return await self._record(changes, base, now)

    async def _unlocked(self, customer_pks: set[int]) -> set[int]:
        """The customers a membership row may reference now without waiting.

        Inserting a segment_member row takes KEY SHARE on its customer (the
        foreign key). Waiting for it while holding the workspace row deadlocks
        with a writer that holds the customer and waits for the workspace row, so
        a customer another transaction has locked is skipped: that transaction
        is writing or deleting it and reconciles it itself at its turn (the
        sweeper, a later write, catches up if it rolls back instead).
        """
        if not customer_pks:
            return set()
        rows = await self.conn.execute(
            select(c.c.pk)
            .where(c.c.pk == any_(literal(sorted(customer_pks), ARRAY(BigInteger))))
            .with_for_update(read=True, key_share=True, skip_locked=True)
        )
        return {int(r.pk) for r in rows}

    async def _record(
        self, changes: list[tuple[str, int, int]], base: int, now: datetime
    ) -> list[Transition]:
        """Number and store the events, bump counters, and notify listeners at commit."""
        names = await self._names({s for _, s, _ in changes}, {cu for _, _, cu in changes})
        transitions = [
            Transition(base + i + 1, kind, s, names[0][s], cu, names[1][cu])
            for i, (kind, s, cu) in enumerate(changes)
        ]
        await self.conn.execute(
            # executemany: batched under the driver's parameter limit, however many events
            insert(event_table),
            [
                {
                    "workspace_pk": self.workspace_pk,
                    "seq": t.seq,
                    "segment_pk": t.segment_pk,
                    "segment_id": t.segment_id,
                    "customer_pk": t.customer_pk,
                    "customer_id": t.customer_id,
                    "kind": t.kind,
                    "occurred_at": now,
                }
                for t in transitions
            ],
        )
        last = transitions[-1].seq
        await self.conn.execute(
            update(workspace_table)
            .where(workspace_table.c.pk == self.workspace_pk)
            .values(event_seq=last)
        )
        await self._bump_counts(transitions)
        await self.conn.execute(
            select(func.pg_notify(EVENTS_CHANNEL, f"{self.workspace_pk}:{last}"))
        )
        return transitions

    async def _names(
        self, segment_pks: set[int], customer_pks: set[int]
    ) -> tuple[dict[int, str], dict[int, str]]:
        segs = await self.conn.execute(
            select(segment_table.c.pk, segment_table.c.id).where(
                segment_table.c.pk.in_(sorted(segment_pks))
            )
        )
        custs = await self.conn.execute(
            select(c.c.pk, c.c.id).where(
                c.c.pk == any_(literal(sorted(customer_pks), ARRAY(BigInteger)))
            )
        )
        return {r.pk: r.id for r in segs}, {r.pk: r.id for r in custs}

    async def _bump_counts(self, transitions: list[Transition]) -> None:
        delta: dict[int, int] = {}
        for t in transitions:
            delta[t.segment_pk] = delta.get(t.segment_pk, 0) + (1 if t.kind == ENTERED else -1)
        changed = {pk: d for pk, d in delta.items() if d}
        if not changed:
            return
        pks = array(list(changed), type_=BigInteger)
        deltas = array(list(changed.values()), type_=Integer)
        moves = select(func.unnest(pks).label("pk"), func.unnest(deltas).label("delta")).subquery(
            "moves"
        )
        await self.conn.execute(
            update(segment_table)
            .where(segment_table.c.pk == moves.c.pk)
            .values(member_count=func.coalesce(segment_table.c.member_count, 0) + moves.c.delta)
        )

    async def remove_customers(
        self,
        tracked_pks: Sequence[int],
        customer_pks: Sequence[int],
        clock: Callable[[], datetime],
    ) -> list[Transition]:
        """Customers about to be deleted leave every ACTIVE segment they were in."""
        if not tracked_pks or not customer_pks:
            return []
        base = await self._lock_sequence()
        now = clock()  # read under the lock, like reconcile: occurredAt follows the ids
        rows = await self.conn.execute(
            delete(member_table)
            .where(
                and_(
                    member_table.c.segment_pk.in_(list(tracked_pks)),
                    member_table.c.customer_pk.in_(list(customer_pks)),
                )
            )
            .returning(member_table.c.segment_pk, member_table.c.customer_pk)
        )
        changes = sorted((LEFT, int(r.segment_pk), int(r.customer_pk)) for r in rows)
        if not changes:
            return []
        return await self._record(changes, base, now)

    async def set_baseline(self, segment_pk: int, count: int) -> None:
        await self.conn.execute(
            update(segment_table).where(segment_table.c.pk == segment_pk).values(member_count=count)
        )
