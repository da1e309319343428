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
from domain.fields import FieldCatalog
from persistence.definitions import definitions_version
from persistence.evaluation import WorkspaceSegments
from persistence.unit_of_work import UnitOfWork

WORKSPACES_CACHED = 1000


@dataclass(frozen=True)
class Loaded:
    version: int
    segments: WorkspaceSegments


def cached_segments(ctx: Context) -> WorkspaceSegments | None:
    """What `current_segments` would return, when it needs no query (else None)."""
    caller = ctx.caller
    if caller is None or caller.definitions_version is None:
        return None
    cache: dict[int, Loaded] = ctx.runtime.extras.setdefault("definitions", {})
    loaded = cache.get(caller.workspace_pk)
    if loaded is not None and loaded.version >= caller.definitions_version:
        return loaded.segments
    return None


async def current_segments(ctx: Context, uow: UnitOfWork) -> WorkspaceSegments:
    """The workspace's segments and catalog, no older than the caller's definitions version.

    A caller without a version (a WebSocket connection, which lives long) reads it first.
    """
    known = cached_segments(ctx)
    if known is not None:
        return known
    cache: dict[int, Loaded] = ctx.runtime.extras.setdefault("definitions", {})
    caller = ctx.caller
    wanted = caller.definitions_version if caller is not None else None
    if wanted is None:
        wanted = await definitions_version(uow.conn, uow.workspace_pk)
    loaded = cache.get(uow.workspace_pk)
    if loaded is not None and loaded.version >= wanted:
        return loaded.segments
    # Read the version before the definitions: what loads after it is at least that new.
    version = await definitions_version(uow.conn, uow.workspace_pk)
    catalog = FieldCatalog.for_workspace((await uow.properties.all()).values())
    segments = WorkspaceSegments(await uow.segments.all(), catalog, uow.workspace_pk)
    cache.pop(uow.workspace_pk, None)
    if len(cache) >= WORKSPACES_CACHED:
        cache.pop(next(iter(cache)))  # the least recently loaded
    cache[uow.workspace_pk] = Loaded(version, segments)
    return segments
