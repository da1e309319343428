"""segmentInstances, segmentationTable."""

from __future__ import annotations

import strawberry

from api.context import Info
from api.pagination import page_info_of, window
from api.services import snapshots as service
from api.types.snapshot import (
    SegmentationRow,
    SegmentationRowConnection,
    SegmentationRowEdge,
    SegmentInstanceConnection,
    decode_row_cursor,
    encode_row_cursor,
    instance_connection,
)
from domain.records import Page


@strawberry.type
class SnapshotQueries:
    @strawberry.field(description="A segment's instances (snapshots), newest first.")
    async def segment_instances(
        self,
        info: Info,
        segment_id: strawberry.ID,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> SegmentInstanceConnection:
        return await instance_connection(info, str(segment_id), first, after, last, before)

    @strawberry.field(
        description=(
            "One row per member per instance, for a segment and/or one instance "
            "(`last`/`before` page backward)."
        )
    )
    async def segmentation_table(
        self,
        info: Info,
        segment_id: strawberry.ID | None = None,
        instance_id: strawberry.ID | None = None,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> SegmentationRowConnection:
        pages = window(decode_row_cursor, first, after, last, before)
        result = await service.segmentation_rows(
            info.context,
            str(segment_id) if segment_id else None,
            str(instance_id) if instance_id else None,
            pages,
        )
        cursors = [encode_row_cursor(r.instance.pk, r.customer_id) for r in result.rows]
        return SegmentationRowConnection(
            edges=[
                SegmentationRowEdge(cursor=cur, node=SegmentationRow.from_domain(r))
                for cur, r in zip(cursors, result.rows, strict=True)
            ],
            page_info=page_info_of(
                Page(result.rows, result.has_next, cursors, result.has_previous)
            ),
            total_count=result.total,
        )
