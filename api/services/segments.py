"""Segment lifecycle use cases: create, update, delete, usages.

Every change locks the segment row first (`get(..., lock=True)`), so two
concurrent edits, or an edit racing an activation, apply one after the other
to the same state. Creates, edits and deletes also take the workspace's
definitions lock before that (`lock_definitions`), which keeps names unique
and references acyclic under concurrency. The rules themselves live on
`domain.segment.Segment`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from api.context import Context
from api.services.membership import record_baseline, resync
from api.services.predicates import select_customers, workspace_segments
from domain.customer import check_id
from domain.errors import DomainError, ErrorCode, ValidationFailed, segment_not_found
from domain.predicate import referenced_segments, to_json
from domain.predicate_text import render
from domain.segment import (
    MAX_STATIC_MEMBERS,
    Segment,
    SegmentKind,
    UsageKind,
    check_description,
    check_name,
    check_static_size,
    new_segment_id,
)
from persistence.unit_of_work import UnitOfWork


@dataclass(frozen=True)
class CreateRequest:
    name: str
    description: str | None = None
    predicate: object | None = None
    customer_ids: Sequence[str] | None = None
    from_segment_id: str | None = None
    static: bool = False


def _one_source(request: CreateRequest) -> None:
    given = [
        name
        for name, value in (
            ("predicate", request.predicate),
            ("customerIds", request.customer_ids),
            ("fromSegmentId", request.from_segment_id),
        )
        if value is not None
    ]
    if len(given) != 1:
        raise DomainError(
            ErrorCode.INVALID,
            "Give exactly one of predicate, customerIds or fromSegmentId "
            f"(got {', '.join(given) or 'none'}).",
            ("input",),
        )
    if request.static and request.predicate is None:
        raise DomainError(
            ErrorCode.INVALID, "static: true goes with a predicate.", ("input", "static")
        )


async def _unique_name(uow: UnitOfWork, name: str, except_pk: int | None = None) -> None:
    if await uow.segments.name_taken(name, except_pk):
        raise DomainError(
            ErrorCode.NAME_TAKEN, f"A segment named {name!r} already exists.", ("input", "name")
        )


async def create_segment(ctx: Context, request: CreateRequest) -> Segment:
    _one_source(request)
    name = check_name(request.name)
    description = (
        check_description(request.description) if request.description is not None else None
    )
    now = ctx.runtime.clock()
    async with ctx.uow() as uow:
        await uow.segments.lock_definitions()
        await _unique_name(uow, name)
        segment = Segment(
            pk=None,
            id=new_segment_id(),
            name=name,
            description=description,
            kind=SegmentKind.STATIC,
            predicate=None,
            time_relative=False,
            created_at=now,
            updated_at=now,
        )
        if request.predicate is not None and not request.static:
            selection = await select_customers(uow, request.predicate, now, ("input", "predicate"))
            segment.kind = SegmentKind.PASSIVE
            segment.predicate = to_json(selection.node)
            segment.predicate_text = render(selection.node)
            segment.time_relative = selection.time_relative
            await uow.segments.add(segment)
            assert segment.pk is not None
            await uow.segments.set_references(segment.pk, referenced_segments(selection.node))
        else:
            await uow.segments.add(segment)
            await _store_static_members(uow, ctx, segment, request)
        await uow.commit()
    return segment


async def _store_static_members(
    uow: UnitOfWork, ctx: Context, segment: Segment, request: CreateRequest
) -> None:
    """A STATIC segment's list: given ids, another segment's members, or a predicate's."""
    assert segment.pk is not None
    if request.customer_ids is not None:
        ids = _checked_ids(request.customer_ids)
        await _ensure_exist(uow, ids)
        if await uow.segments.store_members_by_ids(segment.pk, ids) < len(ids):
            await _ensure_exist(uow, ids)  # some were deleted meanwhile: name them
        return
    now = ctx.runtime.clock()
    if request.from_segment_id is not None:
        source = await uow.segments.get(request.from_segment_id)
        if source is None:
            raise segment_not_found(request.from_segment_id, "input", "fromSegmentId")
        condition = (await workspace_segments(uow, {source.id})).condition(source, now)
        path: tuple[str, ...] = ("input", "fromSegmentId")
    else:
        condition = (
            await select_customers(uow, request.predicate, now, ("input", "predicate"))
        ).condition
        path = ("input", "predicate")
    check_static_size(await uow.segments.count_where(condition), path)
    # Checked again on what was stored: customers may have come or gone since the count.
    check_static_size(await uow.segments.store_members_where(segment.pk, condition), path)


async def _ensure_exist(uow: UnitOfWork, ids: list[str]) -> None:
    missing = sorted(set(ids) - await uow.segments.existing_customer_ids(ids))
    if missing:
        shown = ", ".join(repr(m) for m in missing[:20])
        more = f" and {len(missing) - 20} more" if len(missing) > 20 else ""
        raise DomainError(
            ErrorCode.NOT_FOUND,
            f"Unknown customers: {shown}{more}. Nothing was created.",
            ("input", "customerIds"),
        )


def _checked_ids(raw: Sequence[str]) -> list[str]:
    path = ("input", "customerIds")
    if len(raw) > MAX_STATIC_MEMBERS:
        check_static_size(len(raw), path)
    if not raw:
        check_static_size(0, path)
    errors = []
    for index, item in enumerate(raw):
        try:
            check_id(item, (*path, str(index)))
        except DomainError as err:
            errors.append(err)
    if errors:
        raise ValidationFailed(errors[:50])
    return list(dict.fromkeys(raw))


async def _locked(uow: UnitOfWork, segment_id: str, path: str = "id") -> Segment:
    segment = await uow.segments.get(segment_id, lock=True)
    if segment is None:
        raise segment_not_found(segment_id, path)
    return segment


@dataclass(frozen=True)
class UpdateRequest:
    name: str | None = None
    description: str | None = None
    clear_description: bool = False
    predicate: object | None = None


async def update_segment(ctx: Context, segment_id: str, request: UpdateRequest) -> Segment:
    async with ctx.uow() as uow:
        await uow.segments.lock_definitions()
        segment = await _locked(uow, segment_id)
        now = ctx.runtime.clock()  # read under the lock, so times follow the order of changes
        if request.name is not None:
            await _unique_name(uow, check_name(request.name), segment.pk)
        predicate_json = None
        time_relative = segment.time_relative
        node = None
        if request.predicate is not None:
            selection = await select_customers(
                uow, request.predicate, now, ("input", "predicate"), saving=segment.id
            )
            node = selection.node
            predicate_json = to_json(node)
            time_relative = selection.time_relative
        segment.update(
            now,
            name=request.name,
            description=request.description,
            clear_description=request.clear_description,
            predicate=predicate_json,
            predicate_text=render(node) if node is not None else None,
            time_relative=time_relative,
        )
        await uow.segments.save(segment)
        if node is not None:
            assert segment.pk is not None
            await uow.segments.set_references(segment.pk, referenced_segments(node))
            await uow.segments.forget_stats(segment.pk)
            segments = await workspace_segments(uow)
            for dependent_id in segments.dependents(segment.id, kind=None):
                # A reference can make a segment time-relative (or stop doing so).
                dependent = segments.by_id[dependent_id]
                relative = segments.reaches_time(dependent_id)
                if dependent.pk is not None and relative != dependent.time_relative:
                    await uow.segments.set_time_relative(dependent.pk, relative)
            dependents = segments.dependents(segment.id)
            if dependents:
                # ACTIVE segments built on this one change membership with it: record it now.
                await resync(uow, ctx.runtime.clock, lambda s: s.id in dependents)
        await uow.commit()
    return segment


async def delete_segment(ctx: Context, segment_id: str) -> str:
    async with ctx.uow() as uow:
        await uow.segments.lock_definitions()
        segment = await _locked(uow, segment_id)
        assert segment.pk is not None
        segment.ensure_deletable(await uow.segments.referenced_by(segment.pk))
        await uow.segments.remove(segment.pk)
        await uow.commit()
    return segment.id


async def attach_usage(ctx: Context, segment_id: str, kind: UsageKind, reference: str) -> Segment:
    async with ctx.uow() as uow:
        segment = await _locked(uow, segment_id, "segmentId")
        now = ctx.runtime.clock()
        if segment.attach(kind, reference, now):
            await record_baseline(uow, segment, now)
        await uow.segments.save(segment)
        await uow.commit()
    return segment


async def detach_usage(ctx: Context, segment_id: str, kind: UsageKind, reference: str) -> Segment:
    async with ctx.uow() as uow:
        segment = await _locked(uow, segment_id, "segmentId")
        now = ctx.runtime.clock()
        segment.detach(kind, reference, now)
        await uow.segments.save(segment)
        await uow.commit()
    return segment
