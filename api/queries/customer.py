"""customer(id), customers(first, after, search)."""

from __future__ import annotations

import strawberry
from strawberry.scalars import JSON

from api.context import Info
from api.errors import request_error
from api.pagination import asks_for_rows, window
from api.services import customers as service
from api.services import predicates
from api.types.customer import Customer, CustomerConnection, columns_read
from domain.custom_property import storable_text
from domain.customer import MAX_ID_LENGTH
from domain.errors import DomainError, ValidationFailed
from persistence.customers import decode_cursor


@strawberry.type
class CustomerQueries:
    @strawberry.field(description="One customer by the id the client gave it.")
    async def customer(self, info: Info, id: strawberry.ID) -> Customer | None:
        if len(id) > MAX_ID_LENGTH or not storable_text(id):
            return None  # no stored id looks like this
        view = await service.get_customer(info.context, str(id))
        return Customer.from_domain(view) if view else None

    @strawberry.field(
        description=(
            "Customers by id; `search` matches id, email, name, externalId, case-insensitively; "
            "`where` narrows by an inline predicate, `segmentId` by a saved segment; "
            "`first`/`after` page forward, `last`/`before` backward."
        )
    )
    async def customers(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        search: str | None = None,
        segment_id: strawberry.ID | None = None,
        where: JSON | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> CustomerConnection:
        pages = window(decode_cursor, first, after, last, before)
        try:
            page, count = await predicates.filtered_page(
                info.context,
                pages,
                search,
                where,
                str(segment_id) if segment_id is not None else None,
                with_page=asks_for_rows(info),
                columns=columns_read(info),
            )
        except (DomainError, ValidationFailed) as exc:
            raise request_error(exc) from exc
        return CustomerConnection.of(page, count)
