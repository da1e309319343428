"""Time boundaries in SQL: each customer's next instant (domain.boundaries), stored and due.

`next_change` compiles a description into a `timestamptz` expression over a
`customer` row, for one evaluation instant: NULL when the customer's
membership cannot change with the clock alone. The recorder (persistence.
membership) stores it for every (segment, customer) it evaluated, in its own
transaction and under the workspace row, so the rows always follow the data
the membership was judged on; the sweeper reads the rows whose instant has
passed (`due`) and re-evaluates only those customers.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    DateTime,
    Interval,
    and_,
    case,
    delete,
    exists,
    func,
    literal,
    null,
    or_,
    select,
    union_all,
)
from sqlalchemy.dialects.postgresql import ARRAY, insert
from sqlalchemy.ext.asyncio import AsyncConnection

from domain.boundaries import Crossing, Earliest, Guarded, Instant, OverRecords
from domain.predicate import Condition, Operator, Quantifier, Related, Scope
from persistence.array_params import among_pks
from persistence.compiler import CompileContext, PredicateCompiler, c
from persistence.count_forms import of_customer
from persistence.tables import SegmentBoundary, SegmentBoundaryState

boundary_table = SegmentBoundary.__table__  # type: ignore[attr-defined]
state_table = SegmentBoundaryState.__table__  # type: ignore[attr-defined]

When = ColumnElement[datetime]
ScopeRef = tuple[Scope, Any] | None

DUE_PER_SWEEP = 20_000
"""Customers re-evaluated per segment and sweep at most; the rest are due at the next."""


def next_change(instant: Instant, ctx: CompileContext) -> When:
    """The first instant after `ctx.now` at which `instant` says a customer row can flip."""
    return _InstantCompiler(ctx).instant(instant, None)


class _InstantCompiler:
    def __init__(self, ctx: CompileContext) -> None:
        self.now = literal(ctx.now, DateTime(timezone=True))
        self.predicates = PredicateCompiler(ctx)

    def instant(self, instant: Instant, scope: ScopeRef) -> When:
        if isinstance(instant, Crossing):
            return self.crossing(instant, scope)
        if isinstance(instant, Earliest):
            return _least([self.instant(child, scope) for child in instant.children])
        if isinstance(instant, Guarded):
            held = self.predicates.node(instant.when, scope)
            return case((held, self.instant(instant.instant, scope)), else_=null())
        return self.over_records(instant)

    def crossing(self, instant: Crossing, scope: ScopeRef) -> When:
        probe = Condition(instant.field, Operator.EXISTS)
        if scope is None:
            target = self.predicates.customer_value(probe)
        else:
            target = self.predicates.scope_value(probe, scope)
        shifted = [target.expr + literal(shift, Interval()) for shift in instant.shifts]
        # NULL (no value, or already passed) is ignored by LEAST unless all are.
        return _least([case((at > self.now, at), else_=null()) for at in shifted])

    def over_records(self, instant: OverRecords) -> When:
        table = self.predicates.alias(instant.scope)
        if instant.last is None:
            source, mine = table, of_customer(table)
        else:
            related = Related(instant.scope, Quantifier.ANY, last=instant.last)
            source, mine = self.predicates.recent_records(related, table), None
        inner = self.instant(instant.instant, (instant.scope, source))
        earliest = select(func.min(inner)).select_from(source)
        if mine is not None:
            earliest = earliest.where(mine)
        return earliest.correlate(c).scalar_subquery()


def _least(parts: list[When]) -> When:
    return parts[0] if len(parts) == 1 else func.least(*parts)


Pairs = Mapping[int, Collection[int]]
"""Customer pks by segment pk."""


async def store_judged(
    conn: AsyncConnection,
    workspace_pk: int,
    next_at: Mapping[int, When],
    keys: Mapping[int, str],
    customers: Sequence[int] | Pairs | None,
    now: datetime,
    skipped: set[tuple[int, int]],
) -> None:
    """The next instants of every (time-bounded segment, customer) a recorder just judged.

    `customers` as MembershipLog.reconcile takes them: pks judged against every
    segment, segment pks by customer pk, or None for the whole workspace (whose
    rows are then recomputed from scratch). An entry the recorder left to the
    transaction holding the customer (`skipped`) is due again at once.
    """
    if customers is None:
        await recompute(conn, workspace_pk, next_at, keys)
        if skipped:
            await store(conn, workspace_pk, _by_segment(skipped), next_at, now, skipped)
        return
    judged: dict[int, set[int]] = {}
    if isinstance(customers, Mapping):
        for customer_pk, segments in customers.items():
            for segment_pk in segments:
                if segment_pk in next_at:
                    judged.setdefault(segment_pk, set()).add(customer_pk)
    else:
        judged = {pk: set(customers) for pk in next_at}
    await store(conn, workspace_pk, judged, next_at, now, skipped)


def _by_segment(pairs: set[tuple[int, int]]) -> dict[int, set[int]]:
    found: dict[int, set[int]] = {}
    for segment_pk, customer_pk in pairs:
        found.setdefault(segment_pk, set()).add(customer_pk)
    return found


async def store(
    conn: AsyncConnection,
    workspace_pk: int,
    evaluated: Pairs,
    next_at: Mapping[int, When],
    now: datetime,
    unsettled: Collection[tuple[int, int]] = (),
) -> None:
    """Set the next instant of each evaluated (segment, customer), in one statement.

    A customer whose instant is NULL (or who no longer exists) loses its row.
    `unsettled` pairs (an entry the recorder left to another transaction) are
    due at `now`, so a later sweep looks at them again whatever their data says.
    """
    branches = [
        select(
            literal(segment_pk, BigInteger).label("segment_pk"),
            c.c.pk.label("customer_pk"),
            next_at[segment_pk].label("next_at"),
        ).where(
            c.c.workspace_pk == workspace_pk,
            among_pks(c.c.pk, sorted(customers)),
        )
        for segment_pk, customers in sorted(evaluated.items())
        if customers
    ]
    if not branches:
        return
    computed = union_all(*branches).cte("computed")
    late = {pair for pair in unsettled if pair[1] in evaluated.get(pair[0], ())}
    when: Any = computed.c.next_at
    if late:
        is_late = _pair_in(computed.c.segment_pk, computed.c.customer_pk, late)
        when = case((is_late, literal(now, DateTime(timezone=True))), else_=computed.c.next_at)
    kept = (
        select(
            literal(workspace_pk, BigInteger), computed.c.segment_pk, computed.c.customer_pk, when
        )
        .where(when.is_not(None))
        .order_by(computed.c.segment_pk, computed.c.customer_pk)
    )
    upsert = insert(boundary_table).from_select(
        ["workspace_pk", "segment_pk", "customer_pk", "next_at"], kept
    )
    upserted = upsert.on_conflict_do_update(
        index_elements=["workspace_pk", "segment_pk", "customer_pk"],
        set_={"next_at": upsert.excluded.next_at},
    ).cte("upserted")
    segments, customers = _flattened(evaluated)
    pair = (
        func.unnest(literal(segments, ARRAY(BigInteger)), literal(customers, ARRAY(BigInteger)))
        .table_valued("s", "cu")
        .render_derived(name="pair")
    )
    still = exists().where(
        computed.c.segment_pk == pair.c.s,
        computed.c.customer_pk == pair.c.cu,
        when.is_not(None),
    )
    dropped = (
        delete(boundary_table)
        .where(
            boundary_table.c.workspace_pk == workspace_pk,
            boundary_table.c.segment_pk == pair.c.s,
            boundary_table.c.customer_pk == pair.c.cu,
            ~still,
        )
        .add_cte(upserted)
    )
    await conn.execute(dropped)


def _pair_in(segment: Any, customer: Any, pairs: Collection[tuple[int, int]]) -> Any:
    return or_(*(and_(segment == s, customer == cu) for s, cu in sorted(pairs)))


def _flattened(evaluated: Pairs) -> tuple[list[int], list[int]]:
    segments: list[int] = []
    customers: list[int] = []
    for segment_pk, pks in sorted(evaluated.items()):
        for pk in sorted(pks):
            segments.append(segment_pk)
            customers.append(pk)
    return segments, customers


async def recompute(
    conn: AsyncConnection, workspace_pk: int, next_at: Mapping[int, When], keys: Mapping[int, str]
) -> None:
    """Every customer's instant for these segments, from scratch; records their `keys`.

    The caller holds the workspace row, so no recorder writes meanwhile.
    """
    for segment_pk, when in sorted(next_at.items()):
        await conn.execute(
            delete(boundary_table).where(
                boundary_table.c.workspace_pk == workspace_pk,
                boundary_table.c.segment_pk == segment_pk,
            )
        )
        await conn.execute(_filled(workspace_pk, segment_pk, when))
    await mark_primed(conn, workspace_pk, keys, next_at)


async def merge_instants(
    conn: AsyncConnection, workspace_pk: int, next_at: Mapping[int, When]
) -> None:
    """Every customer's instant for these segments, merged into the rows without any lock.

    Each row keeps the earlier of its instant and the one computed. An instant
    earlier than the true one only costs a re-evaluation (which stores the
    exact one), so a writer's row, committed while this statement read older
    data, is never pushed later; rows whose customer has no instant now are
    left to fall due and go. Rows are written in (segment, customer) order, the
    order a recorder writes its own, so the two never wait on each other in a
    cycle. Run it in a transaction of its own, committed before the workspace
    row is taken: a writer holding that row waits for these rows.
    """
    for segment_pk, when in sorted(next_at.items()):
        filled = _filled(workspace_pk, segment_pk, when)
        earlier = func.least(boundary_table.c.next_at, filled.excluded.next_at)
        await conn.execute(
            filled.on_conflict_do_update(
                index_elements=["workspace_pk", "segment_pk", "customer_pk"],
                set_={"next_at": earlier},
            )
        )


def _filled(workspace_pk: int, segment_pk: int, when: When) -> Any:
    computed = (
        select(c.c.pk.label("customer_pk"), when.label("next_at"))
        .where(c.c.workspace_pk == workspace_pk)
        .subquery("computed")
    )
    rows = (
        select(
            literal(workspace_pk, BigInteger),
            literal(segment_pk, BigInteger),
            computed.c.customer_pk,
            computed.c.next_at,
        )
        .where(computed.c.next_at.is_not(None))
        .order_by(computed.c.customer_pk)
    )
    return insert(boundary_table).from_select(
        ["workspace_pk", "segment_pk", "customer_pk", "next_at"], rows
    )


async def mark_primed(
    conn: AsyncConnection, workspace_pk: int, keys: Mapping[int, str], segment_pks: Collection[int]
) -> None:
    """Record that these segments' rows follow the descriptions named by `keys`."""
    for segment_pk in sorted(segment_pks):
        state = insert(state_table).values(
            workspace_pk=workspace_pk, segment_pk=segment_pk, key=keys[segment_pk]
        )
        await conn.execute(
            state.on_conflict_do_update(
                index_elements=["workspace_pk", "segment_pk"], set_={"key": state.excluded.key}
            )
        )


async def primed(conn: AsyncConnection, keys: Mapping[int, str]) -> set[int]:
    """The segments whose stored rows follow the description named by `keys[pk]`."""
    if not keys:
        return set()
    rows = await conn.execute(
        select(state_table.c.segment_pk, state_table.c.key).where(
            state_table.c.segment_pk.in_(sorted(keys))
        )
    )
    return {int(r.segment_pk) for r in rows if keys.get(int(r.segment_pk)) == r.key}


async def forget(conn: AsyncConnection, segment_pk: int) -> None:
    """Mark a segment's rows stale (at activation: no write kept them while it was not ACTIVE)."""
    await conn.execute(delete(state_table).where(state_table.c.segment_pk == segment_pk))


async def due(
    conn: AsyncConnection, segment_pks: Collection[int], now: datetime, limit: int = DUE_PER_SWEEP
) -> dict[int, set[int]]:
    """Segment pks by customer pk, for the rows whose instant is `now` or earlier.

    One index range scan per segment (segment_pk, next_at), the earliest first.
    """
    if not segment_pks:
        return {}
    branches = [
        select(boundary_table.c.segment_pk, boundary_table.c.customer_pk)
        .where(boundary_table.c.segment_pk == pk, boundary_table.c.next_at <= now)
        .order_by(boundary_table.c.next_at)
        .limit(limit)
        for pk in sorted(segment_pks)
    ]
    query: Any = branches[0]
    if len(branches) > 1:
        query = union_all(*(select(b.subquery()) for b in branches))
    found: dict[int, set[int]] = {}
    for r in await conn.execute(query):
        found.setdefault(int(r.customer_pk), set()).add(int(r.segment_pk))
    return found
