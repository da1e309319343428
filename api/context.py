"""Per-request context: the runtime and the authenticated caller."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine
from strawberry.types import Info as StrawberryInfo

from api.loop_share import LoopShare
from api.read_routing import replica_for_read
from api.runtime import Runtime
from domain.access import Role
from persistence.connection_budget import ConnectionBudget
from persistence.replicas import Fallback
from persistence.unit_of_work import UnitOfWork
from persistence.workspaces import Caller


@dataclass
class Context:
    runtime: Runtime
    caller: Caller | None
    request: Any = None
    response: Any = None
    connection_params: dict[str, Any] | None = None
    cache: dict[str, Any] = field(default_factory=dict)
    loop_share: LoopShare | None = None
    """Set for a heavy operation (api.request_budget.heavy_gate): it gives the loop back."""
    _budget: ConnectionBudget | None = field(default=None, repr=False)
    _on_primary: bool = field(default=False, repr=False)
    """Set by the request's first transaction: what it reads next must see what it wrote."""

    @property
    def connections(self) -> ConnectionBudget:
        """The pool connections this request may hold at once (SEGMENTQL_REQUEST_CONNECTIONS)."""
        if self._budget is None:
            self._budget = ConnectionBudget(self.runtime.settings.request_connections)
        return self._budget

    @property
    def workspace_pk(self) -> int:
        if self.caller is None:
            raise PermissionError("not authenticated")
        return self.caller.workspace_pk

    def on_primary(self) -> Context:
        """Every read of this context on the primary (subscriptions)."""
        self._on_primary = True
        return self

    def uow(self) -> UnitOfWork:
        """A transaction on the primary, for writes; every later read of the request is
        on the primary too."""
        self._on_primary = True
        return UnitOfWork(self.runtime.engine, self.workspace_pk, self.connections)

    def reading(self) -> UnitOfWork:
        """Statements that only read, each its own snapshot (no BEGIN/ROLLBACK round trips);
        on a read replica when one is fresh enough (api.read_routing)."""
        return self._read(self.runtime.reader, transaction=False)

    def read_transaction(self) -> UnitOfWork:
        """Reads that need one transaction (an export's checks, snapshot pages); on a read
        replica when one is fresh enough."""
        return self._read(self.runtime.engine, transaction=True)

    def primary_reading(self) -> UnitOfWork:
        """Like `reading`, but always on the primary."""
        return UnitOfWork(self.runtime.reader, self.workspace_pk, self.connections)

    def _read(self, primary: AsyncEngine, transaction: bool) -> UnitOfWork:
        replica = None if self._on_primary else replica_for_read(self.runtime)
        if replica is None:
            return UnitOfWork(primary, self.workspace_pk, self.connections)
        engine = replica.engine if transaction else replica.reader
        fallback = Fallback(primary, replica.mark_down)
        return UnitOfWork(engine, self.workspace_pk, self.connections, fallback)

    def can(self, role: Role) -> bool:
        return self.caller is not None and self.caller.role.allows(role)


Info = StrawberryInfo[Context, None]
