"""segmentScheduleSet, segmentSnapshotTake."""

from __future__ import annotations

import strawberry

from api.context import Info
from api.errors import UserError, user_errors
from api.mutations.segment import SegmentPayload, segment_payload
from api.permissions import CanWrite
from api.services import snapshots as service
from api.types.segment import ScheduleEnum, SegmentByEnum
from api.types.snapshot import SegmentInstance
from domain.errors import DomainError, ValidationFailed


@strawberry.type
class SegmentInstancePayload:
    instance: SegmentInstance | None
    user_errors: list[UserError]


@strawberry.type
class SnapshotMutations:
    @strawberry.mutation(
        permission_classes=[CanWrite],
        description="Schedule snapshots (null stops them); the first is due at once.",
    )
    async def segment_schedule_set(
        self,
        info: Info,
        segment_id: strawberry.ID,
        schedule: ScheduleEnum | None = None,  # type: ignore[valid-type]
        segment_by: SegmentByEnum | None = None,  # type: ignore[valid-type]
    ) -> SegmentPayload:
        return await segment_payload(
            service.set_schedule(info.context, str(segment_id), schedule, segment_by)
        )

    @strawberry.mutation(permission_classes=[CanWrite], description="Take a snapshot now.")
    async def segment_snapshot_take(
        self, info: Info, segment_id: strawberry.ID
    ) -> SegmentInstancePayload:
        try:
            instance = await service.take_snapshot(info.context, str(segment_id))
        except (DomainError, ValidationFailed) as exc:
            return SegmentInstancePayload(instance=None, user_errors=user_errors(exc))
        return SegmentInstancePayload(
            instance=SegmentInstance.from_domain(instance), user_errors=[]
        )
