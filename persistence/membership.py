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
  emitted, and event numbers commit in order. (The sweeper first looks for
  differences without the lock, then compares again, under it, only the
  customers it found: see `MembershipLog.sweep`.)

Lock order, to stay deadlock-free: gate, then customer rows, then the
workspace row. Nothing waits for a customer row while holding the workspace
row: the row is locked FOR NO KEY UPDATE (writers already hold KEY SHARE on
it through foreign keys), and a recorder about to insert a membership row for
a customer another transaction holds leaves that customer to it (see
`_unlocked`).
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    String,
    and_,
    any_,
    bindparam,
    case,
    delete,
    exists,
    func,
    literal,
    null,
    or_,
    select,
    text,
    union_all,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY, array
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql import operators
from sqlalchemy.sql.elements import BooleanClauseList

from domain.segment import SegmentKind
from persistence import boundaries, driver
from persistence.array_params import among_pks
from persistence.count_forms import for_few_customers
from persistence.definitions import version_of
from persistence.driver import Compiled
from persistence.evaluation import reads_other_rows
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


async def active_definitions_version(conn: AsyncConnection, workspace_pk: int) -> int | None:
    """The workspace's definitions version (persistence.definitions), or None when no
    segment is ACTIVE, in one statement."""
    query = select(
        exists().where(
            segment_table.c.workspace_pk == workspace_pk,
            segment_table.c.kind == SegmentKind.ACTIVE.value,
        ),
        version_of(workspace_pk),
    )
    active, version = (await conn.execute(query)).one()
    return int(version) if active else None


@dataclass(frozen=True)
class Tracked:
    """An ACTIVE segment and its live membership condition at this instant."""

    pk: int
    id: str
    condition: ColumnElement[bool]
    next_at: ColumnElement[datetime] | None = None  # when time-bounded: persistence.boundaries
    boundary_key: str | None = None
    fixed: bool = False
    """The same condition at every instant (no relative time in it): compiled once a
    definitions version, so a comparison of fixed segments can be planned once too."""

    @cached_property
    def for_few_customers(self) -> ColumnElement[bool]:
        """The condition to evaluate on a few customers' rows (computed once: a tree copy).

        COUNTs in their per-customer form, and in every AND / OR the operands that
        read only the customer row first: PostgreSQL evaluates them in order and
        stops at the first that decides, so "plan pro AND country IN (FR, DE)"
        rarely runs its subqueries for a customer elsewhere.
        """
        return _row_operands_first(for_few_customers(self.condition))


@dataclass(frozen=True)
class Transition:
    seq: int
    kind: str
    segment_pk: int
    segment_id: str
    customer_pk: int
    customer_id: str


# Everything a recorder writes once it knows the transitions, in one statement: the
# membership rows that changed (when not already removed), the numbered events, the
# workspace's last event number, the segments' counters, and the notification sent at
# commit. Every CTE runs, read or not.
_RECORD = text("""
WITH entered AS (
    INSERT INTO segment_member (workspace_pk, segment_pk, customer_pk)
    SELECT CAST(:ws AS bigint), e.s, e.cu
    FROM unnest(CAST(:entered_segments AS bigint[]), CAST(:entered_customers AS bigint[]))
         AS e(s, cu)
    ON CONFLICT DO NOTHING
), gone AS (
    DELETE FROM segment_member AS m
    USING unnest(CAST(:gone_segments AS bigint[]), CAST(:gone_customers AS bigint[])) AS g(s, cu)
    WHERE m.workspace_pk = CAST(:ws AS bigint) AND m.segment_pk = g.s AND m.customer_pk = g.cu
), events AS (
    INSERT INTO segment_event
        (workspace_pk, seq, segment_pk, segment_id, customer_pk, customer_id, kind, occurred_at)
    SELECT CAST(:ws AS bigint), e.seq, e.segment_pk, e.segment_id, e.customer_pk, e.customer_id,
           e.kind, CAST(:now AS timestamptz)
    FROM unnest(CAST(:seqs AS bigint[]), CAST(:segment_pks AS bigint[]),
                CAST(:segment_ids AS text[]), CAST(:customer_pks AS bigint[]),
                CAST(:customer_ids AS text[]), CAST(:kinds AS text[]))
         AS e(seq, segment_pk, segment_id, customer_pk, customer_id, kind)
), sequence AS (
    UPDATE workspace SET event_seq = :last WHERE pk = :ws
), counts AS (
    UPDATE segment AS s SET member_count = coalesce(s.member_count, 0) + d.delta
    FROM unnest(CAST(:count_pks AS bigint[]), CAST(:count_deltas AS integer[])) AS d(pk, delta)
    WHERE s.workspace_pk = CAST(:ws AS bigint) AND s.pk = d.pk
)
SELECT pg_notify(:channel, :payload)
""")


Wanted = Mapping[int, Collection[int]]
"""The segment pks to compare, by customer pk."""


def _narrower(wanted: Wanted, tracked: Sequence[Tracked]) -> bool:
    """Whether some customer wants fewer than all of `tracked` (else no pairs are needed)."""
    every = frozenset(t.pk for t in tracked)
    distinct = {frozenset(segments) for segments in wanted.values()}  # a batch repeats a few
    return any(not every <= segments for segments in distinct)


Names = tuple[dict[int, str], dict[int, str]]
"""Segment ids by pk, customer ids by pk."""

# See MembershipLog._unlocked_and_names. (Segment ids come from the tracked segments.)
_UNLOCKED_AND_NAMES = text("""
WITH free AS (
    SELECT pk FROM customer WHERE pk = ANY(CAST(:entering AS bigint[]))
    FOR KEY SHARE SKIP LOCKED
)
SELECT true AS free, pk, NULL AS id FROM free
UNION ALL SELECT false, pk, id FROM customer WHERE pk = ANY(CAST(:c AS bigint[]))
""")


def _count_moves(transitions: list[Transition]) -> dict[str, list[int]]:
    """How each segment's member count moves: ENTERED adds one, LEFT takes one."""
    delta: dict[int, int] = {}
    for t in transitions:
        delta[t.segment_pk] = delta.get(t.segment_pk, 0) + (1 if t.kind == ENTERED else -1)
    changed = {pk: d for pk, d in delta.items() if d}
    return {"count_pks": list(changed), "count_deltas": list(changed.values())}


def _row_operands_first(condition: ColumnElement[bool]) -> ColumnElement[bool]:
    """`condition` with the operands of each AND / OR reordered: no subquery first."""
    if not isinstance(condition, BooleanClauseList) or condition.operator not in (
        operators.and_,
        operators.or_,
    ):
        return condition
    operands = sorted((_row_operands_first(op) for op in condition.clauses), key=reads_other_rows)
    combine = and_ if condition.operator is operators.and_ else or_
    return combine(*operands)


def _unnested(written: Any, column: str, only: Any = None) -> Any:
    """(segment_pk, customer_pk) rows of one array column of `written` (of `only`'s segments)."""
    pairs = select(
        func.unnest(written.c[column]).label("segment_pk"), written.c.customer_pk
    ).subquery()
    rows = select(pairs.c.segment_pk, pairs.c.customer_pk)
    if only is not None:
        rows = rows.where(pairs.c.segment_pk == any_(only))
    return rows.cte(column)


def _differences(live: Any, stored: Any) -> Any:
    """(kind, segment_pk, customer_pk): who is live but not stored, and stored but not live."""
    entered = select(
        literal(ENTERED, String).label("kind"), live.c.segment_pk, live.c.customer_pk
    ).except_(select(literal(ENTERED, String), stored.c.segment_pk, stored.c.customer_pk))
    left = select(
        literal(LEFT, String).label("kind"), stored.c.segment_pk, stored.c.customer_pk
    ).except_(select(literal(LEFT, String), live.c.segment_pk, live.c.customer_pk))
    return union_all(entered, left)


def _restoring(comparison: Any) -> Any:
    """`comparison`, putting the plan mode back (`RESTORED`) as it starts to run.

    The condition reads no column and calls a volatile function, so PostgreSQL keeps it
    at the top of the plan as a one-time filter, evaluated once before the first row
    is read: planned in GENERIC_PLANS, the statement ends the mode for what follows,
    with no round trip of its own.
    """
    mode = bindparam(RESTORED, "", type_=String)  # a value: compiled without one
    restored = select(func.set_config("plan_cache_mode", mode, True)).scalar_subquery()
    rows = comparison.subquery("compared")
    return select(rows).where(restored.is_not(None))


GENERIC_PLANS = "force_generic_plan"
"""The plan mode of the per-customer comparison.

It is the same prepared statement for every write (customer pks bound as one
array), and its plan is the same whatever the values: probe these customers
by primary key. But PostgreSQL keeps planning it for the values bound, as a
plan for "one customer" always looks cheaper than one for "some": a hundred
segments' conditions cost 2 to 3 ms to plan, more than running them. The
mode is set with the lock on the workspace row (no round trip of its own),
local to the transaction, and put back right after the comparison, so no
other statement is planned this way: the comparison itself puts it back as it starts
to run (`RESTORED`), once it is planned.
"""


WRITTEN, GROUPS, RESTORED = "written_pks", "written_groups", "restored_plan_mode"
"""The bound parameters of a comparison of written customers: their pks, when they want
different segments each one's group number (see `_wanted_live_and_stored`), and the plan
mode to put back (see `_restoring`)."""

PlanKey = tuple[tuple[int, ...], tuple[frozenset[int], ...] | None]
"""A comparison's shape: the tracked segment pks, and the groups of segments the
customers want (None: every customer is compared with every segment)."""


def _comparison_of(
    tracked: Sequence[Tracked], customers: Sequence[int] | Wanted
) -> tuple[PlanKey, dict[str, list[int]]]:
    """The shape of the comparison of `customers`, and the values bound into it."""
    pks = tuple(t.pk for t in tracked)
    if isinstance(customers, Mapping) and _narrower(customers, tracked):
        groups = tuple(sorted({frozenset(s) for s in customers.values()}, key=sorted))
        number = {group: i for i, group in enumerate(groups)}
        ordered = sorted(customers)
        values = {WRITTEN: ordered, GROUPS: [number[frozenset(customers[pk])] for pk in ordered]}
        return (pks, groups), values
    return (pks, None), {WRITTEN: sorted(set(customers))}


class ComparisonPlans:
    """The comparison plans of one definitions version (it goes with them), by shape:
    building and compiling the statement of a hundred segments costs a write more
    than running it (5.7 ms to build at 100 segments, and about as much again in
    SQLAlchemy's execution, against 5 ms of SQL)."""

    def __init__(self, size: int = 256) -> None:
        self.size = size
        self.entries: dict[PlanKey, Compiled] = {}

    def get(self, key: PlanKey) -> Compiled | None:
        return self.entries.get(key)

    def put(self, key: PlanKey, statement: Any) -> Compiled:
        plan = Compiled.of(statement, WRITTEN, GROUPS, RESTORED)
        if len(self.entries) >= self.size:
            self.entries.pop(next(iter(self.entries)))
        self.entries[key] = plan
        return plan


def _locked_sequence(*columns: Any) -> Compiled:
    """The workspace row's event number (and `columns`), locked: see `_lock_sequence`."""
    statement = (
        select(workspace_table.c.event_seq, *columns)
        .where(workspace_table.c.pk == bindparam("sequence_workspace_pk"))
        .with_for_update(key_share=True)
    )
    return Compiled.of(statement, sequence_workspace_pk=0)


_LOCK_SEQUENCE = _locked_sequence()
_LOCK_SEQUENCE_GENERIC = _locked_sequence(
    func.current_setting("plan_cache_mode"),
    func.set_config("plan_cache_mode", GENERIC_PLANS, True),
)
_ENTER_WRITE_GATE = "SELECT segmentql_enter_write_gate($1, $2)"  # migration 0017


class MembershipLog:
    def __init__(self, conn: AsyncConnection, workspace_pk: int) -> None:
        self.conn = conn
        self.workspace_pk = workspace_pk

    async def enter_as_writer(self) -> int | None:
        """Take the gate shared; returns what `active_definitions_version` would return
        now, read once the gate is held (migration 0017's function: one round trip)."""
        args = [gate_key(self.workspace_pk), self.workspace_pk]
        row = await driver.fetchrow(self.conn, _ENTER_WRITE_GATE, args)
        version = row[0] if row is not None else None
        return None if version is None else int(version)

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

    async def _lock_sequence(self, generic_plans: bool = False) -> tuple[int, str | None]:
        """Lock the workspace row, serialising recorders; returns the last event number.

        NO KEY UPDATE, not UPDATE: the writer already holds KEY SHARE on this row
        from the foreign keys of the rows it inserted (customers, orders), and two
        writers upgrading KEY SHARE to UPDATE deadlock on each other.
        With `generic_plans`, also switches the transaction to GENERIC_PLANS and
        returns the mode to put back.
        """
        locking = _LOCK_SEQUENCE_GENERIC if generic_plans else _LOCK_SEQUENCE
        row = await locking.fetchrow(self.conn, sequence_workspace_pk=self.workspace_pk)
        assert row is not None, "a workspace's transaction runs while the workspace exists"
        return int(row[0]), (str(row[1]) if generic_plans else None)

    async def _put_back_plans(self, mode: str) -> None:
        await self.conn.execute(select(func.set_config("plan_cache_mode", mode, True)))

    async def reconcile(
        self,
        tracked_at: Callable[[datetime], Sequence[Tracked]],
        customers: Sequence[int] | Wanted | None,
        clock: Callable[[], datetime],
        comparisons: ComparisonPlans | None = None,
        held: Mapping[int, str] | None = None,
    ) -> list[Transition]:
        """Make stored membership equal live membership; returns the transitions recorded.

        The conditions are compiled for the instant read *after* the lock is
        held, so two recorders never judge with clocks out of order.
        `customers` limits the comparison to those customers (a write): a
        sequence of pks compares them with every tracked segment, a mapping
        each with the segments it names (the others are not evaluated for it).
        None compares the whole workspace (the sweeper, a resync). `comparisons`: the
        definitions version's compiled comparisons (`ComparisonPlans`), for a write.
        `held`: id by pk of customers this transaction holds locked (a writer's own), whose
        ids need no reading and whose rows no other transaction can be holding.
        """
        base, plans = await self._lock_sequence(generic_plans=customers is not None)
        now = clock()
        tracked = tracked_at(now)
        changes: list[tuple[str, int, int]] = []
        if tracked:
            # The comparison puts the plan mode back itself (`_restoring`).
            changes = await self._diff(tracked, customers, comparisons, plans)
        elif plans is not None:
            await self._put_back_plans(plans)
        transitions: list[Transition] = []
        skipped: set[tuple[int, int]] = set()
        if changes:
            segment_ids = {t.pk: t.id for t in tracked}
            transitions, skipped = await self._apply(changes, base, now, segment_ids, held or {})
        bounded = [t for t in tracked if t.next_at is not None]
        if bounded:
            await boundaries.store_judged(
                self.conn,
                self.workspace_pk,
                {t.pk: t.next_at for t in bounded if t.next_at is not None},
                {t.pk: t.boundary_key or "" for t in bounded},
                customers,
                now,
                skipped,
            )
        return transitions

    async def sweep(
        self, tracked_at: Callable[[datetime], Sequence[Tracked]], clock: Callable[[], datetime]
    ) -> list[Transition]:
        """A whole-workspace reconcile that holds the workspace row only while it records.

        Comparing every customer takes as long as the segments' conditions take
        over the whole workspace (half a second for `lastOrderAt >= now-30d` at
        a million customers), and every writer of the workspace waits for the
        row meanwhile. So the comparison runs first, without the row, and only
        the customers it finds different are compared again, under the row, as
        a write's are. A customer whose membership changes with the clock in
        between is caught by the next sweep; every other change is a writer's to
        record, and it does.
        """
        tracked = tracked_at(clock())
        if not tracked:
            return []
        differing = {cu for _, _, cu in await self._diff(tracked, None)}
        if not differing:
            return []
        return await self.reconcile(tracked_at, sorted(differing), clock)

    async def _diff(
        self,
        tracked: Sequence[Tracked],
        customers: Sequence[int] | Wanted | None,
        comparisons: ComparisonPlans | None = None,
        plan_mode: str | None = None,
    ) -> list[tuple[str, int, int]]:
        """(kind, segment pk, customer pk) for every difference, all segments in one statement.

        With `comparisons` (the definitions version's), a comparison of written customers
        against fixed segments only is built and compiled once and then run by the
        driver with the customers bound (`ComparisonPlans`). A comparison of written
        customers runs in GENERIC_PLANS and puts back `plan_mode`."""
        rows: Any
        if customers is None:
            live, stored = self._workspace_live(tracked), self._workspace_stored(tracked)
            rows = await self.conn.execute(_differences(live, stored))
        else:
            assert plan_mode is not None, "a comparison of written customers is planned generic"
            key, arrays = _comparison_of(tracked, customers)
            values: dict[str, Any] = {**arrays, RESTORED: plan_mode}
            if comparisons is not None and all(t.fixed for t in tracked):
                plan = comparisons.get(key) or comparisons.put(key, self._comparison(tracked, key))
                rows = await plan.fetch(self.conn, **values)
            else:
                statement = self._comparison(tracked, key)
                rows = await self.conn.execute(statement, values)
        found = sorted((r[0], int(r[1]), int(r[2])) for r in rows)
        if isinstance(customers, Mapping):  # a segment not evaluated for a customer is no LEFT
            found = [(kind, s, cu) for kind, s, cu in found if s in customers[cu]]
        return found

    def _workspace_live(self, tracked: Sequence[Tracked]) -> Any:
        """Every member of every tracked segment: a branch a segment, each free to use indexes."""
        return union_all(
            *(
                select(
                    literal(t.pk, BigInteger).label("segment_pk"), c.c.pk.label("customer_pk")
                ).where(c.c.workspace_pk == self.workspace_pk, t.condition)
                for t in tracked
            )
        ).cte("live")

    def _workspace_stored(self, tracked: Sequence[Tracked]) -> Any:
        segment_pks = literal(sorted(t.pk for t in tracked), ARRAY(BigInteger))
        stored = select(member_table.c.segment_pk, member_table.c.customer_pk).where(
            member_table.c.workspace_pk == self.workspace_pk,
            member_table.c.segment_pk == any_(segment_pks),
        )
        return stored.cte("stored")

    def _comparison(self, tracked: Sequence[Tracked], key: PlanKey) -> Any:
        """The comparison statement of `_comparison_of`'s key, its customers bound by name."""
        pks = bindparam(WRITTEN, [], type_=ARRAY(BigInteger))  # a value: compiled without one
        if key[1] is None:
            return _restoring(_differences(*self._customers_live_and_stored(tracked, pks)))
        groups = bindparam(GROUPS, [], type_=ARRAY(BigInteger))
        return _restoring(_differences(*self._wanted_live_and_stored(tracked, key[1], pks, groups)))

    def _customers_live_and_stored(
        self, tracked: Sequence[Tracked], customer_pks: Any
    ) -> tuple[Any, Any]:
        """Live and stored membership of the written customers, from one probe of each.

        One row a customer, found by primary key: each segment's condition is a
        CASE in its select list (its subqueries run for that row only, and the
        statement is one scan to plan, not a branch a segment), its stored
        memberships a subquery on `segment_member (customer_pk)`, filtered to the
        tracked segments after it so that no plan walks the primary key with a
        hundred segment pks instead. Nothing reads more than these customers'
        rows: COUNTs take their per-customer form (the grouped one aggregates the
        whole workspace).
        """
        matched = [case((t.for_few_customers, literal(t.pk, BigInteger))) for t in tracked]
        return self._live_and_stored(tracked, matched, c, c.c.pk == any_(customer_pks))

    def _live_and_stored(
        self, tracked: Sequence[Tracked], matched: list[Any], source: Any, *where: Any
    ) -> tuple[Any, Any]:
        """One row a customer of `source` (`where`): the tracked segments it matches
        (`matched`: a segment's pk, or NULL, each) and those it is stored in, unnested."""
        segment_pks = literal(sorted(t.pk for t in tracked), ARRAY(BigInteger))
        member = (
            select(member_table.c.segment_pk)
            .where(
                member_table.c.customer_pk == c.c.pk,
                member_table.c.workspace_pk == c.c.workspace_pk,
            )
            .correlate(c)
        )
        written = (
            select(
                c.c.pk.label("customer_pk"),
                func.array_remove(array(matched), null()).label("live"),
                func.array(member.scalar_subquery()).label("stored"),
            )
            .select_from(source)
            .where(c.c.workspace_pk == self.workspace_pk, *where)
            .cte("written")
        )
        return _unnested(written, "live"), _unnested(written, "stored", segment_pks)

    def _wanted_live_and_stored(
        self,
        tracked: Sequence[Tracked],
        groups: Sequence[frozenset[int]],
        customer_pks: Any,
        group_numbers: Any,
    ) -> tuple[Any, Any]:
        """`_customers_live_and_stored` when customers want different segments of `tracked`.

        Customers wanting the same segments form a group; each customer comes
        with its group number (two arrays), and each segment's CASE first tests
        that the row's group is one of those wanting it (PostgreSQL stops at the
        first false operand of an AND), so a segment is evaluated only for the
        customers that need it. Stored memberships are read for every tracked
        segment: `_diff` drops the differences nobody asked about.
        """
        grouped = (
            func.unnest(customer_pks, group_numbers)
            .table_valued("customer_pk", "grp")
            .render_derived(name="wanted")
        )

        def evaluated(t: Tracked) -> ColumnElement[bool]:
            wanting = [i for i, group in enumerate(groups) if t.pk in group]
            if len(wanting) == len(groups):
                return t.for_few_customers
            return and_(among_pks(grouped.c.grp, wanting), t.for_few_customers)

        matched = [case((evaluated(t), literal(t.pk, BigInteger))) for t in tracked]
        joined = c.join(grouped, c.c.pk == grouped.c.customer_pk)
        return self._live_and_stored(tracked, matched, joined)

    async def _apply(
        self,
        changes: list[tuple[str, int, int]],
        base: int,
        now: datetime,
        segment_ids: Mapping[int, str],
        held: Mapping[int, str],
    ) -> tuple[list[Transition], set[tuple[int, int]]]:
        """Record `changes`; returns the transitions and the (segment, customer) entries
        left to the transaction holding the customer. Customers in `held` are neither
        checked nor named by a query (a write of one customer asks none)."""
        others = [ch for ch in changes if ch[2] not in held]
        free, customer_ids = await self._unlocked_and_names(others) if others else (set(), {})
        free |= held.keys()
        skipped = {(s, cu) for kind, s, cu in changes if kind == ENTERED and cu not in free}
        changes = [ch for ch in changes if ch[0] == LEFT or ch[2] in free]
        if not changes:
            return [], skipped
        names = (dict(segment_ids), {**customer_ids, **held})
        recorded = await self._record(changes, base, now, store_membership=True, names=names)
        return recorded, skipped

    async def _unlocked_and_names(
        self, changes: list[tuple[str, int, int]]
    ) -> tuple[set[int], dict[int, str]]:
        """The entering customers a membership row may reference now without waiting,
        and the ids of every customer that changed, in one round trip.

        Inserting a segment_member row takes KEY SHARE on its customer (the
        foreign key). Waiting for it while holding the workspace row deadlocks
        with a writer that holds the customer and waits for the workspace row, so
        a customer another transaction has locked is skipped: that transaction
        is writing or deleting it and reconciles it itself at its turn (the
        sweeper, a later write, catches up if it rolls back instead).
        """
        rows = await self.conn.execute(
            _UNLOCKED_AND_NAMES,
            {
                "entering": sorted({cu for kind, _, cu in changes if kind == ENTERED}),
                "c": sorted({cu for _, _, cu in changes}),
            },
        )
        free: set[int] = set()
        names: dict[int, str] = {}
        for r in rows:
            if r.free:
                free.add(int(r.pk))
            else:
                names[int(r.pk)] = r.id
        return free, names

    async def _record(
        self,
        changes: list[tuple[str, int, int]],
        base: int,
        now: datetime,
        store_membership: bool,
        names: Names | None = None,
    ) -> list[Transition]:
        """Number and store the events (and the membership rows), bump counters, notify.

        One statement after the names: each round trip is paid by every write
        (with its locks held), and these steps cannot fail apart.
        """
        if names is None:
            names = await self._names({s for _, s, _ in changes}, {cu for _, _, cu in changes})
        transitions = [
            Transition(base + i + 1, kind, s, names[0][s], cu, names[1][cu])
            for i, (kind, s, cu) in enumerate(changes)
        ]
        moved = transitions if store_membership else []
        entered = [t for t in moved if t.kind == ENTERED]
        gone = [t for t in moved if t.kind == LEFT]
        last = transitions[-1].seq
        await self.conn.execute(
            _RECORD,
            {
                "ws": self.workspace_pk,
                "now": now,
                "entered_segments": [t.segment_pk for t in entered],
                "entered_customers": [t.customer_pk for t in entered],
                "gone_segments": [t.segment_pk for t in gone],
                "gone_customers": [t.customer_pk for t in gone],
                "seqs": [t.seq for t in transitions],
                "segment_pks": [t.segment_pk for t in transitions],
                "segment_ids": [t.segment_id for t in transitions],
                "customer_pks": [t.customer_pk for t in transitions],
                "customer_ids": [t.customer_id for t in transitions],
                "kinds": [t.kind for t in transitions],
                "last": last,
                **_count_moves(transitions),
                "channel": EVENTS_CHANNEL,
                "payload": f"{self.workspace_pk}:{last}",
            },
        )
        return transitions

    async def _names(self, segment_pks: set[int], customer_pks: set[int]) -> Names:
        rows = await self.conn.execute(
            text(
                "SELECT true AS segment, pk, id FROM segment"
                " WHERE workspace_pk = CAST(:ws AS bigint) AND pk = ANY(CAST(:s AS bigint[]))"
                " UNION ALL"
                " SELECT false, pk, id FROM customer WHERE pk = ANY(CAST(:c AS bigint[]))"
            ),
            {"ws": self.workspace_pk, "s": sorted(segment_pks), "c": sorted(customer_pks)},
        )
        segments: dict[int, str] = {}
        customers: dict[int, str] = {}
        for r in rows:
            (segments if r.segment else customers)[int(r.pk)] = r.id
        return segments, customers

    async def remove_customers(
        self,
        tracked_pks: Sequence[int],
        customer_pks: Sequence[int],
        clock: Callable[[], datetime],
    ) -> list[Transition]:
        """Customers about to be deleted leave every ACTIVE segment they were in."""
        if not tracked_pks or not customer_pks:
            return []
        base, _ = await self._lock_sequence()
        now = clock()  # read under the lock, like reconcile: occurredAt follows the ids
        rows = await self.conn.execute(
            delete(member_table)
            .where(
                and_(
                    member_table.c.workspace_pk == self.workspace_pk,
                    member_table.c.segment_pk.in_(list(tracked_pks)),
                    member_table.c.customer_pk.in_(list(customer_pks)),
                )
            )
            .returning(member_table.c.segment_pk, member_table.c.customer_pk)
        )
        changes = sorted((LEFT, int(r.segment_pk), int(r.customer_pk)) for r in rows)
        if not changes:
            return []
        return await self._record(changes, base, now, store_membership=False)

    async def set_baseline(self, segment_pk: int, count: int) -> None:
        await self.conn.execute(
            update(segment_table)
            .where(
                segment_table.c.workspace_pk == self.workspace_pk, segment_table.c.pk == segment_pk
            )
            .values(member_count=count)
        )
