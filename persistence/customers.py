"""Customer storage: batch upserts merged in Python and written set-based, keyset reads."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from operator import itemgetter
from typing import Any

from asyncpg import Record
from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Select,
    String,
    and_,
    any_,
    bindparam,
    delete,
    exists,
    false,
    func,
    literal,
    null,
    select,
    union_all,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY, insert
from sqlalchemy.ext.asyncio import AsyncConnection

from domain.custom_property import storable_text
from domain.customer import EXCLUDED_ORDER_STATUSES, CustomerChange, RecordChange
from domain.footprint import Footprint, changed_fields
from domain.records import CustomerView, Page, RecordView
from persistence import cursors
from persistence.array_params import among_ids, among_pks
from persistence.changes import (
    ACTIVITY_COLUMNS,
    activity_changes,
    add,
    moved_parents,
    row_changes,
    scope_changed,
)
from persistence.count_forms import for_few_customers
from persistence.cursors import Slice
from persistence.driver import Compiled
from persistence.explain import Explain
from persistence.field_map import SCOPE_TABLES, customer_table, snake
from persistence.tables import Event, Workspace

c = customer_table
workspace_table = Workspace.__table__  # type: ignore[attr-defined]
child = customer_table.alias("child")

CUSTOMER_COLUMNS = [col for col in c.columns if col.name not in ("workspace_pk",)]


def has_child_expr() -> ColumnElement[bool]:
    return exists().where(child.c.workspace_pk == c.c.workspace_pk, child.c.parent_id == c.c.id)


def with_has_child(page: Select[Any], workspace_pk: int, read: bool = True) -> Select[Any]:
    """The rows of `page` (a limited select of customer columns, `id` among them) and
    their hasChild, worked out for those rows only.

    In the page's own select list the EXISTS is planned for every customer the filter
    may match, and from a few thousand of them on PostgreSQL builds a hash of the whole
    workspace's parent ids for it (80 ms at 100k customers) to return 51 rows; above
    the LIMIT it is 51 probes of customer_parent_idx.
    """
    rows = page.subquery("page")
    if not read:  # a page whose fields do not ask for it (`read_columns`)
        return select(rows, null().label("has_child"))
    probe = exists().where(child.c.workspace_pk == workspace_pk, child.c.parent_id == rows.c.id)
    return select(rows, probe.label("has_child"))


ALWAYS_READ = frozenset({"pk", "id"})
"""The columns every page reads (its key and cursor)."""


def read_columns(columns: frozenset[str] | None) -> list[Any]:
    """The customer columns in order, those not in `columns` (view field names) read as
    NULL: a page whose selection asks for two fields reads and decodes two, not 22. The
    rows keep every column name, so views are built the same way; None: all of them."""
    if columns is None:
        return list(CUSTOMER_COLUMNS)
    kept = columns | ALWAYS_READ
    return [col if col.name in kept else null().label(col.name) for col in CUSTOMER_COLUMNS]


def search_expr(term: str) -> ColumnElement[bool]:
    """Case-insensitive substring of id, email, name, externalId (trigram index when present)."""
    haystack = func.lower(
        c.c.id
        + literal(" ")
        + func.coalesce(c.c.email, "")
        + literal(" ")
        + func.coalesce(c.c.name, "")
        + literal(" ")
        + func.coalesce(c.c.external_id, "")
    )
    if not storable_text(term):
        return false()  # stored text never holds NUL or lone surrogates: nothing can match
    escaped = term.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return haystack.like(f"%{escaped}%", escape="\\")


def encode_cursor(customer_id: str) -> str:
    return cursors.encode("c", customer_id)


def decode_cursor(cursor: str) -> str | None:
    return cursors.decode("c", cursor)


AFTER_KEY = bindparam("page_after", type_=String, required=False)
BEFORE_KEY = bindparam("page_before", type_=String, required=False)


PagePlan = Compiled
"""A customer page statement as the driver gets it; the cursors' keys are named
AFTER_KEY and BEFORE_KEY."""


def filtered(workspace_pk: int, search: str | None, where: ColumnElement[bool] | None) -> list[Any]:
    conditions: list[Any] = [c.c.workspace_pk == workspace_pk]
    if search:
        conditions.append(search_expr(search))
    if where is not None:
        conditions.append(where)
    return conditions


def page_query(
    workspace_pk: int,
    window: Slice[Any],
    search: str | None = None,
    where: ColumnElement[bool] | None = None,
    columns: frozenset[str] | None = None,
) -> Select[Any]:
    """A page of customers by id, hasChild included (`CustomerRepository.page`'s
    statement); only `columns` of them (view field names, `read_columns`) when given."""
    few = for_few_customers(where) if where is not None else None  # a page reads few
    conditions = filtered(workspace_pk, search, few) + window.conditions(c.c.id)
    page = (
        select(*read_columns(columns))
        .where(and_(*conditions))
        .order_by(window.order(c.c.id))
        .limit(window.limit)
    )
    query = with_has_child(page, workspace_pk, columns is None or "has_child" in columns)
    return query.order_by(window.order(query.selected_columns.id))


ROWS_PER_TURN = 250
"""A large result (a thousand customers, or their orders) is turned into views in
stretches of this many rows, the event loop given back between them: about a
millisecond each (bench/loop_trace.py --sample found 2,000 rows holding it 4 to 6 ms)."""


async def _page_of(window: Slice[str], rows: Sequence[Any]) -> Page[CustomerView]:
    """The window's page of `rows`, turned into views ROWS_PER_TURN rows at a time."""
    kept, has_next, has_previous = window.cut(rows)
    views = views_from_rows(kept[:ROWS_PER_TURN])
    for start in range(ROWS_PER_TURN, len(kept), ROWS_PER_TURN):
        await asyncio.sleep(0)
        views += views_from_rows(kept[start : start + ROWS_PER_TURN])
    return Page(views, has_next, [encode_cursor(v.id) for v in views], has_previous)


VIEW_FIELDS = tuple(f.name for f in fields(CustomerView))
"""A view's fields in order: the columns a customer row is read from, by name."""
_VIEW_GETTERS: dict[tuple[str, ...], Callable[[Any], tuple[Any, ...]]] = {}


def _view_getter(columns: tuple[str, ...]) -> Callable[[Any], tuple[Any, ...]]:
    """The view's fields of a row with these columns, by position (found once per shape
    of result: a page's rows are read without a name lookup each)."""
    getter = _VIEW_GETTERS.get(columns)
    if getter is None:
        getter = _VIEW_GETTERS[columns] = itemgetter(*(columns.index(f) for f in VIEW_FIELDS))
    return getter


def view_from_row(row: Any) -> CustomerView:
    return CustomerView(*_view_getter(row._fields)(row))


def view_from_record(record: Record) -> CustomerView:
    """`view_from_row` of a row the driver fetched (persistence.driver)."""
    return CustomerView(*_view_getter(tuple(record.keys()))(record))


def views_from_rows(rows: Sequence[Any]) -> list[CustomerView]:
    """`view_from_row` of each, rows of one result (the same columns): SQLAlchemy's rows
    or the driver's records."""
    if not rows:
        return []
    first = rows[0]
    getter = _view_getter(tuple(first.keys()) if isinstance(first, Record) else first._fields)
    return [CustomerView(*getter(row)) for row in rows]


_VIEWS = select(*CUSTOMER_COLUMNS, has_child_expr().label("has_child")).where(
    c.c.workspace_pk == bindparam("views_workspace_pk")
)
"""One workspace's customers as views read them, hasChild included."""
_GET = Compiled.of(
    _VIEWS.where(c.c.id == bindparam("get_customer_id")), views_workspace_pk=0, get_customer_id=""
)
_GET_MANY = Compiled.of(
    _VIEWS.where(c.c.id == any_(bindparam("many_ids", type_=ARRAY(String)))).order_by(c.c.id),
    views_workspace_pk=0,
    many_ids=[],
)


@dataclass(frozen=True)
class UpsertOutcome:
    ids: list[str]  # in input order
    pks: list[int]
    parent_ids: set[str]  # old and new parents whose children changed: hasChild may have
    changes: dict[int, Footprint]  # what changed, by customer pk (persistence.changes)
    held: dict[int, str] = field(default_factory=dict)
    """Id by pk of the customers the write holds locked until it commits (all it wrote)."""


@dataclass(frozen=True)
class PlanSummary:
    total_cost: float
    rows: int
    uses_index: bool


def _uses_index(plan: dict[str, Any]) -> bool:
    if "Index" in str(plan.get("Node Type", "")):
        return True
    return any(_uses_index(child) for child in plan.get("Plans", []))


def _subplan_number(plan: dict[str, Any]) -> int:
    """`InitPlan 2 (returns $1)` -> 2: the subplans in the order of the select list."""
    words = str(plan.get("Subplan Name", "")).split()
    return int(words[1]) if len(words) > 1 and words[1].isdigit() else 0


def _scan_rows(plan: dict[str, Any]) -> float:
    """Rows estimated to match: below the count's Aggregate node, where the filter is."""
    if plan.get("Node Type") == "Aggregate" and plan.get("Plans"):
        return float(plan["Plans"][0].get("Plan Rows", 0))
    return float(plan.get("Plan Rows", 0))


NOT_VALUES = frozenset({"pk", "workspace_pk", "customer_pk", "id", "rn"})


async def _views_by_customer(scope: str, rows: Any) -> dict[int, list[RecordView]]:
    """Each customer's records of one scope, in the rows' order: the columns found once
    per result, not per row."""
    names = list(rows.keys())
    value_at = [(name, i) for i, name in enumerate(names) if name not in NOT_VALUES]
    id_at, customer_at = names.index("id"), names.index("customer_pk")
    found: dict[int, list[RecordView]] = {}
    for n, row in enumerate(rows):
        if n and not n % ROWS_PER_TURN:
            await asyncio.sleep(0)
        values = {name: row[i] for name, i in value_at}
        found.setdefault(row[customer_at], []).append(RecordView(scope, row[id_at], values))
    return found


def _locking(ids: ColumnElement[bool], placeholder: Any) -> Compiled:
    """An upsert's existing customers (`ids`), locked in id order, rows as they were."""
    return Compiled.of(
        select(c)
        .where(c.c.workspace_pk == bindparam("lock_workspace_pk"), ids)
        .order_by(c.c.id)
        # NO KEY UPDATE: serialises writers of the same customer, yet lets membership
        # inserts (whose foreign key takes KEY SHARE) go ahead.
        .with_for_update(key_share=True),
        lock_workspace_pk=0,
        lock_ids=placeholder,
    )


# Two forms: PostgreSQL plans `= ANY($2)` again at every execution (its row estimate
# follows the array's length), but settles on one plan for `= $2` after a few: a write of
# one customer is most writes, and planning was as long as running the statement.
_LOCK = _locking(c.c.id == any_(bindparam("lock_ids", type_=ARRAY(String))), [])
_LOCK_ONE = _locking(c.c.id == bindparam("lock_ids", type_=String), "")

_UPSERTS: dict[tuple[str, ...], Any] = {}


def _upsert_of(columns: tuple[str, ...]) -> Any:
    """The customer upsert of rows with these columns, built once (building it, with its
    `excluded` column for each of some thirty columns, cost a one-customer write 1 ms)."""
    found = _UPSERTS.get(columns)
    if found is None:
        stmt = insert(c)
        updated = {col: stmt.excluded[col] for col in columns if col not in ("workspace_pk", "id")}
        found = _UPSERTS[columns] = stmt.on_conflict_do_update(
            constraint="customer_workspace_id_key", set_=updated
        ).returning(c.c.pk, c.c.id)
    return found


class CustomerRepository:
    def __init__(self, conn: AsyncConnection, workspace_pk: int) -> None:
        self.conn = conn
        self.workspace_pk = workspace_pk

    # ---- reads ---------------------------------------------------------

    async def get(self, customer_id: str) -> CustomerView | None:
        """One customer by its id: a statement compiled once (customer(id:), node(id:)),
        run by the driver (persistence.driver): SQLAlchemy builds, compiles and wraps
        nothing."""
        row = await _GET.fetchrow(
            self.conn, views_workspace_pk=self.workspace_pk, get_customer_id=customer_id
        )
        return view_from_record(row) if row else None

    async def get_many(self, ids: Sequence[str]) -> list[CustomerView]:
        """Customers by id, in id order: compiled once, run by the driver, like `get`
        (which one id goes through: see `_LOCK_ONE`)."""
        if len(ids) == 1:
            found = await self.get(ids[0])
            return [found] if found is not None else []
        rows = await _GET_MANY.fetch(
            self.conn, views_workspace_pk=self.workspace_pk, many_ids=list(ids)
        )
        return views_from_rows(rows)

    def filtered(self, search: str | None, where: ColumnElement[bool] | None) -> list[Any]:
        return filtered(self.workspace_pk, search, where)

    async def page(
        self,
        window: Slice[str],
        search: str | None = None,
        where: ColumnElement[bool] | None = None,
        columns: frozenset[str] | None = None,
    ) -> Page[CustomerView]:
        """A page of customers; `columns`: only those view fields read, the rest None."""
        statement = page_query(self.workspace_pk, window, search, where, columns)
        return await _page_of(window, list(await self.conn.execute(statement)))

    def page_plan(
        self,
        window: Slice[str],
        search: str | None = None,
        where: ColumnElement[bool] | None = None,
        columns: frozenset[str] | None = None,
    ) -> PagePlan:
        """`page`'s statement compiled once, for `planned_page` with any cursor of the
        same shape (cursors present or not, direction, size)."""
        keys: Slice[Any] = Slice(
            window.size,
            None if window.after is None else AFTER_KEY,
            None if window.before is None else BEFORE_KEY,
            window.backward,
            window.descending,
        )
        statement = page_query(self.workspace_pk, keys, search, where, columns)
        return Compiled.of(statement, AFTER_KEY.key, BEFORE_KEY.key)

    async def planned_page(self, plan: PagePlan, window: Slice[str]) -> Page[CustomerView]:
        """The page of `window` by a plan made for its shape: no SQL built or compiled,
        the rows the driver's (persistence.driver)."""
        cursors = {AFTER_KEY.key: window.after, BEFORE_KEY.key: window.before}
        return await _page_of(window, await plan.fetch(self.conn, **cursors))

    async def count(
        self, search: str | None = None, where: ColumnElement[bool] | None = None
    ) -> int:
        query = select(func.count()).select_from(c).where(and_(*self.filtered(search, where)))
        return int((await self.conn.execute(query)).scalar_one())

    async def pages_each(
        self,
        window: Slice[str],
        search: str | None,
        wheres: Sequence[ColumnElement[bool]],
    ) -> list[Page[CustomerView]]:
        """`page` for each condition, in one statement: the pages' UNION ALL, tagged."""
        if not wheres:
            return []
        parts = []
        for tag, where in enumerate(wheres):
            conditions = self.filtered(search, for_few_customers(where))
            conditions += window.conditions(c.c.id)
            page = (
                select(
                    literal(tag).label("page_tag"),
                    # the database's order (its collation), kept through the UNION ALL
                    func.row_number().over(order_by=window.order(c.c.id)).label("page_pos"),
                    *CUSTOMER_COLUMNS,
                )
                .where(and_(*conditions))
                .order_by(window.order(c.c.id))
                .limit(window.limit)
            )
            # each page keeps its ORDER BY and LIMIT
            parts.append(with_has_child(page, self.workspace_pk))
        rows: list[list[Any]] = [[] for _ in wheres]
        for row in await self.conn.execute(union_all(*parts)):
            rows[row.page_tag].append(row)
        pages = []
        for found in rows:
            found.sort(key=lambda r: r.page_pos)
            kept, has_next, has_previous = window.cut(found)
            views = views_from_rows(kept)
            pages.append(Page(views, has_next, [encode_cursor(v.id) for v in views], has_previous))
        return pages

    async def count_each(
        self,
        conditions: Sequence[ColumnElement[bool]],
        search: str | None = None,
        within: ColumnElement[bool] | None = None,
    ) -> tuple[list[int], int]:
        """How many customers (matching `search`, and `within` when given: a condition
        every counted one meets, which lets an index narrow the scan) meet each
        condition, and how many there are: one scan."""
        query = (
            select(func.count(), *(func.count().filter(cond) for cond in conditions))
            .select_from(c)
            .where(and_(*self.filtered(search, within)))
        )
        row = (await self.conn.execute(query)).one()
        return [int(n) for n in row[1:]], int(row[0])

    async def matches(self, customer_id: str, condition: ColumnElement[bool]) -> bool:
        """Whether one customer meets `condition` (COUNT nodes in their per-customer form)."""
        one = for_few_customers(condition)
        query = select(
            exists().where(c.c.workspace_pk == self.workspace_pk, c.c.id == customer_id, one)
        )
        return bool((await self.conn.execute(query)).scalar())

    async def evaluate_many(
        self, customer_pk: int, conditions: Sequence[ColumnElement[bool]]
    ) -> list[bool]:
        """Each condition for one customer, in one statement (COUNT nodes per customer)."""
        if not conditions:
            return []
        labelled = [for_few_customers(cond).label(f"s{i}") for i, cond in enumerate(conditions)]
        row = (await self.conn.execute(select(*labelled).where(c.c.pk == customer_pk))).first()
        return [bool(v) for v in row] if row is not None else [False] * len(conditions)

    async def evaluate_each(
        self, customer_pks: Sequence[int], conditions: Sequence[ColumnElement[bool]]
    ) -> dict[int, list[bool]]:
        """Each condition for each customer, in one statement; by customer pk."""
        if not conditions or not customer_pks:
            return {pk: [False] * len(conditions) for pk in customer_pks}
        labelled = [for_few_customers(cond).label(f"s{i}") for i, cond in enumerate(conditions)]
        query = select(c.c.pk, *labelled).where(
            c.c.workspace_pk == self.workspace_pk, among_pks(c.c.pk, sorted(set(customer_pks)))
        )
        found = {row[0]: [bool(v) for v in row[1:]] for row in await self.conn.execute(query)}
        return {pk: found.get(pk, [False] * len(conditions)) for pk in customer_pks}

    async def explain_count(self, condition: ColumnElement[bool]) -> PlanSummary:
        """The planner's view of counting the matching customers (EXPLAIN, not run)."""
        query = (
            select(func.count())
            .select_from(c)
            .where(c.c.workspace_pk == self.workspace_pk, condition)
        )
        raw = (await self.conn.execute(Explain(query))).scalar_one()
        plan = (json.loads(raw) if isinstance(raw, str) else raw)[0]["Plan"]
        return PlanSummary(
            total_cost=float(plan["Total Cost"]),
            rows=int(_scan_rows(plan)),
            uses_index=_uses_index(plan),
        )

    async def explain_counts(self, conditions: Sequence[ColumnElement[bool]]) -> list[PlanSummary]:
        """`explain_count` of several conditions in one EXPLAIN: each count a scalar
        subquery of one SELECT, which the planner plans on its own as an InitPlan (the
        same plan it would give the count alone)."""
        if not conditions:
            return []
        counts = [
            select(func.count())
            .select_from(c)
            .where(c.c.workspace_pk == self.workspace_pk, condition)
            .scalar_subquery()
            .label(f"count_{i}")
            for i, condition in enumerate(conditions)
        ]
        raw = (await self.conn.execute(Explain(select(*counts)))).scalar_one()
        plan = (json.loads(raw) if isinstance(raw, str) else raw)[0]["Plan"]
        subplans = sorted(plan.get("Plans", []), key=_subplan_number)
        if len(subplans) != len(conditions):  # planned otherwise: explain them one by one
            return [await self.explain_count(condition) for condition in conditions]
        return [
            PlanSummary(
                total_cost=float(sub["Total Cost"]),
                rows=int(_scan_rows(sub)),
                uses_index=_uses_index(sub),
            )
            for sub in subplans
        ]

    async def count_related_each(self, scope: str, customer_pks: Sequence[int]) -> dict[int, int]:
        """How many records of a scope (`events` included) each customer has, in one statement."""
        table = Event.__table__ if scope == "events" else SCOPE_TABLES.get(scope)  # type: ignore[attr-defined]
        if table is None:
            return dict.fromkeys(customer_pks, 0)
        rows = await self.conn.execute(
            select(table.c.customer_pk, func.count())
            .where(among_pks(table.c.customer_pk, customer_pks))
            .group_by(table.c.customer_pk)
        )
        counted = {int(pk): int(n) for pk, n in rows}
        return {pk: counted.get(pk, 0) for pk in customer_pks}

    async def related(self, scope: str, customer_pk: int) -> list[RecordView]:
        return (await self.related_many(scope, [customer_pk])).get(customer_pk, [])

    async def related_many(
        self, scope: str, customer_pks: Sequence[int]
    ) -> dict[int, list[RecordView]]:
        """Several customers' records of one scope in one query, each list by id."""
        table = SCOPE_TABLES[scope]
        rows = await self.conn.execute(
            select(table)
            .where(among_pks(table.c.customer_pk, customer_pks))
            .order_by(table.c.customer_pk, table.c.id)
        )
        return await _views_by_customer(scope, rows)

    async def related_page(
        self, scope: str, customer_pk: int, first: int, after_id: str | None
    ) -> tuple[Page[RecordView], int]:
        """A keyset page of one customer's records by id, and how many there are."""
        return (await self.related_pages(scope, [customer_pk], first, after_id))[customer_pk]

    async def related_pages(
        self, scope: str, customer_pks: Sequence[int], first: int, after_id: str | None
    ) -> dict[int, tuple[Page[RecordView], int]]:
        """The same keyset page for several customers in two queries: rows, then totals."""
        table = SCOPE_TABLES[scope]
        pks = list(customer_pks)
        conditions: list[ColumnElement[bool]] = [among_pks(table.c.customer_pk, pks)]
        if after_id is not None:
            conditions.append(table.c.id > after_id)
        rank = func.row_number().over(partition_by=table.c.customer_pk, order_by=table.c.id)
        ranked = select(table, rank.label("rn")).where(*conditions).subquery()
        rows = await self.conn.execute(
            select(ranked)
            .where(ranked.c.rn <= first + 1)
            .order_by(ranked.c.customer_pk, ranked.c.id)
        )
        found = await _views_by_customer(scope, rows)
        totals = await self.conn.execute(
            select(table.c.customer_pk, func.count())
            .where(among_pks(table.c.customer_pk, pks))
            .group_by(table.c.customer_pk)
        )
        total_by_pk = {pk: int(n) for pk, n in totals}
        pages: dict[int, tuple[Page[RecordView], int]] = {}
        for pk in pks:
            views = found.get(pk, [])[:first]
            more = len(found.get(pk, [])) > first
            page = Page(views, more, [encode_cursor(v.id) for v in views])
            pages[pk] = (page, total_by_pk.get(pk, 0))
        return pages

    # ---- writes --------------------------------------------------------

    async def upsert(self, changes: Sequence[CustomerChange], now: datetime) -> UpsertOutcome:
        """Apply a validated batch; says what was written and whose hasChild may have moved.

        (An import's chunks go through persistence.customer_staging instead, which
        leaves customers whose stored values already equal the file's unwritten.)
        """
        ordered = sorted(changes, key=lambda ch: ch.id)
        existing = await self._lock([ch.id for ch in ordered])
        rows = [self._merged_row(ch, existing.get(ch.id), now) for ch in ordered]
        pks = {id_: int(old["pk"]) for id_, old in existing.items()}
        written = await self._write_rows(rows, pks)
        by_pk = {pks[row["id"]]: row for row in rows}
        found = {pk: row_changes(existing.get(row["id"]), row) for pk, row in by_pk.items()}
        touched_orders: set[int] = set()
        related_changed: set[int] = set()
        for scope in SCOPE_TABLES:
            batch = [(pks[ch.id], rec) for ch in ordered for rec in ch.related.get(scope, ())]
            if batch:
                stored, differing = await self._upsert_records(scope, batch)
                related_changed |= stored
                for pk in differing:
                    add(found, pk, scope_changed(scope))
                if scope == "orders":
                    touched_orders |= stored
        if related_changed - written:  # only their records changed: they changed too
            await self.conn.execute(
                update(c)
                .where(c.c.pk.in_(sorted(related_changed - written)))
                .values(updated_at=now)
            )
            for pk in related_changed - written:
                add(found, pk, changed_fields("updatedAt"))
        if touched_orders:
            old_activity = {int(old["pk"]): old for old in existing.values()}
            for pk, activity in (await self.refresh_activity(sorted(touched_orders))).items():
                if pk in old_activity:  # a new customer has every field changed already
                    add(found, pk, activity_changes(old_activity[pk], activity))
        return UpsertOutcome(
            [ch.id for ch in changes],
            sorted(written | related_changed),
            moved_parents(rows, existing),
            found,
            {pk: id_ for id_, pk in pks.items()},  # locked by _lock, or inserted here
        )

    async def _write_rows(self, rows: list[dict[str, Any]], pks: dict[str, int]) -> set[int]:
        """Insert or update the customer rows; fills `pks` with the new ones, returns all."""
        if not rows:
            return set()
        result = await self.conn.execute(
            _upsert_of(tuple(rows[0])),
            rows,  # executemany: compiled once, sent in batches ("insertmanyvalues")
        )
        written = set()
        for row in result:
            pks[row.id] = row.pk
            written.add(row.pk)
        return written

    async def pk_map(self, ids: set[str]) -> dict[str, int]:
        if not ids:
            return {}
        rows = await self.conn.execute(
            select(c.c.id, c.c.pk).where(
                c.c.workspace_pk == self.workspace_pk, c.c.id.in_(sorted(ids))
            )
        )
        return {r.id: int(r.pk) for r in rows}

    async def pks_of(self, ids: set[str]) -> list[int]:
        if not ids:
            return []
        # one array parameter, however many (an IN list binds one each, 32767 at most)
        rows = await self.conn.execute(
            select(c.c.pk).where(
                c.c.workspace_pk == self.workspace_pk, among_ids(c.c.id, sorted(ids))
            )
        )
        return [int(r.pk) for r in rows]

    async def parents_of(self, customer_pks: Sequence[int]) -> set[str]:
        rows = await self.conn.execute(
            select(c.c.parent_id).where(c.c.pk.in_(list(customer_pks)), c.c.parent_id.is_not(None))
        )
        return {r.parent_id for r in rows}

    async def _lock(self, ids: list[str]) -> dict[str, dict[str, Any]]:
        locking, keys = (_LOCK_ONE, ids[0]) if len(ids) == 1 else (_LOCK, ids)
        rows = await locking.fetch(self.conn, lock_workspace_pk=self.workspace_pk, lock_ids=keys)
        return {r["id"]: dict(r) for r in rows}

    def _merged_row(
        self, change: CustomerChange, old: dict[str, Any] | None, now: datetime
    ) -> dict[str, Any]:
        row: dict[str, Any] = {
            col.name: (old or {}).get(col.name)
            for col in c.columns
            if col.name
            not in ("pk", "orders_count", "total_spent", "last_order_at", "first_order_at")
        }
        for name, value in change.values.items():
            if name == "createdAt" and value is None:
                continue  # createdAt cannot be cleared: null keeps it (or defaults it to now)
            row[snake(name)] = value
        props = {} if change.properties_cleared else dict((old or {}).get("properties") or {})
        props.update(change.properties_set)
        for key in change.properties_removed:
            props.pop(key, None)
        row.update(workspace_pk=self.workspace_pk, id=change.id, properties=props, updated_at=now)
        if row.get("created_at") is None:
            row["created_at"] = now
        return row

    async def _upsert_records(
        self, scope: str, batch: list[tuple[int, RecordChange]]
    ) -> tuple[set[int], set[int]]:
        """Upsert the records. Returns the customers whose records were written (all of
        the batch's) and those whose records changed value."""
        table = SCOPE_TABLES[scope]
        # The stored versions, matched on (customer_pk, id) pairs passed as two arrays:
        # two bind parameters however large the batch (asyncpg allows 32767).
        keys = (
            func.unnest(
                bindparam("pks", [pk for pk, _ in batch], type_=ARRAY(BigInteger)),
                bindparam("ids", [rec.id for _, rec in batch], type_=ARRAY(String)),
            )
            .table_valued("customer_pk", "id")
            .render_derived(name="k")
        )
        old_rows = await self.conn.execute(
            select(table)
            .join(
                keys,
                and_(
                    table.c.workspace_pk == self.workspace_pk,
                    table.c.customer_pk == keys.c.customer_pk,
                    table.c.id == keys.c.id,
                ),
            )
            .order_by(table.c.customer_pk, table.c.id)
            .with_for_update(of=table)
        )
        old = {(r.customer_pk, r.id): dict(r._mapping) for r in old_rows}
        rows = []
        differing: set[int] = set()
        for pk, rec in batch:
            row: dict[str, Any] = {col.name: None for col in table.columns if col.name != "pk"}
            row.update({k: v for k, v in old.get((pk, rec.id), {}).items() if k != "pk"})
            row.update({snake(k): v for k, v in rec.values.items()})
            row.update(workspace_pk=self.workspace_pk, customer_pk=pk, id=rec.id)
            if _differs(row, old.get((pk, rec.id))):
                differing.add(pk)
            rows.append(row)
        if not rows:
            return set(), set()
        stmt = insert(table)
        await self.conn.execute(
            stmt.on_conflict_do_update(
                constraint=f"{table.name}_customer_id_key",
                set_={
                    col: stmt.excluded[col]
                    for col in rows[0]
                    if col not in ("workspace_pk", "customer_pk", "id")
                },
            ),
            rows,
        )
        return {row["customer_pk"] for row in rows}, differing

    async def refresh_activity(self, customer_pks: list[int]) -> dict[int, dict[str, Any]]:
        """Recompute ordersCount, totalSpent, first/lastOrderAt from the orders themselves;
        returns the new values by customer pk."""
        orders = SCOPE_TABLES["orders"]
        counted = and_(
            orders.c.customer_pk == c.c.pk,
            func.coalesce(orders.c.status, "PLACED").not_in(EXCLUDED_ORDER_STATUSES),
        )
        result = await self.conn.execute(
            update(c)
            .where(c.c.pk.in_(customer_pks))
            .values(
                orders_count=select(func.count()).where(counted).scalar_subquery(),
                total_spent=select(func.coalesce(func.sum(func.coalesce(orders.c.amount, 0)), 0))
                .where(counted)
                .scalar_subquery(),
                first_order_at=select(func.min(orders.c.placed_at))
                .where(counted)
                .scalar_subquery(),
                last_order_at=select(func.max(orders.c.placed_at)).where(counted).scalar_subquery(),
            )
            .returning(c.c.pk, *(c.c[name] for name in ACTIVITY_COLUMNS))
        )
        return {int(r.pk): dict(r._mapping) for r in result}

    async def last_change(self) -> datetime | None:
        """When the workspace's customers last changed: the newest write or deletion."""
        written = select(func.max(c.c.updated_at)).where(c.c.workspace_pk == self.workspace_pk)
        deleted = select(workspace_table.c.customers_deleted_at).where(
            workspace_table.c.pk == self.workspace_pk
        )
        query = select(func.greatest(written.scalar_subquery(), deleted.scalar_subquery()))
        found = (await self.conn.execute(query)).scalar_one()
        return found if isinstance(found, datetime) else None

    async def delete(self, ids: Sequence[str], now: datetime) -> list[str]:
        result = await self.conn.execute(
            delete(c)
            .where(c.c.workspace_pk == self.workspace_pk, c.c.id.in_(list(ids)))
            .returning(c.c.id)
        )
        deleted = [r.id for r in result]
        if deleted:
            # Cached segment counts notice deletions by this mark (updated_at cannot tell).
            await self.conn.execute(
                update(workspace_table)
                .where(workspace_table.c.pk == self.workspace_pk)
                .values(customers_deleted_at=now)
            )
        return deleted


def _differs(row: dict[str, Any], stored: dict[str, Any] | None) -> bool:
    """Whether writing `row` would change the stored version (updatedAt aside)."""
    if stored is None:
        return True
    return any(stored.get(name) != value for name, value in row.items() if name != "updated_at")


def utcnow() -> datetime:
    return datetime.now(UTC)
