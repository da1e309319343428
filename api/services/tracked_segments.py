"""The ACTIVE segments a write is re-evaluated against, compiled once per definition.

Every customer write re-evaluates its customers against each ACTIVE segment of
the workspace. Loading the segments and the catalog, then parsing and
compiling a hundred predicates, costs tens of milliseconds of Python: far
more than the database needs to probe a few rows, and it ran on every write.
The compiled conditions are kept in the process under the workspace's
definitions version (persistence.definitions), read with "is any segment
ACTIVE" in one cheap statement inside the writer's transaction: any change to
a segment or a custom property moves the version, hence a fresh compile.

Each segment's dependencies (domain.footprint: the fields, scopes and event
names its predicate reads, through references) are derived in the same compile,
so a write re-evaluates only the segments reading something it changed.

Conditions reaching relative times (`now-30d`) depend on the instant of
evaluation, read under the workspace lock: those alone, usually few, are
compiled again at each use.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from domain.boundaries import Instant, NotBounded, boundary, boundary_key
from domain.fields import FieldCatalog
from domain.footprint import NOTHING, DependencyIndex, Footprint, dependencies
from domain.segment import Segment, SegmentKind
from persistence.evaluation import WorkspaceSegments
from persistence.membership import ComparisonPlans, Tracked, active_definitions_version
from persistence.unit_of_work import UnitOfWork

CACHED_WORKSPACES = 64
Only = Callable[[Segment], bool]


@dataclass(frozen=True)
class TrackedSegments:
    """A workspace's ACTIVE segments at one definitions version, with what compiles once."""

    segments: WorkspaceSegments
    active: tuple[Segment, ...]
    fixed: dict[int, Tracked]  # by segment pk: no relative time anywhere in them
    readers: DependencyIndex  # segment pks by what their predicates read
    bounds: dict[int, Instant]  # by pk: time-relative segments whose next changes are known
    plans: ComparisonPlans  # the writes' comparisons of fixed segments, compiled once

    @classmethod
    def compile(cls, segments: WorkspaceSegments) -> TrackedSegments:
        """Compile the conditions that do not depend on the instant (any instant will do)."""
        now = datetime.now(UTC)
        active = tuple(s for s in segments.by_id.values() if s.kind is SegmentKind.ACTIVE and s.pk)
        fixed = {
            s.pk: Tracked(s.pk, s.id, segments.condition(s, now), fixed=True)
            for s in active
            if s.pk and not segments.reaches_time(s.id)
        }
        readers = DependencyIndex({s.pk: _reads(segments, s) for s in active if s.pk})
        bounds = {
            s.pk: found
            for s in active
            if s.pk and s.pk not in fixed and (found := _bound(segments, s)) is not None
        }
        return cls(segments, active, fixed, readers, bounds, ComparisonPlans())

    @property
    def pks(self) -> list[int]:
        return [s.pk for s in self.active if s.pk]

    def to_reevaluate(self, changes: Mapping[int, Footprint]) -> dict[int, frozenset[int]]:
        """For each changed customer, the ACTIVE segments reading something it changed
        (customers none of them reads are left out)."""
        wanted = {pk: self.readers.reached_by(change) for pk, change in changes.items()}
        return {pk: segments for pk, segments in wanted.items() if segments}

    def reaches_time(self, segment: Segment) -> bool:
        return segment.pk not in self.fixed

    def at(self, only: Only | None = None) -> Callable[[datetime], list[Tracked]]:
        """The conditions of the ACTIVE segments (all, or those `only` keeps) at an instant."""
        chosen = [s for s in self.active if only is None or only(s)]

        def conditions(now: datetime) -> list[Tracked]:
            return [self.fixed.get(s.pk) or self._timed(s, now) for s in chosen if s.pk]

        return conditions

    def boundary_keys(self) -> dict[int, str]:
        """The time-bounded segments (swept by due rows, not rescans), each with the name
        of its description (rows computed from another are stale)."""
        return {pk: boundary_key(instant) for pk, instant in self.bounds.items()}

    def _timed(self, segment: Segment, now: datetime) -> Tracked:
        assert segment.pk is not None
        condition = self.segments.condition(segment, now)
        instant = self.bounds.get(segment.pk)
        if instant is None:
            return Tracked(segment.pk, segment.id, condition)
        next_at = self.segments.next_change(instant, now)
        return Tracked(segment.pk, segment.id, condition, next_at, boundary_key(instant))


def _bound(segments: WorkspaceSegments, segment: Segment) -> Instant | None:
    """The segment's time boundary description; None when it falls back to rescans."""
    node = segments.predicate(segment.id)
    if node is None:
        return None
    try:
        return boundary(node, segments.predicate)
    except NotBounded:
        return None


def _reads(segments: WorkspaceSegments, segment: Segment) -> Footprint:
    node = segments.predicate(segment.id)
    return NOTHING if node is None else dependencies(node, segments.predicate)


class _Cache:
    """The last compiled TrackedSegments of the most recently used workspaces."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.entries: OrderedDict[tuple[int, int], TrackedSegments] = OrderedDict()

    def get(self, key: tuple[int, int]) -> TrackedSegments | None:
        found = self.entries.get(key)
        if found is not None:
            self.entries.move_to_end(key)
        return found

    def put(self, key: tuple[int, int], value: TrackedSegments) -> None:
        for stale in [k for k in self.entries if k[0] == key[0]]:
            del self.entries[stale]  # one version a workspace: the older ones are dead
        self.entries[key] = value
        while len(self.entries) > self.size:
            self.entries.popitem(last=False)


_cache = _Cache(CACHED_WORKSPACES)


async def tracked_segments(uow: UnitOfWork) -> TrackedSegments | None:
    """The workspace's ACTIVE segments as they are defined now; None when there are none.

    Read in the caller's transaction (after the write gate), as an uncached read
    would be; a writer read the version with the gate already. A compile is cached
    under the version read before its definitions were loaded: they are at least
    that new, so a definition committed in between only costs a compile more,
    never a stale hit.
    """
    if uow.write_gate_entered:
        version = uow.active_version_at_gate
    else:
        version = await active_definitions_version(uow.conn, uow.workspace_pk)
    if version is None:
        return None
    found = _cache.get((uow.workspace_pk, version))
    if found is None:
        found = await _compile(uow, version)
    return found if found.active else None


async def _compile(uow: UnitOfWork, version: int) -> TrackedSegments:
    from api.services.predicates import workspace_segments

    properties = (await uow.properties.all()).values()
    segments = await workspace_segments(uow, catalog=FieldCatalog.for_workspace(properties))
    compiled = TrackedSegments.compile(segments)
    _cache.put((uow.workspace_pk, version), compiled)
    return compiled
