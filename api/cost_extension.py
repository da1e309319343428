"""The QueryCost extension: price a document before it runs, charge the key's bucket,
and after it ran give back what it was charged beyond its actual cost."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from graphql import ExecutionResult
from strawberry.extensions import SchemaExtension
from strawberry.types.graphql import OperationType as StrawberryOperation

from api.actual_cost import actual_cost
from api.cost import DEFAULT_MAX_COST, cost_of, throttled, too_costly
from api.request_budget import heavy_gate
from persistence.cost_buckets import Charge, charge, refund


class QueryCost(SchemaExtension):
    """Refuse, before anything runs, an operation costing more than the maximum or more
    than its key's bucket holds; report the cost and the bucket in `extensions.cost`.

    As Shopify does, the bucket is charged the requested cost up front and, once the
    query or mutation ran without errors, refunded the difference to its actual cost
    (what it returned). A subscription is charged its requested cost on subscribe, not refunded.
    """

    requested: int | None = None
    actual: int | None = None
    maximum: int = DEFAULT_MAX_COST
    bucket: Charge | None = None
    available: float | None = None

    async def on_execute(self) -> AsyncIterator[None]:
        context = self.execution_context
        runtime: Any = getattr(context.context, "runtime", None)
        if runtime is not None:
            self.maximum = runtime.settings.max_query_cost
        assert context.graphql_document is not None
        self.requested = cost_of(
            context.schema._schema,
            context.graphql_document,
            context.query,
            context.variables,
            context.operation_name,
        )
        if self.requested > self.maximum:
            raise too_costly(self.requested, self.maximum)
        caller = getattr(context.context, "caller", None)
        key = None
        if runtime is not None and caller is not None and caller.key_pk is not None:
            key = (caller.workspace_pk, caller.key_pk)
            await self._charge(runtime, *key)
        if runtime is None:
            yield
        else:
            # strawberry's OperationType (graphql-core's is another enum)
            counted = context.operation_type is not StrawberryOperation.SUBSCRIPTION
            async with heavy_gate(runtime, self.requested, context.context, counted):
                yield
        self._priced_after()
        if key is not None and self.bucket is not None and self.actual is not None:
            await self._refund(runtime, *key)

    def _priced_after(self) -> None:
        context = self.execution_context
        result = context.result
        if context.operation_type is StrawberryOperation.SUBSCRIPTION:
            return  # priced on subscribe; each event is small
        if not isinstance(result, ExecutionResult) or result.data is None:
            return
        if result.errors:
            # An error's null can swallow what was read before it (a page of members
            # under a nullable field): priced on the data, such a request would read
            # for free. A result with errors keeps its requested cost.
            return
        assert context.graphql_document is not None
        self.actual = min(
            actual_cost(
                context.schema._schema,
                context.graphql_document,
                result.data,
                context.operation_name,
                context.query,
            ),
            self.requested or 0,
        )

    async def _charge(self, runtime: Any, workspace_pk: int, key_pk: int) -> None:
        settings = runtime.settings
        if not self.requested or settings.cost_bucket_size <= 0:
            return  # nothing to charge, or rate limiting is off
        async with runtime.reader.connect() as conn:
            self.bucket = await charge(
                conn,
                workspace_pk,
                key_pk,
                self.requested,
                settings.cost_bucket_size,
                settings.cost_restore_rate,
            )
        self.available = self.bucket.available
        if not self.bucket.granted:
            raise throttled(self.requested, self.bucket.available, settings.cost_restore_rate)

    async def _refund(self, runtime: Any, workspace_pk: int, key_pk: int) -> None:
        points = (self.requested or 0) - (self.actual or 0)
        if points <= 0:
            return
        settings = runtime.settings
        async with runtime.reader.connect() as conn:
            after = await refund(
                conn,
                workspace_pk,
                key_pk,
                points,
                settings.cost_bucket_size,
                settings.cost_restore_rate,
            )
        if after is not None:
            self.available = after

    def get_results(self) -> dict[str, Any]:
        if self.requested is None:
            return {}
        cost: dict[str, Any] = {"requestedQueryCost": self.requested}
        if self.actual is not None:
            cost["actualQueryCost"] = self.actual
        cost["maximumQueryCost"] = self.maximum
        runtime: Any = getattr(self.execution_context.context, "runtime", None)
        if self.available is not None and runtime is not None:
            cost["throttleStatus"] = {
                "maximumAvailable": runtime.settings.cost_bucket_size,
                "currentlyAvailable": int(self.available),
                "restoreRate": runtime.settings.cost_restore_rate,
            }
        return {"cost": cost}
