"""The GraphQL schema: root types assembled from one class per concern."""

from __future__ import annotations

import strawberry
from strawberry.extensions import MaxAliasesLimiter, MaxTokensLimiter, QueryDepthLimiter

from api.mutations.customer import CustomerMutations
from api.mutations.segment import SegmentMutations
from api.mutations.snapshot import SnapshotMutations
from api.mutations.tracked_event import TrackedEventMutations
from api.queries.customer import CustomerQueries
from api.queries.event import EventQueries
from api.queries.predicate import PredicateQueries
from api.queries.segment import SegmentQueries
from api.queries.snapshot import SnapshotQueries
from api.subscriptions import Subscription
from api.top_level_errors import TopLevelErrors

MAX_DEPTH = 12
MAX_TOKENS = 20_000
MAX_ALIASES = 50


@strawberry.type(description="Read the workspace's customers and segments.")
class Query(CustomerQueries, PredicateQueries, SegmentQueries, EventQueries, SnapshotQueries):
    pass


@strawberry.type(description="Change the workspace's data (WRITE or ADMIN keys).")
class Mutation(CustomerMutations, SegmentMutations, SnapshotMutations, TrackedEventMutations):
    pass


def build_schema() -> strawberry.Schema:
    return strawberry.Schema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        extensions=[
            lambda: QueryDepthLimiter(max_depth=MAX_DEPTH),
            lambda: MaxTokensLimiter(max_token_count=MAX_TOKENS),
            lambda: MaxAliasesLimiter(max_alias_count=MAX_ALIASES),
            TopLevelErrors,
        ],
    )


schema = build_schema()
