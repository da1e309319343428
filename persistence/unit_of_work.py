"""One request's transaction: `async with uow:` rolls back unless `commit()` was called."""

from __future__ import annotations

import contextlib
from types import TracebackType

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from persistence.connection_budget import ConnectionBudget
from persistence.custom_properties import CustomPropertyRepository
from persistence.customers import CustomerRepository
from persistence.definitions import bump_definitions_version
from persistence.replicas import UNREACHABLE, Fallback
from persistence.segments import SegmentRepository
from persistence.snapshots import SnapshotRepository
from persistence.tracked_events import TrackedEventRepository
from persistence.webhooks import WebhookRepository
from persistence.workspaces import WorkspaceRepository


class UnitOfWork:
    conn: AsyncConnection
    customers: CustomerRepository
    properties: CustomPropertyRepository
    workspaces: WorkspaceRepository
    segments: SegmentRepository
    snapshots: SnapshotRepository
    events: TrackedEventRepository
    webhooks: WebhookRepository

    def __init__(
        self,
        engine: AsyncEngine,
        workspace_pk: int,
        budget: ConnectionBudget | None = None,
        fallback: Fallback | None = None,
    ) -> None:
        self.engine = engine
        """Where the connection comes from: after a fallback, the fallback's engine."""
        self.fallback = fallback
        self.workspace_pk = workspace_pk
        self.budget = budget
        """The request's connection budget: a slot is held while the connection is."""
        self._slot = contextlib.AsyncExitStack()
        self._committed = False
        self.write_gate_entered = False
        """Whether this transaction holds its workspace's write gate (api.services.membership)."""
        self.active_version_at_gate: int | None = None
        """Read with the gate: the definitions version when a segment is ACTIVE, else None.
        No activation can commit while the gate is held, so it holds for the transaction."""

    async def __aenter__(self) -> UnitOfWork:
        if self.budget is not None:
            await self._slot.enter_async_context(self.budget.held())
        try:
            self.conn = await self._connect()
        except BaseException:
            await self._slot.aclose()
            raise
        try:
            await self.conn.begin()
        except BaseException:
            await self.__aexit__(None, None, None)
            raise
        self.customers = CustomerRepository(self.conn, self.workspace_pk)
        self.properties = CustomPropertyRepository(self.conn, self.workspace_pk)
        self.workspaces = WorkspaceRepository(self.conn)
        self.segments = SegmentRepository(self.conn, self.workspace_pk)
        self.snapshots = SnapshotRepository(self.conn, self.workspace_pk)
        self.events = TrackedEventRepository(self.conn, self.workspace_pk)
        self.webhooks = WebhookRepository(self.conn, self.workspace_pk)
        return self

    @property
    def on_replica(self) -> bool:
        """Whether this unit of work reads a replica (it has somewhere to fall back to)."""
        return self.fallback is not None and self.engine is not self.fallback.engine

    async def _connect(self) -> AsyncConnection:
        if self.fallback is None:
            return await self.engine.connect()
        try:
            return await self.engine.connect()
        except UNREACHABLE as exc:  # a replica went down since it was last checked
            self.fallback.failed(exc)
            self.engine = self.fallback.engine
            return await self.engine.connect()

    async def commit(self) -> None:
        if self.segments.definitions_changed:
            # Last: the version row stays locked only while committing (persistence.definitions).
            await bump_definitions_version(self.conn, self.workspace_pk)
            self.segments.definitions_changed = False
        await self.conn.commit()
        self._committed = True

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            if not self._committed:
                await self.conn.rollback()
        finally:
            try:
                await self.conn.close()
            finally:
                await self._slot.aclose()
