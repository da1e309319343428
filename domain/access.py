"""Roles of API keys and what each may do."""

from __future__ import annotations

import enum


class Role(enum.Enum):
    READ = "READ"  # queries and subscriptions
    WRITE = "WRITE"  # also mutations
    ADMIN = "ADMIN"  # also keys and custom-property definitions

    def allows(self, needed: Role) -> bool:
        order = [Role.READ, Role.WRITE, Role.ADMIN]
        return order.index(self) >= order.index(needed)
