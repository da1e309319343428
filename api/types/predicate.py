"""Preview of an unsaved predicate, and the field catalog a predicate editor is built from."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import strawberry

from api.errors import UserError
from api.types.customer import CustomerConnection
from domain.fields import FieldDescriptor as FieldDescriptorModel
from domain.fields import FieldType
from domain.predicate import Operator, Scope

FieldTypeEnum = strawberry.enum(FieldType, name="FieldType", description="A field's value type.")
OperatorEnum = strawberry.enum(
    Operator, name="PredicateOperator", description="A condition operator."
)
ScopeEnum = strawberry.enum(Scope, name="RelatedScope", description="A related record set.")


@strawberry.type(description="A live evaluation of an unsaved predicate; nothing is stored.")
class SegmentPreview:
    user_errors: list[UserError]
    columns: list[str] = strawberry.field(description="Field paths the predicate uses.")
    members: CustomerConnection | None
    count_loader: strawberry.Private[Callable[[], Awaitable[int]] | None]
    total_loader: strawberry.Private[Callable[[], Awaitable[int]] | None]

    @strawberry.field(
        description="How many customers match now (null when the predicate is invalid)."
    )
    async def total_count(self) -> int | None:
        if self.count_loader is None:
            return None
        return await self.count_loader()

    @strawberry.field(description="Their share of the workspace's customers, 0..100.")
    async def percentage(self) -> float | None:
        if self.count_loader is None or self.total_loader is None:
            return None
        total = await self.total_loader()
        return 0.0 if total == 0 else round(100.0 * await self.count_loader() / total, 4)


@strawberry.type(description="A field a predicate may name: its type, operators and values.")
class FieldDescriptor:
    path: str = strawberry.field(description="e.g. country, properties.plan, status (in a scope).")
    type: FieldTypeEnum | None = strawberry.field(  # type: ignore[valid-type]
        description="Null for untyped event properties (typed by the operand)."
    )
    operators: list[OperatorEnum]  # type: ignore[valid-type]
    allowed_values: list[str] | None
    scope: ScopeEnum | None = strawberry.field(  # type: ignore[valid-type]
        description="Null for customer fields; the related scope otherwise."
    )
    description: str
    custom: bool = strawberry.field(description="A declared custom property.")
    suggested_values: list[str] | None = strawberry.field(
        description="Values seen in the workspace (EVENTS name: the event names tracked so far)."
    )

    @classmethod
    def from_domain(cls, d: FieldDescriptorModel, event_names: list[str]) -> FieldDescriptor:
        return cls(
            path=d.path,
            type=d.type,
            operators=sorted(d.operators, key=lambda op: list(Operator).index(op)),
            allowed_values=list(d.allowed_values) if d.allowed_values else None,
            scope=d.scope,
            description=d.description,
            custom=d.custom,
            suggested_values=event_names
            if (d.scope is Scope.EVENTS and d.path == "name")
            else None,
        )
