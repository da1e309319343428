"""What an unsaved edit of a segment's predicate would change."""

from __future__ import annotations

import strawberry

from api.context import Info
from api.errors import UserError
from api.pagination import window
from api.services import impact as service
from api.services.predicates import memo
from api.types.customer import CustomerConnection
from persistence.customers import decode_cursor


@strawberry.type(description="One side of an impact: the customers who would leave, or enter.")
class ImpactSide:
    side: strawberry.Private[service.Side]

    @strawberry.field(description="How many customers are on this side (never searched).")
    async def count(self) -> int:
        return await self.side.count()

    @strawberry.field(description="This side's customers, a page at a time, searchable.")
    async def customers(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        search: str | None = None,
    ) -> CustomerConnection:
        pages = window(decode_cursor, first, after)
        page = await service.side_page(info.context, self.side.condition, pages, search)
        if search is None:
            return CustomerConnection.of(page, self.side.count)
        condition = self.side.condition
        return CustomerConnection.of(
            page, memo(lambda: service.count_side(info.context, condition, search))
        )


@strawberry.type(
    description=(
        "For an edit not yet saved: the current members that would leave and the customers "
        "that would enter, evaluated live now (null sides when the edit is refused)."
    )
)
class SegmentImpact:
    user_errors: list[UserError]
    columns: list[str] = strawberry.field(description="Field paths the edited predicate uses.")
    leaving: ImpactSide | None = strawberry.field(
        description="Members now that the edit would no longer match."
    )
    entering: ImpactSide | None = strawberry.field(
        description="Customers, not members now, that the edit would match."
    )

    @classmethod
    def of(cls, found: service.Impact) -> SegmentImpact:
        return cls(
            user_errors=[],
            columns=found.columns,
            leaving=ImpactSide(side=found.leaving),
            entering=ImpactSide(side=found.entering),
        )
