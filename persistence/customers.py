"""Customer storage: batch upserts merged in Python and written set-based, keyset reads."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    delete,
    exists,
    func,
    literal,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from domain.customer import EXCLUDED_ORDER_STATUSES, CustomerChange, RecordChange
from domain.records import CustomerView, Page, RecordView
from persistence.field_map import SCOPE_TABLES, customer_table, snake

c = customer_table
child = customer_table.alias("child")

CUSTOMER_COLUMNS = [col for col in c.columns if col.name not in ("workspace_pk",)]


def has_child_expr() -> ColumnElement[bool]:
    return exists().where(child.c.workspace_pk == c.c.workspace_pk, child.c.parent_id == c.c.id)


def search_expr(term: str) -> ColumnElement[bool]:
    """Case-insensitive substring over id, email, name, externalId (trigram-indexed when possible)."""
    haystack = func.lower(
        c.c.id
        + literal(" ")
        + func.coalesce(c.c.email, "")
        + literal(" ")
        + func.coalesce(c.c.name, "")
        + literal(" ")
        + func.coalesce(c.c.external_id, "")
    )
    escaped = term.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return haystack.like(f"%{escaped}%", escape="\\")


def encode_cursor(customer_id: str) -> str:
    return base64.urlsafe_b64encode(("c:" + customer_id).encode()).decode()


def decode_cursor(cursor: str) -> str | None:
    try:
        raw = base64.urlsafe_b64decode(cursor.encode()).decode()
    except (ValueError, UnicodeDecodeError):
        return None
    return raw[2:] if raw.startswith("c:") else None


def view_from_row(row: Any) -> CustomerView:
    m = row._mapping
    return CustomerView(
        pk=m["pk"],
        id=m["id"],
        external_id=m["external_id"],
        email=m["email"],
        name=m["name"],
        country=m["country"],
        currency=m["currency"],
        language=m["language"],
        city=m["city"],
        source=m["source"],
        invoicing_entity=m["invoicing_entity"],
        payment_method_type=m["payment_method_type"],
        tax_id=m["tax_id"],
        parent_id=m["parent_id"],
        has_child=m["has_child"],
        properties=m["properties"],
        orders_count=m["orders_count"],
        total_spent=m["total_spent"],
        last_order_at=m["last_order_at"],
        first_order_at=m["first_order_at"],
        created_at=m["created_at"],
        updated_at=m["updated_at"],
    )


def _record_view(scope: str, row: Any) -> RecordView:
    skip = {"pk", "customer_pk", "id"}
    values = {k: v for k, v in row._mapping.items() if k not in skip}
    return RecordView(scope, row._mapping["id"], values)


class CustomerRepository:
    def __init__(self, conn: AsyncConnection, workspace_pk: int) -> None:
        self.conn = conn
        self.workspace_pk = workspace_pk

    # ---- reads ---------------------------------------------------------

    def select_views(self) -> Select[Any]:
        return select(*CUSTOMER_COLUMNS, has_child_expr().label("has_child")).where(
            c.c.workspace_pk == self.workspace_pk
        )

    async def get(self, customer_id: str) -> CustomerView | None:
        row = (await self.conn.execute(self.select_views().where(c.c.id == customer_id))).first()
        return view_from_row(row) if row else None

    async def get_many(self, ids: Sequence[str]) -> list[CustomerView]:
        rows = await self.conn.execute(
            self.select_views().where(c.c.id.in_(list(ids))).order_by(c.c.id)
        )
        return [view_from_row(r) for r in rows]

    def filtered(self, search: str | None, where: ColumnElement[bool] | None) -> list[Any]:
        conditions: list[Any] = [c.c.workspace_pk == self.workspace_pk]
        if search:
            conditions.append(search_expr(search))
        if where is not None:
            conditions.append(where)
        return conditions

    async def page(
        self,
        first: int,
        after: str | None,
        search: str | None = None,
        where: ColumnElement[bool] | None = None,
    ) -> Page[CustomerView]:
        conditions = self.filtered(search, where)
        if after is not None:
            conditions.append(c.c.id > after)
        query = (
            select(*CUSTOMER_COLUMNS, has_child_expr().label("has_child"))
            .where(and_(*conditions))
            .order_by(c.c.id)
            .limit(first + 1)
        )
        rows = list(await self.conn.execute(query))
        views = [view_from_row(r) for r in rows[:first]]
        return Page(views, len(rows) > first, [encode_cursor(v.id) for v in views])

    async def count(
        self, search: str | None = None, where: ColumnElement[bool] | None = None
    ) -> int:
        query = select(func.count()).select_from(c).where(and_(*self.filtered(search, where)))
        return int((await self.conn.execute(query)).scalar_one())

    async def related(self, scope: str, customer_pk: int) -> list[RecordView]:
        table = SCOPE_TABLES[scope]
        rows = await self.conn.execute(
            select(table).where(table.c.customer_pk == customer_pk).order_by(table.c.id)
        )
        return [_record_view(scope, r) for r in rows]

    async def related_page(
        self, scope: str, customer_pk: int, first: int, after_id: str | None
    ) -> tuple[Page[RecordView], int]:
        """A keyset page of one customer's records by id, and how many there are."""
        table = SCOPE_TABLES[scope]
        conditions = [table.c.customer_pk == customer_pk]
        if after_id is not None:
            conditions.append(table.c.id > after_id)
        rows = list(
            await self.conn.execute(
                select(table).where(*conditions).order_by(table.c.id).limit(first + 1)
            )
        )
        total = await self.conn.execute(
            select(func.count()).select_from(table).where(table.c.customer_pk == customer_pk)
        )
        views = [_record_view(scope, r) for r in rows[:first]]
        cursors = [encode_cursor(v.id) for v in views]
        return Page(views, len(rows) > first, cursors), int(total.scalar_one())

    # ---- writes --------------------------------------------------------

    async def upsert(self, changes: Sequence[CustomerChange], now: datetime) -> list[str]:
        """Apply a validated batch; returns the ids written, in input order."""
        ordered = sorted(changes, key=lambda ch: ch.id)
        existing = await self._lock([ch.id for ch in ordered])
        rows = [self._merged_row(ch, existing.get(ch.id), now) for ch in ordered]
        result = await self.conn.execute(
            insert(c)
            .values(rows)
            .on_conflict_do_update(
                constraint="customer_workspace_id_key",
                set_={col: insert(c).excluded[col] for col in rows[0] if col not in ("workspace_pk", "id")},
            )
            .returning(c.c.pk, c.c.id)
        )
        pks = {row.id: row.pk for row in result}
        touched_orders: list[int] = []
        for scope in SCOPE_TABLES:
            batch = [(pks[ch.id], rec) for ch in ordered for rec in ch.related.get(scope, ())]
            if batch:
                await self._upsert_records(scope, batch)
                if scope == "orders":
                    touched_orders.extend(pk for pk, _ in batch)
        if touched_orders:
            await self.refresh_activity(sorted(set(touched_orders)))
        return [ch.id for ch in changes]

    async def _lock(self, ids: list[str]) -> dict[str, dict[str, Any]]:
        rows = await self.conn.execute(
            select(c)
            .where(c.c.workspace_pk == self.workspace_pk, c.c.id.in_(ids))
            .order_by(c.c.id)
            .with_for_update()
        )
        return {r._mapping["id"]: dict(r._mapping) for r in rows}

    def _merged_row(
        self, change: CustomerChange, old: dict[str, Any] | None, now: datetime
    ) -> dict[str, Any]:
        row: dict[str, Any] = {
            col.name: (old or {}).get(col.name)
            for col in c.columns
            if col.name not in ("pk", "orders_count", "total_spent", "last_order_at", "first_order_at")
        }
        for name, value in change.values.items():
            row[snake(name)] = value
        props = dict((old or {}).get("properties") or {})
        props.update(change.properties_set)
        for key in change.properties_removed:
            props.pop(key, None)
        row.update(workspace_pk=self.workspace_pk, id=change.id, properties=props, updated_at=now)
        if row.get("created_at") is None:
            row["created_at"] = now
        return row

    async def _upsert_records(self, scope: str, batch: list[tuple[int, RecordChange]]) -> None:
        table = SCOPE_TABLES[scope]
        keys = [(pk, rec.id) for pk, rec in batch]
        old_rows = await self.conn.execute(
            select(table)
            .where(
                func.row(table.c.customer_pk, table.c.id).in_(
                    [func.row(pk, rid) for pk, rid in keys]
                )
            )
            .with_for_update()
        )
        old = {(r.customer_pk, r.id): dict(r._mapping) for r in old_rows}
        rows = []
        for pk, rec in batch:
            row = {col.name: None for col in table.columns if col.name != "pk"}
            row.update({k: v for k, v in old.get((pk, rec.id), {}).items() if k != "pk"})
            row.update({snake(k): v for k, v in rec.values.items()})
            row.update(customer_pk=pk, id=rec.id)
            rows.append(row)
        stmt = insert(table).values(rows)
        await self.conn.execute(
            stmt.on_conflict_do_update(
                constraint=f"{table.name}_customer_id_key",
                set_={col: stmt.excluded[col] for col in rows[0] if col not in ("customer_pk", "id")},
            )
        )

    async def refresh_activity(self, customer_pks: list[int]) -> None:
        """Recompute ordersCount, totalSpent, first/lastOrderAt from the orders themselves."""
        orders = SCOPE_TABLES["orders"]
        counted = and_(
            orders.c.customer_pk == c.c.pk,
            func.coalesce(orders.c.status, "PLACED").not_in(EXCLUDED_ORDER_STATUSES),
        )
        await self.conn.execute(
            update(c)
            .where(c.c.pk.in_(customer_pks))
            .values(
                orders_count=select(func.count()).where(counted).scalar_subquery(),
                total_spent=select(
                    func.coalesce(func.sum(func.coalesce(orders.c.amount, 0)), 0)
                ).where(counted).scalar_subquery(),
                first_order_at=select(func.min(orders.c.placed_at)).where(counted).scalar_subquery(),
                last_order_at=select(func.max(orders.c.placed_at)).where(counted).scalar_subquery(),
            )
        )

    async def delete(self, ids: Sequence[str]) -> list[str]:
        result = await self.conn.execute(
            delete(c)
            .where(c.c.workspace_pk == self.workspace_pk, c.c.id.in_(list(ids)))
            .returning(c.c.id)
        )
        return [r.id for r in result]


def utcnow() -> datetime:
    return datetime.now(UTC)


