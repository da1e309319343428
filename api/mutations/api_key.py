"""apiKeyCreate, apiKeyRevoke (ADMIN)."""

from __future__ import annotations

from datetime import datetime

import strawberry

from api.context import Info
from api.errors import UserError, user_errors
from api.permissions import IsAdmin
from api.services import api_keys as service
from api.types.api_key import ApiKey, RoleEnum
from domain.errors import DomainError


@strawberry.type(description="The new key, shown this once, or why none was made.")
class ApiKeyCreatePayload:
    api_key: ApiKey | None = strawberry.field(description="The key's details.")
    key: str | None = strawberry.field(
        description="The key itself: send it as `Authorization: Bearer <key>`. Never shown again."
    )
    user_errors: list[UserError] = strawberry.field(description="Why nothing changed.")


@strawberry.type(description="The key revoked, or why not.")
class ApiKeyRevokePayload:
    api_key: ApiKey | None = strawberry.field(description="The key, now revoked.")
    user_errors: list[UserError] = strawberry.field(description="Why nothing changed.")


@strawberry.type
class ApiKeyMutations:
    @strawberry.mutation(
        permission_classes=[IsAdmin],
        description="A new API key for this workspace; the key is returned this once.",
    )
    async def api_key_create(
        self,
        info: Info,
        role: RoleEnum,  # type: ignore[valid-type]
        name: str | None = None,
        expires_at: datetime | None = None,
    ) -> ApiKeyCreatePayload:
        ctx = info.context
        try:
            created = await service.create_key(
                ctx.runtime, ctx.workspace_pk, role, name, expires_at
            )
        except DomainError as exc:
            return ApiKeyCreatePayload(api_key=None, key=None, user_errors=user_errors(exc))
        return ApiKeyCreatePayload(
            api_key=ApiKey.from_domain(created.info), key=created.key, user_errors=[]
        )

    @strawberry.mutation(
        permission_classes=[IsAdmin],
        description="Revoke a key: every process refuses it from the next request on.",
    )
    async def api_key_revoke(self, info: Info, id: strawberry.ID) -> ApiKeyRevokePayload:
        ctx = info.context
        try:
            revoked = await service.revoke_key(ctx.runtime, ctx.workspace_pk, str(id))
        except DomainError as exc:
            return ApiKeyRevokePayload(api_key=None, user_errors=user_errors(exc))
        return ApiKeyRevokePayload(api_key=ApiKey.from_domain(revoked), user_errors=[])
