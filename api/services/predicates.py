"""Predicate use cases: live preview, filtering customers, the field catalog."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Hashable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import ColumnElement, and_

from api.context import Context
from api.services.batching import request_loader
from api.services.definitions import cached_segments, current_segments, known_segment
from domain.errors import DomainError, ErrorCode
from domain.fields import CUSTOM_PROPERTY_PREFIX, FieldCatalog, FieldDescriptor
from domain.instant import format_instant
from domain.predicate import Node, Scope, field_paths, referenced_segments
from domain.predicate_parser import parse_predicate
from domain.records import CustomerView, Page
from persistence.cursors import Slice
from persistence.customers import PagePlan
from persistence.evaluation import WorkspaceSegments, evaluation_guard, membership_condition
from persistence.field_map import snake
from persistence.segments import stored_membership
from persistence.unit_of_work import UnitOfWork

Loader = Callable[[], Awaitable[int]]


@dataclass
class Selection:
    """A checked predicate, compiled for one instant, and what it reads."""

    node: Node
    condition: ColumnElement[bool]
    columns: list[str]
    now: datetime
    time_relative: bool


async def catalog_of(uow: UnitOfWork) -> FieldCatalog:
    return FieldCatalog.for_workspace((await uow.properties.all()).values())


async def workspace_segments(
    uow: UnitOfWork, needed: set[str] | None = None, catalog: FieldCatalog | None = None
) -> WorkspaceSegments:
    """The workspace's segments for evaluation: all of them, or only `needed` and every
    segment they reach through references (what a read of one segment needs)."""
    found = await (uow.segments.all() if needed is None else uow.segments.closure(needed))
    return WorkspaceSegments(found, catalog or await catalog_of(uow), workspace_pk=uow.workspace_pk)


async def select_customers(
    uow: UnitOfWork,
    raw: object,
    now: datetime,
    path: tuple[str, ...] = ("predicate",),
    saving: str | None = None,
    known: WorkspaceSegments | None = None,
) -> Selection:
    """Parse and check `raw` against the workspace's fields and segments.

    Raises ValidationFailed (or DomainError) naming every problem; `saving` is the
    id the predicate will be saved under, for the reference-cycle check. `known`:
    definitions already at hand (reads); otherwise they are loaded in `uow`.
    """
    catalog = known.catalog if known is not None else await catalog_of(uow)
    node = parse_predicate(raw, catalog, path=path)
    segments = known or await workspace_segments(uow, referenced_segments(node), catalog)
    segments.check_references(node, path, saving)
    condition = membership_condition(
        node, segments.catalog, now, segments, stored_membership, uow.workspace_pk
    )
    return Selection(node, condition, field_paths(node), now, segments.time_relative(node))


@dataclass
class Preview:
    columns: list[str]
    page: Page[CustomerView]
    count: Loader
    total: Loader


async def preview(ctx: Context, raw: object, window: Slice[str], search: str | None) -> Preview:
    """Who matches `raw` now: a first page at once, counts only when asked for."""
    timeout = ctx.runtime.settings.statement_timeout_ms
    async with ctx.reading() as uow:
        known = await current_segments(ctx, uow)
        selection = await select_customers(uow, raw, ctx.runtime.clock(), known=known)
        async with evaluation_guard(timeout):
            page = await uow.customers.page(window, search, selection.condition)

    async def count() -> int:
        async with ctx.reading() as uow, evaluation_guard(timeout):
            return await uow.customers.count(search, selection.condition)

    async def total() -> int:
        async with ctx.reading() as uow:
            return await uow.customers.count()

    return Preview(selection.columns, page, memo(count), memo(total))


def memo(loader: Loader) -> Loader:
    """Run `loader` at most once, however many fields ask for its result."""
    result: list[int] = []

    async def once() -> int:
        if not result:
            result.append(await loader())
        return result[0]

    return once


async def field_catalog(ctx: Context) -> tuple[list[FieldDescriptor], list[str]]:
    """Every field a predicate may name, and the event names seen (suggestions for EVENTS name)."""
    async with ctx.reading() as uow:
        catalog = (await current_segments(ctx, uow)).catalog
        return catalog.descriptors(), await uow.events.names()


async def filtered_page(
    ctx: Context,
    window: Slice[str],
    search: str | None,
    where: object | None,
    segment_id: str | None = None,
    *,
    with_page: bool = True,
    columns: frozenset[str] | None = None,
) -> tuple[Page[CustomerView], Loader]:
    """The customer list, narrowed by an inline predicate and/or a saved segment.

    Raises ValidationFailed / DomainError (unknown segment) naming the argument.
    `with_page=False`: only the count is asked for; the page is left empty, unread.
    `columns`: the view fields the caller reads (the others are None); None: all.
    """
    timeout = ctx.runtime.settings.statement_timeout_ms
    now = ctx.runtime.clock()
    async with ctx.reading() as uow:
        known = await current_segments(ctx, uow)
        planned = await _planned(uow, known, window, search, where, segment_id, now, columns)
        page: Page[CustomerView] = Page([], False, [])
        if with_page:
            async with evaluation_guard(timeout):
                if planned.plan is None:
                    page = await uow.customers.page(window, search, planned.condition, columns)
                else:
                    page = await uow.customers.planned_page(planned.plan, window)

    async def count() -> int:
        async with ctx.reading() as uow, evaluation_guard(timeout):
            return await uow.customers.count(search, planned.condition)

    return page, memo(count)


@dataclass(frozen=True)
class PlannedPage:
    """A filter's condition, and its page statement compiled once for a shape of request
    (None when the request is not one to cache)."""

    condition: ColumnElement[bool] | None
    plan: PagePlan | None = None


PLANS_CACHED = 32
"""Plans kept per workspace (with its definitions, up to WORKSPACES_CACHED of them): a
screen's few filters, not every predicate a user tried."""


def _plan_key(
    window: Slice[str], search: str | None, where: object | None, columns: frozenset[str] | None
) -> Hashable:
    """What a page's statement depends on besides the definitions: the predicate's text,
    the window's shape (cursor keys and search terms are its arguments) and the columns."""
    shape = (window.size, window.after is None, window.before is None, window.backward)
    return (json.dumps(where, sort_keys=True), search is None, shape, columns)


async def _planned(
    uow: UnitOfWork,
    known: WorkspaceSegments,
    window: Slice[str],
    search: str | None,
    where: object | None,
    segment_id: str | None,
    now: datetime,
    columns: frozenset[str] | None = None,
) -> PlannedPage:
    """The request's condition and statement, from the definitions' cache when the same
    predicate was planned before. Not cached: a saved segment's filter, a search (its term
    is compiled into a pattern), and time-relative predicates, whose SQL holds `now`."""
    cached = segment_id is None and search is None
    key = _plan_key(window, search, where, columns) if cached else None
    found = known.plans.get(key) if key is not None else None
    if isinstance(found, PlannedPage):
        return found
    conditions = []
    cacheable = key is not None
    if where is not None:
        selection = await select_customers(uow, where, now, ("where",), known=known)
        conditions.append(selection.condition)
        cacheable = cacheable and not selection.time_relative
    if segment_id is not None:
        conditions.append(known.condition(known_segment(known, segment_id), now))
    condition = and_(*conditions) if conditions else None
    if not cacheable:
        return PlannedPage(condition)
    planned = PlannedPage(condition, uow.customers.page_plan(window, search, condition, columns))
    if len(known.plans) >= PLANS_CACHED:
        known.plans.pop(next(iter(known.plans)))  # the oldest
    known.plans[key] = planned
    return planned


async def related_count(ctx: Context, scope: str, customer_pk: int) -> int:
    """How many records of `scope` a customer has; the customers of one level share
    one statement per scope."""

    async def load(pks: Sequence[int]) -> list[int]:
        async with ctx.reading() as uow:
            counted = await uow.customers.count_related_each(scope, sorted(set(pks)))
        return [counted[pk] for pk in pks]

    found: int = await request_loader(ctx, f"related_count:{scope}", load).load(customer_pk)
    return found


async def customer_value(ctx: Context, view: CustomerView, path: str) -> object:
    """Any predicate field path's value for one customer, as JSON (adaptive table columns).

    A related scope's name (`invoices`) gives the number of its records.
    """
    scopes = {scope.value.lower(): scope for scope in Scope}
    if path in scopes:
        return await related_count(ctx, scopes[path].value.lower(), view.pk)
    known = cached_segments(ctx)  # a page of rows asks once each: no query when cached
    if known is None:
        async with ctx.reading() as uow:
            known = await current_segments(ctx, uow)
    catalog = known.catalog
    if catalog.customer_field(path) is None:
        raise DomainError(
            ErrorCode.UNKNOWN_FIELD, f"There is no customer field {path!r}.", ("field",)
        )
    if path.startswith(CUSTOM_PROPERTY_PREFIX):
        return view.properties.get(path[len(CUSTOM_PROPERTY_PREFIX) :])
    value = view.has_parent if path == "hasParent" else getattr(view, snake(path))
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, datetime):
        return format_instant(value)
    return value
