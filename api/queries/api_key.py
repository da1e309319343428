"""apiKeys (ADMIN), viewer (any key)."""

from __future__ import annotations

import strawberry

from api.context import Info
from api.permissions import IsAdmin
from api.services import api_keys as service
from api.types.api_key import ApiKey, Viewer


@strawberry.type
class ApiKeyQueries:
    @strawberry.field(
        permission_classes=[IsAdmin],
        description="The workspace's API keys, revoked ones too, oldest first.",
    )
    async def api_keys(self, info: Info) -> list[ApiKey]:
        ctx = info.context
        return [
            ApiKey.from_domain(k) for k in await service.list_keys(ctx.runtime, ctx.workspace_pk)
        ]

    @strawberry.field(description="The calling key's workspace and role: what a UI may offer.")
    def viewer(self, info: Info) -> Viewer:
        caller = info.context.caller
        assert caller is not None  # GraphQL requests without a key are refused before this
        return Viewer(workspace=caller.workspace_name, role=caller.role)
