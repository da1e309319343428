"""The GraphQL schema: root types assembled from one class per concern."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from functools import lru_cache
from typing import Any

import strawberry
from graphql import GraphQLError, parse
from strawberry.extensions import (
    AddValidationRules,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    QueryDepthLimiter,
    SchemaExtension,
)
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.types import ExecutionResult
from strawberry.types.graphql import OperationType

from api.argument_checks import guard_arguments
from api.cost_extension import QueryCost
from api.mutations.api_key import ApiKeyMutations
from api.mutations.customer import CustomerMutations
from api.mutations.segment import SegmentMutations
from api.mutations.snapshot import SnapshotMutations
from api.mutations.tracked_event import TrackedEventMutations
from api.mutations.webhook import WebhookMutations
from api.persisted_documents import CachedValidation, PersistedDocuments
from api.queries.api_key import ApiKeyQueries
from api.queries.customer import CustomerQueries
from api.queries.event import EventQueries
from api.queries.import_job import ImportJobQueries
from api.queries.node import NodeQueries
from api.queries.predicate import PredicateQueries
from api.queries.segment import SegmentQueries
from api.queries.snapshot import SnapshotQueries
from api.queries.webhook import WebhookQueries
from api.request_budget import RequestDeadline
from api.shared_events import SharingExecutor
from api.subscriptions import Subscription
from api.top_level_errors import TopLevelErrors

MAX_DEPTH = 12
MAX_TOKENS = 20_000
MAX_ALIASES = 50
DOCUMENTS_CACHED = 256

# The limits' validation rules, made once: the validation cache is keyed by the rule
# classes, and the limiter extensions would make new ones for every request.
LIMIT_RULES = [
    *QueryDepthLimiter(max_depth=MAX_DEPTH).validation_rules,
    *MaxAliasesLimiter(max_alias_count=MAX_ALIASES).validation_rules,
]


_parse_cached = lru_cache(maxsize=DOCUMENTS_CACHED)(parse)


class CachedDocuments(SchemaExtension):
    """Parse each distinct document once: clients send the same few again and again.

    (strawberry's ParserCache raises a syntax error from its hook, where the error
    escapes the usual reporting; here a document that does not parse is left to
    strawberry, which parses it again and reports it as always.)
    """

    def on_parse(self) -> Iterator[None]:
        context = self.execution_context
        if context.query is not None and context.graphql_document is None:
            with contextlib.suppress(GraphQLError):
                context.graphql_document = _parse_cached(context.query, **context.parse_options)
        yield


@strawberry.type(description="Read the workspace's customers and segments.")
class Query(
    CustomerQueries,
    PredicateQueries,
    SegmentQueries,
    EventQueries,
    SnapshotQueries,
    ImportJobQueries,
    NodeQueries,
    WebhookQueries,
    ApiKeyQueries,
):
    pass


@strawberry.type(description="Change the workspace's data (WRITE or ADMIN keys).")
class Mutation(
    CustomerMutations,
    SegmentMutations,
    SnapshotMutations,
    TrackedEventMutations,
    WebhookMutations,
    ApiKeyMutations,
):
    pass


class SegmentSchema(strawberry.Schema):
    """Strawberry's schema, but `execute` (the HTTP path) never runs a subscription.

    Strawberry lets a POST carry any operation type (for multipart subscriptions, which
    this service does not offer), and `execute` would then run a subscription's field as
    a query and fail with an internal error. Subscriptions run through `subscribe`, on a
    WebSocket; `execute` refuses them as an operation type this transport does not allow.
    """

    async def execute(  # type: ignore[override]
        self,
        query: str | None,
        variable_values: dict[str, Any] | None = None,
        context_value: Any | None = None,
        root_value: Any | None = None,
        operation_name: str | None = None,
        allowed_operation_types: Iterable[OperationType] | None = None,
        operation_extensions: dict[str, Any] | None = None,
    ) -> ExecutionResult:
        allowed = set(allowed_operation_types or (OperationType.QUERY, OperationType.MUTATION))
        return await super().execute(
            query,
            variable_values,
            context_value,
            root_value,
            operation_name,
            allowed - {OperationType.SUBSCRIPTION},
            operation_extensions,
        )


def build_schema(
    executor: type[StrawberryGraphQLCoreExecutionContext] = SharingExecutor,
) -> strawberry.Schema:
    """The service's schema; `executor` chooses the field execution (graphql-core's own,
    `StrawberryGraphQLCoreExecutionContext`, is the reference the lean one is tested
    against; the default also shares a live event's execution between its subscribers,
    api.shared_events)."""
    built = SegmentSchema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        execution_context_class=executor,
        extensions=[
            # First: a persisted document's hash becomes its text before anything else.
            PersistedDocuments,
            lambda: MaxTokensLimiter(max_token_count=MAX_TOKENS),
            lambda: AddValidationRules(LIMIT_RULES),
            # Parse and validate each distinct document once (bounded caches, so unique
            # documents cannot grow them).
            CachedDocuments,
            CachedValidation,
            # After validation, before any resolver: refuse what would cost too much.
            QueryCost,
            RequestDeadline,
            TopLevelErrors,
        ],
    )
    guard_arguments(built._schema)  # text PostgreSQL cannot store: a coded refusal
    return built


schema = build_schema()
