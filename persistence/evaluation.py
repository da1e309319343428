"""Turning a checked predicate into SQL for one workspace, and the failures evaluation can meet."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Hashable, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql.selectable import Exists, ScalarSelect, Select
from sqlalchemy.sql.visitors import iterate

from domain.boundaries import Instant
from domain.errors import DomainError, ErrorCode, ValidationFailed
from domain.fields import FieldCatalog
from domain.predicate import (
    Node,
    is_time_relative,
    reads_events,
    referenced_segments,
    segment_reference_paths,
)
from domain.predicate_parser import parse_predicate
from domain.segment import Segment, SegmentKind
from domain.segment_graph import find_cycle
from persistence.boundaries import next_change
from persistence.compiler import (
    CompileContext,
    NoSegments,
    SegmentDefinition,
    SegmentSource,
    StaticMembers,
    compile_predicate,
)
from persistence.segments import stored_membership

QUERY_CANCELED = "57014"  # statement_timeout or a cancel request


def membership_condition(
    node: Node,
    catalog: FieldCatalog,
    now: datetime,
    segments: SegmentSource | None = None,
    static_members: StaticMembers | None = None,
    workspace_pk: int | None = None,
) -> ColumnElement[bool]:
    ctx = CompileContext(
        now=now,
        catalog=catalog,
        segments=segments or NoSegments(),
        static_members=static_members,
        workspace_pk=workspace_pk,
    )
    return compile_predicate(node, ctx)


def _sqlstate(exc: BaseException) -> str | None:
    for candidate in (exc, getattr(exc, "orig", None), getattr(exc, "__cause__", None)):
        code = getattr(candidate, "sqlstate", None) or getattr(candidate, "pgcode", None)
        if isinstance(code, str):
            return code
    orig = getattr(exc, "orig", None)
    cause = getattr(orig, "__cause__", None)
    code = getattr(cause, "sqlstate", None)
    return code if isinstance(code, str) else None


UNSTORABLE_TEXT = ("22021", "22P05")  # character_not_in_repertoire, untranslatable_character


def refused_as_unstorable(exc: BaseException) -> bool:
    """Whether a statement failed on a parameter PostgreSQL text cannot hold: NUL (refused by
    the server) or a lone surrogate (refused by the driver before sending)."""
    if _sqlstate(exc) in UNSTORABLE_TEXT:
        return True
    chain: BaseException | None = exc
    while chain is not None:
        if isinstance(chain, UnicodeEncodeError):
            return True
        chain = chain.__cause__ or getattr(chain, "orig", None)
    return False


def reads_other_rows(condition: ColumnElement[bool]) -> bool:
    """Whether `condition` holds a subquery (related records, events, stored lists), as
    opposed to reading only the customer's own row."""
    return any(isinstance(e, (Select, Exists, ScalarSelect)) for e in iterate(condition))


@asynccontextmanager
async def evaluation_guard(timeout_ms: int) -> AsyncIterator[None]:
    """A query cut off by statement_timeout becomes a QUERY_TIMEOUT refusal."""
    try:
        yield
    except DBAPIError as exc:
        if _sqlstate(exc) == QUERY_CANCELED:
            raise DomainError(
                ErrorCode.QUERY_TIMEOUT,
                f"Evaluating this predicate took longer than {timeout_ms} ms and was stopped; "
                "narrow it, or declare the custom properties it uses as indexed.",
                ("predicate",),
            ) from exc
        raise


class WorkspaceSegments:
    """The workspace's saved segments, as the compiler's SegmentSource.

    Stored predicates were checked when saved and custom properties never change
    type, so they parse again against today's catalog; each is parsed once.
    """

    def __init__(
        self, segments: Sequence[Segment], catalog: FieldCatalog, workspace_pk: int | None = None
    ) -> None:
        self.by_id = {s.id: s for s in segments}
        self.catalog = catalog
        self.workspace_pk = workspace_pk
        self._parsed: dict[str, Node] = {}
        self._unseen: dict[str, bool] = {}
        self._conditions: dict[tuple[str, int], ColumnElement[bool]] = {}
        self.plans: dict[Hashable, Any] = {}
        """What reads compiled against these definitions (a customer page's statement by
        its predicate), dropped with them when the definitions change."""

    def predicate(self, segment_id: str) -> Node | None:
        segment = self.by_id.get(segment_id)
        if segment is None or segment.predicate is None:
            return None
        if segment_id not in self._parsed:
            self._parsed[segment_id] = parse_predicate(segment.predicate, self.catalog)
        return self._parsed[segment_id]

    def definition(self, segment_id: str) -> SegmentDefinition | None:
        segment = self.by_id.get(segment_id)
        if segment is None or segment.pk is None:
            return None
        return SegmentDefinition(segment.pk, self.predicate(segment_id))

    def references(self, segment_id: str) -> set[str]:
        node = self.predicate(segment_id)
        return referenced_segments(node) if node is not None else set()

    def dependents(
        self, segment_id: str, kind: SegmentKind | None = SegmentKind.ACTIVE
    ) -> set[str]:
        """Segments (ACTIVE ones, or of any kind) whose membership depends on `segment_id`."""
        found: set[str] = set()
        for candidate in self.by_id.values():
            if (kind is not None and candidate.kind is not kind) or candidate.id == segment_id:
                continue
            seen: set[str] = set()
            pending = [candidate.id]
            while pending:
                current = pending.pop()
                for ref in self.references(current) - seen:
                    if ref == segment_id:
                        found.add(candidate.id)
                    seen.add(ref)
                    pending.append(ref)
        return found

    def time_relative(self, node: Node) -> bool:
        """Relative times in `node` or in any segment it reaches."""
        return self._reaches(node, is_time_relative)

    def reaches_time(self, segment_id: str) -> bool:
        """Relative times in the segment's predicate or in any segment it references."""
        node = self.predicate(segment_id)
        return node is not None and self.time_relative(node)

    def changes_unseen(self, segment_id: str) -> bool:
        """Whether the segment's membership can change with no customer row changing: by
        the clock alone, or by tracked events (in it or in any segment it reaches)."""
        if segment_id not in self._unseen:
            node = self.predicate(segment_id)
            self._unseen[segment_id] = node is not None and self._reaches(
                node, lambda n: is_time_relative(n) or reads_events(n)
            )
        return self._unseen[segment_id]

    def _reaches(self, node: Node, test: Callable[[Node], bool]) -> bool:
        """`test` holds for `node` or for the predicate of a segment it reaches."""
        seen: set[str] = set()
        pending = [node]
        while pending:
            current = pending.pop()
            if test(current):
                return True
            for ref in referenced_segments(current) - seen:
                seen.add(ref)
                referenced = self.predicate(ref)
                if referenced is not None:
                    pending.append(referenced)
        return False

    def check_references(self, node: Node, path: tuple[str, ...], saving: str | None) -> None:
        """Every referenced segment exists, and saving `node` as `saving` makes no cycle."""
        errors = [
            DomainError(ErrorCode.UNKNOWN_SEGMENT, f"There is no segment {ref!r}.", where)
            for ref, where in segment_reference_paths(node, path)
            if ref not in self.by_id
        ]
        if errors:
            raise ValidationFailed(errors)
        if saving is None:
            return
        new_refs = referenced_segments(node)
        cycle = find_cycle(saving, lambda sid: new_refs if sid == saving else self.references(sid))
        if cycle is not None:
            raise DomainError(
                ErrorCode.SEGMENT_REFERENCE_CYCLE,
                "Segment references would form a cycle: " + " -> ".join(cycle) + ".",
                path,
            )

    def next_change(self, instant: Instant, now: datetime) -> ColumnElement[datetime]:
        """When a customer's membership can next change by the clock (domain.boundaries)."""
        ctx = CompileContext(now, self.catalog, self, stored_membership, self.workspace_pk)
        return next_change(instant, ctx)

    def condition(self, segment: Segment, now: datetime) -> ColumnElement[bool]:
        """Who is in `segment` now: its stored list if STATIC, its predicate live otherwise."""
        assert segment.pk is not None
        node = self.predicate(segment.id)
        if node is None:
            return stored_membership(segment.pk)
        key = (segment.id, segment.pk)
        found = self._conditions.get(key)
        if found is None:
            found = membership_condition(
                node, self.catalog, now, self, stored_membership, self.workspace_pk
            )
            if not self.time_relative(node):  # the same at every instant: compile it once
                self._conditions[key] = found
        return found
