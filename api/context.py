"""Per-request context: the runtime and the authenticated caller."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from strawberry.types import Info as StrawberryInfo

from api.runtime import Runtime
from domain.access import Role
from persistence.connection_budget import ConnectionBudget
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
    _budget: ConnectionBudget | None = field(default=None, repr=False)

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

    def uow(self) -> UnitOfWork:
        """A transaction, for writes and for reads that must see one snapshot."""
        return UnitOfWork(self.runtime.engine, self.workspace_pk, self.connections)

    def reading(self) -> UnitOfWork:
        """Statements that only read, each its own snapshot (no BEGIN/ROLLBACK round trips)."""
        return UnitOfWork(self.runtime.reader, self.workspace_pk, self.connections)

    def can(self, role: Role) -> bool:
        return self.caller is not None and self.caller.role.allows(role)


Info = StrawberryInfo[Context, None]
