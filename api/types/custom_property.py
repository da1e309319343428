"""A declared custom property."""

from __future__ import annotations

import strawberry

from api.inputs.customer import CustomPropertyTypeEnum
from api.types.node import Node
from domain.custom_property import CustomPropertyDef


@strawberry.type(description="A workspace's declared custom property: key, type, allowed values.")
class CustomProperty(Node):
    key: str
    type: CustomPropertyTypeEnum  # type: ignore[valid-type]
    allowed_values: list[str] | None
    indexed: bool
    description: str | None

    def node_key(self) -> str:
        return self.key

    @classmethod
    def from_domain(cls, d: CustomPropertyDef) -> CustomProperty:
        return cls(
            key=d.key,
            type=d.type,
            allowed_values=list(d.allowed_values) if d.allowed_values else None,
            indexed=d.indexed,
            description=d.description,
        )
