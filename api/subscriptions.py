"""The root Subscription type: live membership changes."""

from __future__ import annotations

from collections.abc import AsyncGenerator

import strawberry
from graphql import GraphQLError

from api.context import Info
from api.errors import request_error
from api.live import CursorPruned, SubscriberTooSlow
from api.services import events as service
from api.types.event import SegmentEvent
from domain.errors import DomainError


@strawberry.type(description="Live streams (WebSocket, graphql-transport-ws).")
class Subscription:
    @strawberry.subscription(
        description=(
            "ENTERED/LEFT events of ACTIVE segments (one segment, or all of the workspace). "
            "With `after`, first replays every stored event after that id, then continues live."
        )
    )
    async def segment_membership_changed(
        self,
        info: Info,
        segment_id: strawberry.ID | None = None,
        after: strawberry.ID | None = None,
    ) -> AsyncGenerator[SegmentEvent, None]:
        stream = service.event_stream(
            info.context, str(segment_id) if segment_id else None, str(after) if after else None
        )
        try:
            async for event in stream:
                yield SegmentEvent.from_log(event, live=True)
        except DomainError as exc:
            raise request_error(exc) from exc
        except CursorPruned as pruned:
            raise GraphQLError(
                f"Events after {pruned.args[0]} were removed by retention; the oldest kept is "
                f"{pruned.args[1]}. Reload current state, then subscribe without `after`.",
                extensions={"code": "EVENTS_PRUNED", "oldestEventId": str(pruned.args[1])},
            ) from pruned
        except SubscriberTooSlow as slow:
            raise GraphQLError(
                "Subscriber too slow: its event buffer filled up. "
                f"Resubscribe with after: {slow.args[0]} to resume without loss.",
                extensions={"code": "SUBSCRIBER_TOO_SLOW", "lastEventId": str(slow.args[0])},
            ) from slow
