"""API keys as admins see them (never the key, only its first characters)."""

from __future__ import annotations

from datetime import datetime

import strawberry

from api.types.node import Node
from domain.access import Role
from persistence.workspaces import KeyInfo

RoleEnum = strawberry.enum(Role, name="ApiKeyRole", description="What a key may do.")


@strawberry.type(description="An API key of the workspace.")
class ApiKey(Node):
    id: strawberry.ID = strawberry.field(description="Stable id, key_...")
    name: str | None = strawberry.field(description="What it is for, for people.")
    role: RoleEnum = strawberry.field(description="READ, WRITE or ADMIN.")  # type: ignore[valid-type]
    prefix: str = strawberry.field(description="The key's first characters, to recognise it.")
    created_at: datetime = strawberry.field(description="When it was created.")
    last_used_at: datetime | None = strawberry.field(
        description="When it was last used (to the minute)."
    )
    expires_at: datetime | None = strawberry.field(description="When it stops working.")
    revoked_at: datetime | None = strawberry.field(description="When it was revoked.")

    @classmethod
    def from_domain(cls, info: KeyInfo) -> ApiKey:
        return cls(
            id=strawberry.ID(info.id),
            name=info.name,
            role=info.role,
            prefix=info.prefix,
            created_at=info.created_at,
            last_used_at=info.last_used_at,
            expires_at=info.expires_at,
            revoked_at=info.revoked_at,
        )

    def node_key(self) -> str:
        return str(self.id)


@strawberry.type(description="Who is calling: the key's workspace and role (for a client's UI).")
class Viewer:
    workspace: str = strawberry.field(description="The workspace's name.")
    role: RoleEnum = strawberry.field(description="What the key may do.")  # type: ignore[valid-type]
