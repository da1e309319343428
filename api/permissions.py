"""Role checks on fields: a key's role must allow the operation."""

from __future__ import annotations

from typing import Any

from strawberry.permission import BasePermission

from domain.access import Role


class _Needs(BasePermission):
    role: Role = Role.WRITE
    error_extensions = {"code": "FORBIDDEN"}

    def has_permission(self, source: Any, info: Any, **kwargs: Any) -> bool:
        return bool(info.context.can(self.role))


class CanWrite(_Needs):
    role = Role.WRITE
    message = "This API key is read-only: mutations need a WRITE or ADMIN key."


class IsAdmin(_Needs):
    role = Role.ADMIN
    message = "This operation needs an ADMIN key."
