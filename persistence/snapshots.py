"""Segment instances: taken set-based in SQL, read back page by page."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Integer,
    and_,
    bindparam,
    func,
    literal,
    select,
    text,
    tuple_,
    update,
)
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from domain.customer import EXCLUDED_ORDER_STATUSES
from domain.records import Page
from domain.segment import Segment, SegmentBy, SnapshotSchedule
from domain.snapshot import Instance
from persistence.bulk_load import REPLICATION_ROLE
from persistence.cursors import Slice
from persistence.field_map import SCOPE_TABLES, customer_table
from persistence.tables import Segment as SegmentRowTable
from persistence.tables import SegmentInstance, SegmentInstanceMember

instance_table = SegmentInstance.__table__  # type: ignore[attr-defined]
member_table = SegmentInstanceMember.__table__  # type: ignore[attr-defined]
segment_table = SegmentRowTable.__table__  # type: ignore[attr-defined]
orders = SCOPE_TABLES["orders"]
c = customer_table


def _instance(row: Any) -> Instance:
    m = row._mapping
    return Instance(
        pk=m["pk"],
        id=m["id"],
        segment_id=m["segment_id"],
        segment_name=m["segment_name"],
        segment_created_at=m["segment_created_at"],
        schedule=SnapshotSchedule(m["schedule"]) if m["schedule"] else None,
        segment_by=SegmentBy(m["segment_by"]),
        created_at=m["created_at"],
        window_start=m["window_start"],
        num_customers=m["num_customers"],
        num_orders=m["num_orders"],
        total_revenue=m["total_revenue"],
    )


# Who entered (in `mine`, not `theirs`) and who left, for every pair at once: each
# side's first `limit` customer ids and its size.
_DIFFS = text(
    """
    SELECT p.mine, p.theirs, d.side, d.customer_id, d.n
    FROM unnest(CAST(:mine AS bigint[]), CAST(:theirs AS bigint[])) AS p(mine, theirs)
    CROSS JOIN LATERAL (
        SELECT changed.side, changed.customer_id,
               count(*) OVER (PARTITION BY changed.side) AS n,
               row_number() OVER (PARTITION BY changed.side ORDER BY changed.customer_id) AS rn
        FROM (
            (SELECT 'entered' AS side, customer_id FROM segment_instance_member
             WHERE workspace_pk = :workspace_pk AND instance_pk = p.mine
             EXCEPT
             SELECT 'entered', customer_id FROM segment_instance_member
             WHERE workspace_pk = :workspace_pk AND instance_pk = p.theirs)
            UNION ALL
            (SELECT 'left', customer_id FROM segment_instance_member
             WHERE workspace_pk = :workspace_pk AND instance_pk = p.theirs
             EXCEPT
             SELECT 'left', customer_id FROM segment_instance_member
             WHERE workspace_pk = :workspace_pk AND instance_pk = p.mine)
        ) AS changed
    ) AS d
    WHERE d.rn <= :limit
    ORDER BY p.mine, p.theirs, d.side, d.customer_id
    """
).bindparams(bindparam("limit", type_=Integer), bindparam("workspace_pk", type_=BigInteger))


_SKIP_TRIGGERS = text(REPLICATION_ROLE.format(role=":role"))


class SnapshotRepository:
    def __init__(self, conn: AsyncConnection, workspace_pk: int) -> None:
        self.conn = conn
        self.workspace_pk = workspace_pk

    async def take(
        self, segment: Segment, condition: ColumnElement[bool], now: datetime, instance_id: str
    ) -> Instance:
        """Store the members matching `condition` and the measures over the window."""
        assert segment.pk is not None
        window_start = await self._window_start(segment)
        pk = await self._insert_instance(segment, now, instance_id, window_start)
        # The instance row was inserted just above in this transaction: every member's
        # foreign key to it holds by construction. A superuser skips the check a row
        # (as the seed does), a third of a 10M-member snapshot; others keep it.
        await self.conn.execute(_SKIP_TRIGGERS, {"role": "replica"})
        stored = await self.conn.execute(
            insert(member_table).from_select(
                ["workspace_pk", "instance_pk", "customer_pk", "customer_id", "email"],
                select(c.c.workspace_pk, literal(pk), c.c.pk, c.c.id, c.c.email).where(
                    c.c.workspace_pk == self.workspace_pk, condition
                ),
            )
        )
        await self.conn.execute(_SKIP_TRIGGERS, {"role": "origin"})
        await self._measure(pk, stored.rowcount, window_start, now)
        instance = await self.get(instance_id)
        assert instance is not None
        return instance

    async def _window_start(self, segment: Segment) -> datetime:
        previous = await self.conn.execute(
            select(func.max(instance_table.c.created_at)).where(
                instance_table.c.segment_pk == segment.pk
            )
        )
        return previous.scalar_one() or segment.created_at

    async def _insert_instance(
        self, segment: Segment, now: datetime, instance_id: str, window_start: datetime
    ) -> int:
        result = await self.conn.execute(
            instance_table.insert()
            .values(
                workspace_pk=self.workspace_pk,
                segment_pk=segment.pk,
                id=instance_id,
                segment_id=segment.id,
                segment_name=segment.name,
                segment_created_at=segment.created_at,
                schedule=segment.schedule.value if segment.schedule else None,
                segment_by=segment.segment_by.value,
                created_at=now,
                window_start=window_start,
                num_customers=0,
                num_orders=0,
                total_revenue=0,
            )
            .returning(instance_table.c.pk)
        )
        return int(result.scalar_one())

    async def _measure(
        self, instance_pk: int, members: int, window_start: datetime, now: datetime
    ) -> None:
        """Orders placed by the members in (window_start, now], as ordersCount counts them.

        Only a customer whose lastOrderAt (their latest counted order) is after the
        window's start can have one: those are found by the lastOrderAt index and
        each checked for membership, instead of every member probing the orders.
        """
        counted = and_(
            orders.c.workspace_pk == self.workspace_pk,
            orders.c.customer_pk == c.c.pk,
            orders.c.placed_at > window_start,
            orders.c.placed_at <= now,
            func.coalesce(orders.c.status, "PLACED").not_in(EXCLUDED_ORDER_STATUSES),
        )
        member = (
            select(literal(1))
            .where(
                member_table.c.workspace_pk == self.workspace_pk,
                member_table.c.instance_pk == instance_pk,
                member_table.c.customer_id == c.c.id,
            )
            .exists()
        )
        measures = select(
            func.count(orders.c.pk).label("n"),
            func.coalesce(func.sum(func.coalesce(orders.c.amount, 0)), 0).label("revenue"),
        ).where(
            c.c.workspace_pk == self.workspace_pk,
            c.c.last_order_at > window_start,
            member,
            counted,
        )
        row = (await self.conn.execute(measures)).one()
        await self.conn.execute(
            update(instance_table)
            .where(
                instance_table.c.workspace_pk == self.workspace_pk,
                instance_table.c.pk == instance_pk,
            )
            .values(num_customers=members, num_orders=row.n, total_revenue=row.revenue)
        )

    async def count_between(self, segment_pk: int, start: datetime, end: datetime) -> int:
        result = await self.conn.execute(
            select(func.count()).where(
                instance_table.c.segment_pk == segment_pk,
                instance_table.c.created_at >= start,
                instance_table.c.created_at < end,
            )
        )
        return int(result.scalar_one())

    async def get(self, instance_id: str) -> Instance | None:
        row = (
            await self.conn.execute(
                select(instance_table).where(
                    instance_table.c.workspace_pk == self.workspace_pk,
                    instance_table.c.id == instance_id,
                )
            )
        ).first()
        return _instance(row) if row else None

    async def with_ids(self, ids: Sequence[str]) -> list[Instance]:
        """The instances `ids` of the workspace (those that exist), in one statement."""
        rows = await self.conn.execute(
            select(instance_table).where(
                instance_table.c.workspace_pk == self.workspace_pk,
                instance_table.c.id.in_(list(ids)),
            )
        )
        return [_instance(r) for r in rows]

    async def page(self, segment_pk: int, window: Slice[int]) -> Page[Instance]:
        """Newest first (cursors are left to the caller)."""
        newest_first = window.listed_descending()
        conditions = [instance_table.c.segment_pk == segment_pk]
        conditions += newest_first.conditions(instance_table.c.pk)
        rows = list(
            await self.conn.execute(
                select(instance_table)
                .where(*conditions)
                .order_by(newest_first.order(instance_table.c.pk))
                .limit(newest_first.limit)
            )
        )
        found, has_next, has_previous = newest_first.cut(rows)
        return Page([_instance(r) for r in found], has_next, [], has_previous)

    async def pages_each(
        self, segment_pks: Sequence[int], window: Slice[int]
    ) -> dict[int, Page[Instance]]:
        """`page` of several segments in one statement (a window partitioned by segment)."""
        newest_first = window.listed_descending()
        key = instance_table.c.pk
        rank = func.row_number().over(
            partition_by=instance_table.c.segment_pk, order_by=newest_first.order(key)
        )
        ranked = (
            select(instance_table, rank.label("rn"))
            .where(instance_table.c.segment_pk.in_(list(segment_pks)))
            .where(*newest_first.conditions(key))
            .subquery()
        )
        rows = await self.conn.execute(
            select(ranked)
            .where(ranked.c.rn <= newest_first.limit)
            .order_by(ranked.c.segment_pk, ranked.c.rn)
        )
        found: dict[int, list[Any]] = {pk: [] for pk in segment_pks}
        for row in rows:
            found[row.segment_pk].append(row)
        pages = {}
        for pk, listed in found.items():
            items, has_next, has_previous = newest_first.cut(listed)
            pages[pk] = Page([_instance(r) for r in items], has_next, [], has_previous)
        return pages

    async def counts_each(self, segment_pks: Sequence[int]) -> dict[int, int]:
        """`count` of several segments in one statement."""
        rows = await self.conn.execute(
            select(instance_table.c.segment_pk, func.count())
            .where(instance_table.c.segment_pk.in_(list(segment_pks)))
            .group_by(instance_table.c.segment_pk)
        )
        counted = {int(pk): int(n) for pk, n in rows}
        return {pk: counted.get(pk, 0) for pk in segment_pks}

    async def count(self, segment_pk: int) -> int:
        result = await self.conn.execute(
            select(func.count()).where(instance_table.c.segment_pk == segment_pk)
        )
        return int(result.scalar_one())

    async def member_rows(
        self, instance_pks: Sequence[int], window: Slice[tuple[int, str]]
    ) -> tuple[list[tuple[int, str, str | None, int]], bool, bool]:
        """(instance pk, customer id, email, customer pk), keyset by (instance pk, customer id).

        The page, hasNextPage, hasPreviousPage. The key is the members' primary key, a
        row comparison both ways, so a backward page is the same index scan read in
        reverse.
        """
        pk, customer_id = member_table.c.instance_pk, member_table.c.customer_id
        conditions = [
            member_table.c.workspace_pk == self.workspace_pk,
            pk.in_(list(instance_pks)),
            *window.conditions(tuple_(pk, customer_id)),
        ]
        rows = list(
            await self.conn.execute(
                select(pk, customer_id, member_table.c.email, member_table.c.customer_pk)
                .where(*conditions)
                .order_by(window.order(pk), window.order(customer_id))
                .limit(window.limit)
            )
        )
        found, has_next, has_previous = window.cut(rows)
        out = [(int(r[0]), str(r[1]), r[2], int(r[3])) for r in found]
        return out, has_next, has_previous

    async def existing_member_ids_each(
        self, instance_pks: Sequence[int], window: Slice[str]
    ) -> dict[int, Page[str]]:
        """A page of each instance's members whose customer still exists, by customer id,
        in one statement. Deleted customers are skipped in SQL so that a page is never
        short or empty while more members follow."""
        key = member_table.c.customer_id
        rank = func.row_number().over(
            partition_by=member_table.c.instance_pk, order_by=window.order(key)
        )
        ranked = (
            select(member_table.c.instance_pk, key, rank.label("rn"))
            .where(self._of_each(instance_pks), *self._still_exists())
            .where(*window.conditions(key))
            .subquery()
        )
        rows = await self.conn.execute(
            select(ranked.c.instance_pk, ranked.c.customer_id)
            .where(ranked.c.rn <= window.limit)
            .order_by(ranked.c.instance_pk, ranked.c.rn)
        )
        found: dict[int, list[str]] = {pk: [] for pk in instance_pks}
        for instance_pk, customer_id in rows:
            found[int(instance_pk)].append(str(customer_id))
        pages = {}
        for pk, listed in found.items():
            items, has_next, has_previous = window.cut(listed)
            pages[pk] = Page(items, has_next, [], has_previous)
        return pages

    async def count_existing_members_each(self, instance_pks: Sequence[int]) -> dict[int, int]:
        """How many of each instance's members still exist, in one statement."""
        rows = await self.conn.execute(
            select(member_table.c.instance_pk, func.count())
            .where(self._of_each(instance_pks), *self._still_exists())
            .group_by(member_table.c.instance_pk)
        )
        counted = {int(pk): int(n) for pk, n in rows}
        return {pk: counted.get(pk, 0) for pk in instance_pks}

    def _of(self, instance_pk: int) -> ColumnElement[bool]:
        """The members of this instance (of this workspace, its key's first column)."""
        return and_(
            member_table.c.workspace_pk == self.workspace_pk,
            member_table.c.instance_pk == instance_pk,
        )

    def _of_each(self, instance_pks: Sequence[int]) -> ColumnElement[bool]:
        """The members of these instances (of this workspace, its key's first column)."""
        return and_(
            member_table.c.workspace_pk == self.workspace_pk,
            member_table.c.instance_pk.in_(list(instance_pks)),
        )

    def _still_exists(self) -> list[ColumnElement[bool]]:
        return [
            c.c.pk == member_table.c.customer_pk,
            c.c.workspace_pk == self.workspace_pk,
        ]

    async def instances_of(self, segment_id: str | None, instance_id: str | None) -> list[Instance]:
        conditions = [instance_table.c.workspace_pk == self.workspace_pk]
        if segment_id is not None:
            conditions.append(instance_table.c.segment_id == segment_id)
        if instance_id is not None:
            conditions.append(instance_table.c.id == instance_id)
        rows = await self.conn.execute(
            select(instance_table).where(*conditions).order_by(instance_table.c.pk)
        )
        return [_instance(r) for r in rows]

    async def diffs_each(
        self, pairs: Sequence[tuple[int, int]], limit: int
    ) -> dict[tuple[int, int], tuple[list[str], list[str], int, int]]:
        """Who is in each pair's instance but not its other (entered), and the reverse
        (left): the first `limit` ids of each side, and each side's size; one statement."""
        rows = await self.conn.execute(
            _DIFFS,
            {
                "mine": [p[0] for p in pairs],
                "theirs": [p[1] for p in pairs],
                "limit": limit,
                "workspace_pk": self.workspace_pk,
            },
        )
        found: dict[tuple[int, int], tuple[list[str], list[str], int, int]] = {}
        lists: dict[tuple[int, int], tuple[list[str], list[str]]] = {p: ([], []) for p in pairs}
        counts = {pair: [0, 0] for pair in pairs}
        for row in rows:
            pair = (int(row.mine), int(row.theirs))
            side = 0 if row.side == "entered" else 1
            lists[pair][side].append(str(row.customer_id))
            counts[pair][side] = int(row.n)
        for pair in pairs:
            entered, left = lists[pair]
            found[pair] = (entered, left, counts[pair][0], counts[pair][1])
        return found

    async def set_schedule(
        self,
        segment_pk: int,
        schedule: SnapshotSchedule | None,
        by: SegmentBy,
        due: datetime | None,
    ) -> None:
        await self.conn.execute(
            update(segment_table)
            .where(
                segment_table.c.workspace_pk == self.workspace_pk, segment_table.c.pk == segment_pk
            )
            .values(
                schedule=schedule.value if schedule else None,
                segment_by=by.value,
                next_snapshot_at=due,
            )
        )

    async def is_due(self, segment_pk: int, now: datetime) -> bool:
        due = await self.conn.execute(
            select(segment_table.c.next_snapshot_at).where(
                segment_table.c.workspace_pk == self.workspace_pk, segment_table.c.pk == segment_pk
            )
        )
        at = due.scalar_one_or_none()
        return at is not None and at <= now

    async def allow_time(self, timeout_ms: int) -> None:
        """Raise this transaction's statement timeout (a snapshot writes every member)."""
        await self.conn.exec_driver_sql(f"SET LOCAL statement_timeout = {int(timeout_ms)}")

    async def set_next_due(self, segment_pk: int, due: datetime | None) -> None:
        await self.conn.execute(
            update(segment_table)
            .where(
                segment_table.c.workspace_pk == self.workspace_pk, segment_table.c.pk == segment_pk
            )
            .values(next_snapshot_at=due)
        )


async def due_segments(conn: AsyncConnection, now: datetime, limit: int) -> list[tuple[int, str]]:
    rows = await conn.execute(
        select(segment_table.c.workspace_pk, segment_table.c.id)
        .where(segment_table.c.next_snapshot_at <= now)
        .order_by(segment_table.c.next_snapshot_at)
        .limit(limit)
    )
    return [(int(r.workspace_pk), str(r.id)) for r in rows]
