"""Segment storage: rows <-> domain Segments, usages, references, stored membership."""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    String,
    and_,
    bindparam,
    delete,
    exists,
    func,
    literal,
    literal_column,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONPATH, insert
from sqlalchemy.ext.asyncio import AsyncConnection

from domain.records import Page
from domain.segment import (
    Counted,
    Segment,
    SegmentBy,
    SegmentKind,
    SnapshotSchedule,
    Usage,
    UsageKind,
)
from persistence import cursors
from persistence.cursors import Slice
from persistence.field_map import customer_table
from persistence.tables import (
    Segment as SegmentRow,
)
from persistence.tables import (
    SegmentMember,
    SegmentReference,
    SegmentUsage,
    Workspace,
)

segment_table = SegmentRow.__table__  # type: ignore[attr-defined]
member_table = SegmentMember.__table__  # type: ignore[attr-defined]
usage_table = SegmentUsage.__table__  # type: ignore[attr-defined]
reference_table = SegmentReference.__table__  # type: ignore[attr-defined]
c = customer_table

SEGMENT_FIELDS = (
    "name",
    "description",
    "kind",
    "predicate",
    "predicate_text",
    "time_relative",
    "schedule",
    "segment_by",
    "updated_at",
    "activated_at",
)


@dataclass(frozen=True)
class SegmentStats:
    member_count: int | None
    total_customers: int | None
    computed_at: datetime | None
    last_duration_ms: float | None


def definitions_key(workspace_pk: int) -> int:
    """The advisory-lock key serializing a workspace's segment definition changes."""
    return (zlib.crc32(b"segmentql-segment-definitions") << 20) ^ workspace_pk


def encode_segment_cursor(segment_id: str) -> str:
    return cursors.encode("s", segment_id)


def decode_segment_cursor(cursor: str) -> str | None:
    return cursors.decode("s", cursor)


def _segment(row: Any, usages: list[Usage]) -> Segment:
    m = row._mapping
    return Segment(
        pk=m["pk"],
        id=m["id"],
        name=m["name"],
        description=m["description"],
        kind=SegmentKind(m["kind"]),
        predicate=m["predicate"],
        time_relative=m["time_relative"],
        created_at=m["created_at"],
        updated_at=m["updated_at"],
        activated_at=m["activated_at"],
        usages=usages,
        schedule=SnapshotSchedule(m["schedule"]) if m["schedule"] else None,
        segment_by=SegmentBy(m["segment_by"]),
        predicate_text=m["predicate_text"],
        counted=Counted(m["member_count"], m["total_customers"], m["stats_computed_at"]),
    )


class SegmentRepository:
    def __init__(self, conn: AsyncConnection, workspace_pk: int) -> None:
        self.conn = conn
        self.workspace_pk = workspace_pk
        self.definitions_changed = False
        """Set by every write of a definition: the unit of work bumps the version at commit."""

    # ---- reading -------------------------------------------------------

    async def get(self, segment_id: str, *, lock: bool = False) -> Segment | None:
        query = select(segment_table).where(
            segment_table.c.workspace_pk == self.workspace_pk, segment_table.c.id == segment_id
        )
        if lock:
            query = query.with_for_update()
        row = (await self.conn.execute(query)).first()
        if row is None:
            return None
        return _segment(row, (await self._usages([row.pk])).get(row.pk, []))

    async def all(self) -> list[Segment]:
        rows = list(
            await self.conn.execute(
                select(segment_table)
                .where(segment_table.c.workspace_pk == self.workspace_pk)
                .order_by(segment_table.c.id)
            )
        )
        usages = await self._usages([r.pk for r in rows])
        return [_segment(r, usages.get(r.pk, [])) for r in rows]

    async def with_ids(self, ids: set[str]) -> list[Segment]:
        """The segments `ids` (those that exist), by id."""
        rows = list(
            await self.conn.execute(
                select(segment_table)
                .where(
                    segment_table.c.workspace_pk == self.workspace_pk,
                    segment_table.c.id.in_(sorted(ids)),
                )
                .order_by(segment_table.c.id)
            )
        )
        usages = await self._usages([r.pk for r in rows])
        return [_segment(r, usages.get(r.pk, [])) for r in rows]

    async def closure(self, ids: set[str]) -> list[Segment]:
        """The segments `ids` and every segment they reach through references."""
        rows: dict[str, Any] = {}
        frontier = set(ids)
        while frontier:
            found = list(
                await self.conn.execute(
                    select(segment_table).where(
                        segment_table.c.workspace_pk == self.workspace_pk,
                        segment_table.c.id.in_(sorted(frontier)),
                    )
                )
            )
            rows.update({r.id: r for r in found})
            referenced = await self.conn.execute(
                select(segment_table.c.id)
                .join(reference_table, self._references(reference_table.c.referenced_pk))
                .where(
                    reference_table.c.workspace_pk == self.workspace_pk,
                    reference_table.c.segment_pk.in_([r.pk for r in found]),
                )
            )
            frontier = {r.id for r in referenced} - rows.keys() if found else set()
        usages = await self._usages([r.pk for r in rows.values()])
        return [_segment(r, usages.get(r.pk, [])) for r in rows.values()]

    async def page(
        self, window: Slice[str], search: str | None, kind: SegmentKind | None
    ) -> Page[Segment]:
        conditions: list[ColumnElement[bool]] = [segment_table.c.workspace_pk == self.workspace_pk]
        conditions += window.conditions(segment_table.c.id)
        if search:
            escaped = search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            conditions.append(segment_table.c.name.ilike(f"%{escaped}%", escape="\\"))
        if kind is not None:
            conditions.append(segment_table.c.kind == kind.value)
        rows = list(
            await self.conn.execute(
                select(segment_table)
                .where(*conditions)
                .order_by(window.order(segment_table.c.id))
                .limit(window.limit)
            )
        )
        rows, has_next, has_previous = window.cut(rows)
        usages = await self._usages([r.pk for r in rows])
        items = [_segment(r, usages.get(r.pk, [])) for r in rows]
        keys = [encode_segment_cursor(s.id) for s in items]
        return Page(items, has_next, keys, has_previous)

    async def count(self, search: str | None, kind: SegmentKind | None) -> int:
        conditions: list[ColumnElement[bool]] = [segment_table.c.workspace_pk == self.workspace_pk]
        if search:
            escaped = search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            conditions.append(segment_table.c.name.ilike(f"%{escaped}%", escape="\\"))
        if kind is not None:
            conditions.append(segment_table.c.kind == kind.value)
        result = await self.conn.execute(
            select(func.count()).select_from(segment_table).where(*conditions)
        )
        return int(result.scalar_one())

    async def _usages(self, pks: list[int]) -> dict[int, list[Usage]]:
        if not pks:
            return {}
        rows = await self.conn.execute(
            select(usage_table)
            .where(
                usage_table.c.workspace_pk == self.workspace_pk, usage_table.c.segment_pk.in_(pks)
            )
            .order_by(usage_table.c.attached_at, usage_table.c.kind, usage_table.c.reference)
        )
        out: dict[int, list[Usage]] = {}
        for r in rows:
            out.setdefault(r.segment_pk, []).append(
                Usage(UsageKind(r.kind), r.reference, r.attached_at)
            )
        return out

    async def name_taken(self, name: str, except_pk: int | None = None) -> bool:
        query = select(
            exists().where(
                segment_table.c.workspace_pk == self.workspace_pk,
                segment_table.c.name == name,
                segment_table.c.pk != (except_pk or 0),
            )
        )
        return bool((await self.conn.execute(query)).scalar())

    async def referenced_by(self, segment_pk: int) -> list[str]:
        rows = await self.conn.execute(
            select(segment_table.c.id)
            .join(reference_table, self._references(reference_table.c.segment_pk))
            .where(
                reference_table.c.workspace_pk == self.workspace_pk,
                reference_table.c.referenced_pk == segment_pk,
            )
        )
        return [r.id for r in rows]

    @staticmethod
    def _references(column: Any) -> ColumnElement[bool]:
        """segment_reference joined to the segment `column` names, in its workspace."""
        return and_(
            reference_table.c.workspace_pk == segment_table.c.workspace_pk,
            column == segment_table.c.pk,
        )

    async def stats(self, segment_pk: int) -> SegmentStats:
        return (await self.stats_each([segment_pk]))[segment_pk]

    async def stats_each(self, segment_pks: Sequence[int]) -> dict[int, SegmentStats]:
        """The stored stats of several segments in one statement."""
        rows = await self.conn.execute(
            select(
                segment_table.c.pk,
                segment_table.c.member_count,
                segment_table.c.total_customers,
                segment_table.c.stats_computed_at,
                segment_table.c.last_duration_ms,
            ).where(
                segment_table.c.workspace_pk == self.workspace_pk,
                segment_table.c.pk.in_(list(segment_pks)),
            )
        )
        found = {}
        for row in rows:
            duration = float(row.last_duration_ms) if row.last_duration_ms is not None else None
            found[int(row.pk)] = SegmentStats(
                row.member_count, row.total_customers, row.stats_computed_at, duration
            )
        return found

    # ---- writing -------------------------------------------------------

    async def lock_definitions(self) -> None:
        """Serialize creates, edits and deletes of the workspace's segments until commit.

        Row locks alone cannot keep names unique (two creates check, then both
        insert), references acyclic (A -> B and B -> A saved at once, each seeing
        no cycle), or a referenced segment from being deleted while a new
        reference to it is being saved. Taken first, before any row lock.
        """
        key = literal(definitions_key(self.workspace_pk), BigInteger)
        await self.conn.execute(select(func.pg_advisory_xact_lock(key)))

    async def add(self, segment: Segment) -> int:
        self.definitions_changed = True
        values = {name: _column_value(getattr(segment, name)) for name in SEGMENT_FIELDS}
        result = await self.conn.execute(
            segment_table.insert()
            .values(
                workspace_pk=self.workspace_pk,
                id=segment.id,
                created_at=segment.created_at,
                **values,
            )
            .returning(segment_table.c.pk)
        )
        segment.pk = int(result.scalar_one())
        return segment.pk

    async def save(self, segment: Segment) -> None:
        """Write the segment's fields and make its usages match."""
        self.definitions_changed = True
        assert segment.pk is not None
        values = {name: _column_value(getattr(segment, name)) for name in SEGMENT_FIELDS}
        await self.conn.execute(
            update(segment_table)
            .where(
                segment_table.c.workspace_pk == self.workspace_pk, segment_table.c.pk == segment.pk
            )
            .values(**values)
        )
        await self.conn.execute(
            delete(usage_table).where(
                usage_table.c.workspace_pk == self.workspace_pk,
                usage_table.c.segment_pk == segment.pk,
            )
        )
        if segment.usages:
            await self.conn.execute(
                insert(usage_table).values(
                    [
                        {
                            "workspace_pk": self.workspace_pk,
                            "segment_pk": segment.pk,
                            "kind": u.kind.value,
                            "reference": u.reference,
                            "attached_at": u.attached_at,
                        }
                        for u in segment.usages
                    ]
                )
            )

    async def set_references(self, segment_pk: int, referenced_ids: set[str]) -> None:
        self.definitions_changed = True
        await self.conn.execute(
            delete(reference_table).where(
                reference_table.c.workspace_pk == self.workspace_pk,
                reference_table.c.segment_pk == segment_pk,
            )
        )
        if not referenced_ids:
            return
        await self.conn.execute(
            insert(reference_table).from_select(
                ["workspace_pk", "segment_pk", "referenced_pk"],
                select(
                    literal(self.workspace_pk, BigInteger),
                    literal(segment_pk, BigInteger),
                    segment_table.c.pk,
                ).where(
                    segment_table.c.workspace_pk == self.workspace_pk,
                    segment_table.c.id.in_(sorted(referenced_ids)),
                ),
            )
        )

    async def set_time_relative(self, segment_pk: int, relative: bool) -> None:
        self.definitions_changed = True
        await self.conn.execute(
            update(segment_table)
            .where(
                segment_table.c.workspace_pk == self.workspace_pk, segment_table.c.pk == segment_pk
            )
            .values(time_relative=relative)
        )

    async def remove(self, segment_pk: int) -> None:
        self.definitions_changed = True
        await self.conn.execute(
            delete(segment_table).where(
                segment_table.c.workspace_pk == self.workspace_pk, segment_table.c.pk == segment_pk
            )
        )

    async def forget_stats(self, segment_pk: int) -> None:
        """Drop the cached counts of this segment and of every PASSIVE segment reaching it.

        Called when its predicate changes: those counts answered another question.
        ACTIVE segments keep theirs: their member_count is a running count of
        stored membership, kept by the membership log, not a cache.
        """
        reach = select(literal(segment_pk, BigInteger).label("pk")).cte("reach", recursive=True)
        refs = reference_table.c
        reach = reach.union(
            select(refs.segment_pk).where(
                refs.workspace_pk == self.workspace_pk, refs.referenced_pk == reach.c.pk
            )
        )
        await self.conn.execute(
            update(segment_table)
            .where(
                segment_table.c.workspace_pk == self.workspace_pk,
                segment_table.c.pk.in_(select(reach.c.pk)),
                segment_table.c.kind == SegmentKind.PASSIVE.value,
            )
            .values(member_count=None, total_customers=None, stats_computed_at=None)
        )

    async def record_stats(
        self, segment_pk: int, count: int, total: int, at: datetime, duration_ms: float | None
    ) -> None:
        values: dict[str, Any] = {
            "member_count": count,
            "total_customers": total,
            "stats_computed_at": at,
        }
        if duration_ms is not None:
            values["last_duration_ms"] = round(duration_ms, 3)
        # Only while still PASSIVE: a count taken before a concurrent activation must not
        # overwrite the running member_count the activation started (the UPDATE waits for
        # the activation's row lock, then re-checks the kind).
        await self.conn.execute(
            update(segment_table)
            .where(
                segment_table.c.workspace_pk == self.workspace_pk,
                segment_table.c.pk == segment_pk,
                segment_table.c.kind == SegmentKind.PASSIVE.value,
            )
            .values(**values)
        )

    # ---- stored membership ----------------------------------------------

    def _ids_join(self, customer_ids: Sequence[str]) -> Any:
        """`customer` joined to the given ids, passed as one array parameter.

        Up to 20,000 ids: one bound array instead of an IN list of 20,000
        parameters keeps the statement small and its plan a plain join on the
        (workspace, id) key.
        """
        given = (
            func.unnest(bindparam("customer_ids", list(customer_ids), type_=ARRAY(String)))
            .table_valued("id")
            .render_derived()
        )
        return c.join(given, and_(c.c.workspace_pk == self.workspace_pk, c.c.id == given.c.id))

    async def store_members_by_ids(self, segment_pk: int, customer_ids: Sequence[str]) -> int:
        """Store the given customers that exist now; returns how many were stored."""
        result = await self.conn.execute(
            insert(member_table)
            .from_select(
                ["workspace_pk", "segment_pk", "customer_pk"],
                select(c.c.workspace_pk, literal(segment_pk, BigInteger), c.c.pk)
                .select_from(self._ids_join(customer_ids))
                .with_for_update(read=True, key_share=True, of=c),
            )
            .on_conflict_do_nothing()
        )
        return int(result.rowcount or 0)

    async def store_members_where(self, segment_pk: int, condition: ColumnElement[bool]) -> int:
        """Store every customer matching `condition` now (a baseline, or a frozen list).

        The rows are locked FOR KEY SHARE as they are read (what the foreign key
        check would take anyway): a customer being deleted concurrently is then
        waited for and skipped, instead of failing the insert's foreign key.
        The same holds for `store_members_by_ids`.
        """
        result = await self.conn.execute(
            insert(member_table)
            .from_select(
                ["workspace_pk", "segment_pk", "customer_pk"],
                select(c.c.workspace_pk, literal(segment_pk, BigInteger), c.c.pk)
                .where(c.c.workspace_pk == self.workspace_pk, condition)
                .with_for_update(read=True, key_share=True, of=c),
            )
            .on_conflict_do_nothing()
        )
        return int(result.rowcount or 0)

    async def existing_customer_ids(self, customer_ids: Sequence[str]) -> set[str]:
        rows = await self.conn.execute(select(c.c.id).select_from(self._ids_join(customer_ids)))
        return {r.id for r in rows}

    async def count_where(self, condition: ColumnElement[bool]) -> int:
        result = await self.conn.execute(
            select(func.count())
            .select_from(c)
            .where(c.c.workspace_pk == self.workspace_pk, condition)
        )
        return int(result.scalar_one())

    async def stored_counts(self, segment_pks: Sequence[int]) -> dict[int, int]:
        """`stored_count` of each segment, in one statement."""
        rows = await self.conn.execute(
            select(member_table.c.segment_pk, func.count())
            .where(
                member_table.c.workspace_pk == self.workspace_pk,
                member_table.c.segment_pk.in_(sorted(set(segment_pks))),
            )
            .group_by(member_table.c.segment_pk)
        )
        found = {int(pk): int(n) for pk, n in rows}
        return {pk: found.get(pk, 0) for pk in segment_pks}

    async def stored_count(self, segment_pk: int) -> int:
        result = await self.conn.execute(
            select(func.count())
            .select_from(member_table)
            .where(
                member_table.c.workspace_pk == self.workspace_pk,
                member_table.c.segment_pk == segment_pk,
            )
        )
        return int(result.scalar_one())


def stored_membership(segment_pk: int) -> ColumnElement[bool]:
    """`customer` is in the segment's stored list."""
    return exists().where(
        and_(
            member_table.c.workspace_pk == c.c.workspace_pk,
            member_table.c.segment_pk == segment_pk,
            member_table.c.customer_pk == c.c.pk,
        )
    )


def _column_value(value: object) -> object:
    if isinstance(value, (SegmentKind, SnapshotSchedule, SegmentBy)):
        return value.value
    return value


WRITES_SETTLE = timedelta(seconds=60)
"""How long a customer write may take to commit after its `updated_at` (taken when
it starts): a count made within this of a write may have missed it."""


_REACHES_EVENTS = """EXISTS (
    WITH RECURSIVE reached(pk) AS (
        SELECT referenced_pk FROM segment_reference WHERE segment_pk = segment.pk
        UNION
        SELECT r.referenced_pk FROM segment_reference AS r JOIN reached ON r.segment_pk = reached.pk
    )
    SELECT FROM reached JOIN segment AS other ON other.pk = reached.pk
    WHERE jsonb_path_exists(other.predicate, '$.** ? (@.scope == "EVENTS")')
)"""


async def stale_passive_segments(
    conn: AsyncConnection, stale_before: datetime, limit: int
) -> list[tuple[int, str]]:
    """(workspace pk, segment id) of PASSIVE segments whose cached count may be out of date."""
    workspace = Workspace.__table__  # type: ignore[attr-defined]
    s = segment_table
    counted_before = s.c.stats_computed_at - WRITES_SETTLE
    # The newest write, not "EXISTS a write after": max() walks the (workspace, updated_at)
    # index backwards to one row, where EXISTS with a per-segment bound was planned as a
    # scan of every customer (seconds a segment at a million customers).
    last_write = (
        select(func.max(c.c.updated_at))
        .where(c.c.workspace_pk == s.c.workspace_pk)
        .scalar_subquery()
    )
    changed = last_write > counted_before
    deleted = workspace.c.customers_deleted_at > counted_before
    # Tracking events changes no customer row, so segments on events are recounted on age
    # alone: those reading events themselves, or through the segments they reference.
    on_events = or_(
        func.jsonb_path_exists(
            s.c.predicate, literal_column("""'$.** ? (@.scope == "EVENTS")'""").cast(JSONPATH)
        ),
        text(_REACHES_EVENTS),
    )
    query = (
        select(s.c.workspace_pk, s.c.id)
        .join(workspace, workspace.c.pk == s.c.workspace_pk)
        .where(
            s.c.kind == SegmentKind.PASSIVE.value,
            or_(
                s.c.stats_computed_at.is_(None),
                and_(
                    s.c.stats_computed_at < stale_before,
                    or_(s.c.time_relative, on_events, deleted, changed),
                ),
            ),
        )
        .order_by(s.c.stats_computed_at.asc().nulls_first())
        .limit(limit)
    )
    return [(int(r.workspace_pk), str(r.id)) for r in await conn.execute(query)]
