"""A request's time budget: past it, the operation stops with a coded TIMEOUT error;
and the gate that lets few heavy operations run at once in a process.

Its connection budget is persistence.connection_budget's, held by the Context.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

from graphql import GraphQLError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from strawberry.extensions import SchemaExtension
from strawberry.types.graphql import OperationType

from api.heavy_lane import HeavyLane
from api.loop_share import LightTraffic, LoopShare

TIMEOUT = "TIMEOUT"


def timed_out(budget_ms: int | None = None) -> GraphQLError:
    within = f" within its budget of {budget_ms} ms" if budget_ms is not None else ""
    return GraphQLError(
        f"The request did not finish{within}; ask for less (smaller pages, fewer counts) "
        "or try again later.",
        extensions={"code": TIMEOUT},
    )


def is_timeout(error: BaseException | None) -> bool:
    """A wait for a pool connection that ran out (the pool's own timeout)."""
    return isinstance(error, PoolTimeout)


class RequestDeadline(SchemaExtension):
    """Queries and mutations run at most SEGMENTQL_REQUEST_TIMEOUT_MS; subscriptions,
    which live long by design, are not timed (each event's work is small)."""

    async def on_execute(self) -> AsyncIterator[None]:
        context = self.execution_context
        runtime: Any = getattr(context.context, "runtime", None)
        if runtime is None or context.operation_type is OperationType.SUBSCRIPTION:
            yield
            return
        budget_ms: int = runtime.settings.request_timeout_ms
        try:
            async with asyncio.timeout(budget_ms / 1000):
                yield
        except TimeoutError as exc:
            raise timed_out(budget_ms) from exc


@contextlib.asynccontextmanager
async def heavy_gate(
    runtime: Any, cost: int, context: Any = None, counted: bool = True
) -> AsyncIterator[None]:
    """Operations costing SEGMENTQL_HEAVY_QUERY_COST or more run at most
    SEGMENTQL_HEAVY_QUERIES_AT_ONCE at a time in this process: building their large
    results takes the event loop's CPU, and they queue behind each other rather than
    in front of every light request. The wait counts against the request's time.
    While one runs, it gives the event loop back every SEGMENTQL_HEAVY_SLICE_MS of
    CPU (api.loop_share), set on its `context` (0: never), and while light operations
    (`counted` ones: queries and mutations, not subscriptions, which live long) run it
    waits for them at most SEGMENTQL_HEAVY_PAUSE_MS each time."""
    settings = runtime.settings
    traffic = runtime.extras.get("light")
    if traffic is None:
        traffic = runtime.extras["light"] = LightTraffic()
    if cost < settings.heavy_query_cost:
        if not counted:
            yield
            return
        with traffic.counted():
            yield
        return
    lane = heavy_lane(runtime)
    try:
        await lane.wait_turn(settings.request_timeout_ms / 1000)
    except TimeoutError as exc:
        raise timed_out(settings.request_timeout_ms) from exc
    if context is not None and settings.heavy_slice_ms > 0:
        context.loop_share = LoopShare(settings.heavy_slice_ms, traffic, settings.heavy_pause_ms)
    try:
        yield
    finally:
        lane.leave()
        if context is not None:
            context.loop_share = None  # a WebSocket's context serves its later operations too


def heavy_lane(runtime: Any) -> HeavyLane:
    """The process's heavy lane (made on first use)."""
    lane: HeavyLane | None = runtime.extras.get("heavy")
    if lane is None:
        lane = runtime.extras["heavy"] = HeavyLane(runtime.settings.heavy_queries_at_once)
    return lane
