"""Tracked events: idempotent batch inserts, a customer's timeline, names seen, retention."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select, tuple_
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from domain.tracked_event import EventChange
from persistence import cursors
from persistence.array_params import among_pks
from persistence.tables import Event, EventName

event_table = Event.__table__  # type: ignore[attr-defined]
name_table = EventName.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class StoredEvent:
    pk: int
    id: str | None
    name: str
    occurred_at: datetime
    properties: dict[str, Any]


def encode_event_cursor(occurred_at: datetime, pk: int) -> str:
    return cursors.encode("e", f"{occurred_at.isoformat()}|{pk}")


def decode_event_cursor(cursor: str) -> tuple[datetime, int] | None:
    key = cursors.decode("e", cursor)
    if key is None:
        return None
    moment, _, pk = key.partition("|")
    try:
        return datetime.fromisoformat(moment), int(pk)
    except ValueError:
        return None


class TrackedEventRepository:
    def __init__(self, conn: AsyncConnection, workspace_pk: int) -> None:
        self.conn = conn
        self.workspace_pk = workspace_pk

    async def add(self, events: Sequence[EventChange], customer_pks: dict[str, int]) -> int:
        """Store the batch; an event id already stored is skipped. Returns how many were new."""
        rows = [
            {
                "workspace_pk": self.workspace_pk,
                "customer_pk": customer_pks[e.customer_id],
                "id": e.id,
                "name": e.name,
                "occurred_at": e.occurred_at,
                "properties": e.properties,
            }
            for e in events
        ]
        stmt = insert(event_table).on_conflict_do_nothing(
            index_elements=["workspace_pk", "id"], index_where=event_table.c.id.is_not(None)
        )
        result = await self.conn.execute(stmt.returning(event_table.c.pk), rows)
        stored = len(list(result))
        await self.remember_names({e.name for e in events})
        return stored

    async def remember_names(self, names: set[str]) -> None:
        if not names:
            return
        await self.conn.execute(
            insert(name_table)
            .values([{"workspace_pk": self.workspace_pk, "name": n} for n in sorted(names)])
            .on_conflict_do_nothing()
        )

    async def names(self) -> list[str]:
        rows = await self.conn.execute(
            select(name_table.c.name)
            .where(name_table.c.workspace_pk == self.workspace_pk)
            .order_by(name_table.c.name)
        )
        return [r.name for r in rows]

    async def pages_each(
        self,
        customer_pks: Sequence[int],
        first: int,
        after: tuple[datetime, int] | None,
        name: str | None,
    ) -> dict[int, tuple[list[StoredEvent], bool]]:
        """A keyset page of each customer's events, newest first (by occurredAt, then
        internal order), in one statement."""
        conditions = [among_pks(event_table.c.customer_pk, customer_pks)]
        if name is not None:
            conditions.append(event_table.c.name == name)
        if after is not None:
            conditions.append(
                tuple_(event_table.c.occurred_at, event_table.c.pk) < tuple_(after[0], after[1])
            )
        rank = func.row_number().over(
            partition_by=event_table.c.customer_pk,
            order_by=(event_table.c.occurred_at.desc(), event_table.c.pk.desc()),
        )
        ranked = select(event_table, rank.label("rn")).where(*conditions).subquery()
        rows = await self.conn.execute(
            select(ranked)
            .where(ranked.c.rn <= first + 1)
            .order_by(ranked.c.customer_pk, ranked.c.rn)
        )
        found: dict[int, list[StoredEvent]] = {pk: [] for pk in customer_pks}
        for r in rows:
            found[r.customer_pk].append(
                StoredEvent(r.pk, r.id, r.name, r.occurred_at, r.properties)
            )
        return {pk: (events[:first], len(events) > first) for pk, events in found.items()}

    async def counts_each(self, customer_pks: Sequence[int], name: str | None) -> dict[int, int]:
        """How many events (of `name`, if given) each customer has, in one statement."""
        conditions = [among_pks(event_table.c.customer_pk, customer_pks)]
        if name is not None:
            conditions.append(event_table.c.name == name)
        rows = await self.conn.execute(
            select(event_table.c.customer_pk, func.count())
            .where(*conditions)
            .group_by(event_table.c.customer_pk)
        )
        counted = {int(pk): int(n) for pk, n in rows}
        return {pk: counted.get(pk, 0) for pk in customer_pks}

    async def prune(self, older_than: datetime, batch: int) -> list[int]:
        """Delete up to `batch` of the workspace's events older than `older_than`.

        Returns the customer pk of each deleted event, so that the caller can
        re-evaluate those customers' ACTIVE segments in the same transaction.
        """
        doomed = (
            select(event_table.c.pk)
            .where(
                event_table.c.workspace_pk == self.workspace_pk,
                event_table.c.occurred_at < older_than,
            )
            .limit(batch)
            .scalar_subquery()
        )
        rows = await self.conn.execute(
            delete(event_table)
            .where(event_table.c.workspace_pk == self.workspace_pk, event_table.c.pk.in_(doomed))
            .returning(event_table.c.customer_pk)
        )
        return [int(r.customer_pk) for r in rows]


async def workspaces_with_events_before(engine: AsyncEngine, older_than: datetime) -> list[int]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(event_table.c.workspace_pk)
            .where(event_table.c.occurred_at < older_than)
            .distinct()
        )
        return sorted(int(r.workspace_pk) for r in rows)
