"""Keeping ACTIVE segments' stored membership live, and recording every transition.

Called inside the unit of work of the change that caused it, so the events
commit (or roll back) with the data. The locking protocol is described in
persistence/membership.py.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime

from api.runtime import Runtime
from api.services.tracked_segments import tracked_segments
from domain.footprint import EVERYTHING, Footprint
from domain.segment import Segment
from persistence import boundaries
from persistence.membership import MembershipLog, Transition
from persistence.reevaluations import REEVALUATIONS, SWEEPS
from persistence.unit_of_work import UnitOfWork

Clock = Callable[[], datetime]
logger = logging.getLogger("segmentql.membership")


async def begin_write(uow: UnitOfWork) -> None:
    """Enter the workspace's write gate; call it before the first customer row is locked.

    An activation or resync holds the gate exclusively while it inserts membership
    rows, which takes KEY SHARE locks on customers: a writer already holding a
    customer row while it waits for the gate would deadlock with it.
    """
    await _enter_gate(uow)


async def _enter_gate(uow: UnitOfWork) -> None:
    """The shared gate, once a transaction (taking it again is harmless, but a round trip)."""
    if not uow.write_gate_entered:
        log = MembershipLog(uow.conn, uow.workspace_pk)
        uow.active_version_at_gate = await log.enter_as_writer()
        uow.write_gate_entered = True


async def after_customer_write(
    uow: UnitOfWork,
    changed: Sequence[int] | Mapping[int, Footprint],
    clock: Clock,
    held: Mapping[int, str] | None = None,
) -> list[Transition]:
    """Re-evaluate the written customers against the ACTIVE segments reading what changed.

    `changed` says what changed for each customer pk (domain.footprint); a bare
    sequence of pks means anything may have (every segment is evaluated). All
    the customers and segments that need it are compared in one statement.
    `held`: id by pk of the customers the write holds locked (UpsertOutcome.held).
    """
    await _enter_gate(uow)
    changes = changed if isinstance(changed, Mapping) else dict.fromkeys(changed, EVERYTHING)
    if not changes:
        return []
    tracked = await tracked_segments(uow)
    if tracked is None:
        return []
    wanted = tracked.to_reevaluate(changes)
    REEVALUATIONS.record(uow.workspace_pk, len(tracked.active), wanted)
    if not wanted:
        return []
    needed = frozenset().union(*wanted.values())
    log = MembershipLog(uow.conn, uow.workspace_pk)
    return await log.reconcile(
        tracked.at(lambda s: s.pk in needed), wanted, clock, tracked.plans, held
    )


async def lock_for_delete(uow: UnitOfWork, customer_ids: Sequence[str]) -> dict[str, int]:
    """Enter the gate, then lock the customers to delete; returns id -> pk of those that exist.

    Delete exactly these: a customer created under one of the ids after this
    point was not seen here, and deleting it would drop its memberships
    without a LEFT.
    """
    await _enter_gate(uow)
    return await MembershipLog(uow.conn, uow.workspace_pk).lock_customers(customer_ids)


async def before_customer_delete(
    uow: UnitOfWork, customer_pks: Sequence[int], clock: Clock
) -> list[Transition]:
    """Deleted customers (locked by `lock_for_delete`) leave every ACTIVE segment they were in."""
    await _enter_gate(uow)
    tracked = await tracked_segments(uow)
    if tracked is None:
        return []
    log = MembershipLog(uow.conn, uow.workspace_pk)
    return await log.remove_customers(tracked.pks, customer_pks, clock)


async def record_baseline(uow: UnitOfWork, segment: Segment, now: datetime) -> int:
    """At activation: store who is in the segment now, without events.

    The segment's definitions (it and every segment it reaches through references) are
    read under the gate: a segment this one references may have been edited, and
    committed, while the caller waited for it. Only those are read, not the whole
    workspace's: activating the thousandth segment costs what activating the first did.
    """
    from api.services.predicates import workspace_segments

    assert segment.pk is not None
    log = MembershipLog(uow.conn, uow.workspace_pk)
    await log.enter_exclusively()
    segments = await workspace_segments(uow, {segment.id})
    count = await uow.segments.store_members_where(segment.pk, segments.condition(segment, now))
    await boundaries.forget(uow.conn, segment.pk)  # no write kept them while it was not ACTIVE
    await log.set_baseline(segment.pk, count)
    return count


async def resync(
    uow: UnitOfWork, clock: Clock, only: Callable[[Segment], bool] | None = None
) -> list[Transition]:
    """Whole-workspace reconcile of ACTIVE segments (all, or those `only` selects)."""
    log = MembershipLog(uow.conn, uow.workspace_pk)
    await log.enter_exclusively()
    tracked = await tracked_segments(uow)
    if tracked is None:
        return []
    return await log.reconcile(tracked.at(only), None, clock)


async def sweep(runtime: Runtime) -> int:
    """Re-evaluate time-relative ACTIVE segments everywhere; one process at a time."""
    from persistence.sweeper import sweep_lock, workspaces_with_timed_segments

    transitions = 0
    async with sweep_lock(runtime.engine) as acquired:
        if not acquired:
            return 0
        for workspace_pk in await workspaces_with_timed_segments(runtime.engine):
            try:
                transitions += await _sweep_workspace(runtime, workspace_pk)
            except Exception:
                # One workspace failing (a predicate past statement_timeout) must not
                # starve the others of their sweep; it is retried next interval.
                logger.exception("sweeping workspace %s failed", workspace_pk)
    return transitions


async def _sweep_workspace(runtime: Runtime, workspace_pk: int) -> int:
    """One workspace's time-relative ACTIVE segments, each the cheapest way it can be.

    A time-bounded segment (domain.boundaries) re-evaluates only the customers
    whose next instant has passed. One whose rows are missing or were computed
    from another definition first has them computed, then is compared whole
    once; a segment whose instants cannot be computed is compared whole at
    every sweep, as before. Whole comparisons hold the workspace row only to
    record the customers they found different (MembershipLog.sweep), and the
    rows are computed, and committed, before it is taken (`_prime`).
    """
    computed = await _prime(runtime, workspace_pk)
    async with UnitOfWork(runtime.engine, workspace_pk) as uow:
        tracked = await tracked_segments(uow)
        if tracked is None:
            return 0
        log = MembershipLog(uow.conn, workspace_pk)
        keys = tracked.boundary_keys()
        primed = await boundaries.primed(uow.conn, keys)
        unprimed = set(keys) - primed
        # Rows computed from the definition still in force are primed from now on; this
        # sweep compares those segments whole, in this transaction, so a customer whose
        # instant passed while nobody kept the rows is not missed.
        fresh = {pk for pk in unprimed if computed.get(pk) == keys[pk]}
        await boundaries.mark_primed(uow.conn, workspace_pk, keys, fresh)
        rescanned = {s.pk for s in tracked.active if tracked.reaches_time(s) and s.pk not in keys}
        whole = unprimed | rescanned
        done: list[Transition] = []
        if whole:
            done += await log.sweep(tracked.at(lambda s: s.pk in whole), runtime.clock)
        wanted = await boundaries.due(uow.conn, primed, runtime.clock())
        SWEEPS.record(workspace_pk, len(wanted), len(unprimed), len(rescanned))
        if wanted:
            needed = frozenset().union(*wanted.values())
            done += await log.reconcile(tracked.at(lambda s: s.pk in needed), wanted, runtime.clock)
        await uow.commit()
    return len(done)


async def _prime(runtime: Runtime, workspace_pk: int) -> dict[int, str]:
    """Compute the rows of segments whose rows are stale; returns their keys (segment pk -> key).

    A transaction of its own, committed before the sweep takes the workspace
    row: these upserts lock rows a writer holding that row may be about to
    write, so taking the row while holding them would deadlock with it.
    """
    async with UnitOfWork(runtime.engine, workspace_pk) as uow:
        tracked = await tracked_segments(uow)
        if tracked is None:
            return {}
        keys = tracked.boundary_keys()
        unprimed = set(keys) - await boundaries.primed(uow.conn, keys)
        if not unprimed:
            return {}
        fresh = tracked.at(lambda s: s.pk in unprimed)(runtime.clock())
        next_at = {t.pk: t.next_at for t in fresh if t.next_at is not None}
        await boundaries.merge_instants(uow.conn, workspace_pk, next_at)
        await uow.commit()
    return {pk: keys[pk] for pk in next_at}
