"""Each workspace's definitions (segments, custom properties), cached in the process by version.

Reads need them for every evaluation: the catalog to check a predicate, the
segments to compile one. Loading them costs several queries a request, and
parsing stored predicates again costs more. The version (persistence.definitions)
comes with the caller's key at no extra round trip, so a request reuses what
this process loaded under that version, or newer, and loads once otherwise.
Writes that check definitions under their locks (segment mutations) never use
this cache: they load inside their own transaction.
"""

from __future__ import annotations

from dataclasses import dataclass

from api.context import Context
from domain.errors import segment_not_found
from domain.fields import FieldCatalog
from domain.segment import Segment
from persistence.definitions import definitions_version
from persistence.evaluation import WorkspaceSegments
from persistence.unit_of_work import UnitOfWork

WORKSPACES_CACHED = 1000


@dataclass(frozen=True)
class Loaded:
    version: int
    segments: WorkspaceSegments


def known_segment(segments: WorkspaceSegments, segment_id: str) -> Segment:
    """The segment `segment_id` among `segments`; NOT_FOUND (at `segmentId`) if absent."""
    segment = segments.by_id.get(segment_id)
    if segment is None:
        raise segment_not_found(segment_id, "segmentId")
    return segment


async def _load(uow: UnitOfWork) -> WorkspaceSegments:
    catalog = FieldCatalog.for_workspace((await uow.properties.all()).values())
    return WorkspaceSegments(await uow.segments.all(), catalog, uow.workspace_pk)


def _cache(ctx: Context) -> dict[int, Loaded]:
    cache: dict[int, Loaded] = ctx.runtime.extras.setdefault("definitions", {})
    return cache


def _loaded(ctx: Context, workspace_pk: int, version: int) -> WorkspaceSegments | None:
    """What this process loaded for the workspace under `version` or newer, if anything."""
    loaded = _cache(ctx).get(workspace_pk)
    return loaded.segments if loaded is not None and loaded.version >= version else None


def cached_segments(ctx: Context) -> WorkspaceSegments | None:
    """What `current_segments` would return, when it needs no query (else None)."""
    caller = ctx.caller
    if caller is None or caller.definitions_version is None:
        return None
    return _loaded(ctx, caller.workspace_pk, caller.definitions_version)


async def current_segments(ctx: Context, uow: UnitOfWork) -> WorkspaceSegments:
    """The workspace's segments and catalog, no older than the caller's definitions version.

    A caller without a version (a WebSocket connection, which lives long) reads it first.
    What loads after the version was read is at least that new, so it is cached under it.
    """
    caller = ctx.caller
    version = caller.definitions_version if caller is not None else None
    if version is None:
        version = await definitions_version(uow.conn, uow.workspace_pk)
    known = _loaded(ctx, uow.workspace_pk, version)
    if known is not None:
        return known
    if uow.on_replica:
        # A replica may not have replayed the version read on the primary yet: what it
        # holds could be older, and would be cached as that version.
        async with ctx.primary_reading() as primary:
            segments = await _load(primary)
    else:
        segments = await _load(uow)
    cache = _cache(ctx)
    cache.pop(uow.workspace_pk, None)
    if len(cache) >= WORKSPACES_CACHED:
        cache.pop(next(iter(cache)))  # the least recently loaded
    cache[uow.workspace_pk] = Loaded(version, segments)
    return segments
