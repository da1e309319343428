"""segmentPreview and segmentFields."""

from __future__ import annotations

import strawberry
from strawberry.scalars import JSON

from api.context import Info
from api.errors import user_errors
from api.pagination import page_info_of, window
from api.services import predicates as service
from api.types.customer import Customer, CustomerConnection, CustomerEdge
from api.types.predicate import FieldDescriptor, SegmentPreview
from domain.errors import DomainError, ValidationFailed
from persistence.customers import decode_cursor


@strawberry.type
class PredicateQueries:
    @strawberry.field(
        description="Evaluate an unsaved predicate live: counts and a first page; nothing saved."
    )
    async def segment_preview(
        self,
        info: Info,
        predicate: JSON,
        first: int | None = None,
        after: str | None = None,
        search: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> SegmentPreview:
        pages = window(decode_cursor, first, after, last, before)
        try:
            result = await service.preview(info.context, predicate, pages, search)
        except (DomainError, ValidationFailed) as exc:
            return SegmentPreview(
                user_errors=user_errors(exc),
                columns=[],
                members=None,
                count_loader=None,
                total_loader=None,
            )
        page = result.page
        members = CustomerConnection(
            edges=[
                CustomerEdge(cursor=cur, node=Customer.from_domain(v))
                for cur, v in zip(page.cursors, page.items, strict=True)
            ],
            page_info=page_info_of(page),
            count_loader=result.count,
        )
        return SegmentPreview(
            user_errors=[],
            columns=result.columns,
            members=members,
            count_loader=result.count,
            total_loader=result.total,
        )

    @strawberry.field(
        description="Every field path a predicate may use: type, operators, allowed values, scope."
    )
    async def segment_fields(self, info: Info) -> list[FieldDescriptor]:
        descriptors, event_names = await service.field_catalog(info.context)
        return [FieldDescriptor.from_domain(d, event_names) for d in descriptors]
