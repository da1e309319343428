"""customersUpsert, customersDelete, customPropertyDefine."""

from __future__ import annotations

import strawberry

from api.context import Info
from api.errors import UserError, user_errors
from api.inputs.customer import CustomerInput, CustomPropertyInput, provided
from api.permissions import CanWrite, IsAdmin
from api.services import customers as service
from api.types.custom_property import CustomProperty
from api.types.customer import Customer
from domain.errors import DomainError, ValidationFailed


@strawberry.type
class CustomersUpsertPayload:
    customers: list[Customer]
    user_errors: list[UserError]


@strawberry.type
class CustomersDeletePayload:
    deleted_customer_ids: list[strawberry.ID]
    user_errors: list[UserError]


@strawberry.type
class CustomPropertyPayload:
    property: CustomProperty | None
    user_errors: list[UserError]


@strawberry.type
class CustomerMutations:
    @strawberry.mutation(
        permission_classes=[CanWrite],
        description="Create or update 1..1000 customers in one transaction: all or nothing.",
    )
    async def customers_upsert(
        self, info: Info, customers: list[CustomerInput]
    ) -> CustomersUpsertPayload:
        try:
            views = await service.upsert_customers(info.context, provided(customers))
        except (DomainError, ValidationFailed) as exc:
            return CustomersUpsertPayload(customers=[], user_errors=user_errors(exc))
        return CustomersUpsertPayload(
            customers=[Customer.from_domain(v) for v in views], user_errors=[]
        )

    @strawberry.mutation(
        permission_classes=[CanWrite],
        description="Delete customers (and their records) for good; unknown ids are ignored.",
    )
    async def customers_delete(
        self, info: Info, ids: list[strawberry.ID]
    ) -> CustomersDeletePayload:
        try:
            deleted = await service.delete_customers(info.context, [str(i) for i in ids])
        except (DomainError, ValidationFailed) as exc:
            return CustomersDeletePayload(deleted_customer_ids=[], user_errors=user_errors(exc))
        return CustomersDeletePayload(
            deleted_customer_ids=[strawberry.ID(i) for i in deleted], user_errors=[]
        )

    @strawberry.mutation(
        permission_classes=[IsAdmin],
        description="Declare a custom property key and type (ADMIN). Redeclaring keeps the type.",
    )
    async def custom_property_define(
        self, info: Info, input: CustomPropertyInput
    ) -> CustomPropertyPayload:
        try:
            definition = await service.define_property(
                info.context,
                input.key,
                input.type.value,
                input.allowed_values,
                bool(input.indexed),
                input.description,
            )
        except (DomainError, ValidationFailed) as exc:
            return CustomPropertyPayload(property=None, user_errors=user_errors(exc))
        return CustomPropertyPayload(
            property=CustomProperty.from_domain(definition), user_errors=[]
        )
