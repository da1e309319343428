"""A live event's selection runs once per selection key, shared by its subscribers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from typing import Any

import strawberry

from api.shared_events import SharedResults, SharingExecutor

RESOLVED: list[str] = []


@strawberry.type
class Tick:
    n: int
    shared_results: strawberry.Private[SharedResults | None] = None

    @strawberry.field
    async def label(self, prefix: str = "") -> str:
        RESOLVED.append(f"{prefix}{self.n}")
        await asyncio.sleep(0)  # others arrive while the first execution runs
        return f"{prefix}{self.n}"


@strawberry.type
class Query:
    ok: bool = True


@dataclass
class Caller:
    workspace_pk: int
    role: str


@dataclass
class Ctx:
    caller: Caller


def ticks_schema(events: list[Tick]) -> strawberry.Schema:
    @strawberry.type
    class Subscription:
        @strawberry.subscription
        async def ticks(self, after: int = 0) -> AsyncGenerator[Tick, None]:
            for event in events:
                if event.n > after:
                    yield event

    return strawberry.Schema(
        query=Query, subscription=Subscription, execution_context_class=SharingExecutor
    )


DOC = "subscription T($after: Int, $p: String) { ticks(after: $after) { n label(prefix: $p) } }"


async def collect(
    schema: strawberry.Schema, variables: dict[str, Any], role: str = "READ"
) -> list[Any]:
    stream = await schema.subscribe(
        DOC, variable_values=variables, context_value=Ctx(Caller(1, role))
    )
    assert not isinstance(stream, strawberry.types.ExecutionResult)
    return [result.data async for result in stream]


async def test_subscribers_of_one_selection_share_each_events_execution() -> None:
    # given: two events that every subscriber sees, each with a memo (a live event)
    RESOLVED.clear()
    events = [Tick(n=1, shared_results={}), Tick(n=2, shared_results={})]
    schema = ticks_schema(events)

    # when: three subscribers with the same selection (one resuming: `after` only
    # chooses the stream) and one whose selection reads another prefix
    same = await asyncio.gather(
        collect(schema, {"p": "x"}), collect(schema, {"p": "x"}), collect(schema, {"p": "x"})
    )
    resumed = await collect(schema, {"p": "x", "after": 1})
    other = await collect(schema, {"p": "y"})

    # then: all get the right data, and each (event, selection) was resolved once
    expected = [{"ticks": {"n": 1, "label": "x1"}}, {"ticks": {"n": 2, "label": "x2"}}]
    assert same == [expected] * 3
    assert resumed == expected[1:]
    assert other == [{"ticks": {"n": 1, "label": "y1"}}, {"ticks": {"n": 2, "label": "y2"}}]
    assert sorted(RESOLVED) == ["x1", "x2", "y1", "y2"]


async def test_another_role_and_events_without_a_memo_execute_on_their_own() -> None:
    # given: one live event and one without a memo (a replayed page, say)
    RESOLVED.clear()
    schema = ticks_schema([Tick(n=1, shared_results={}), Tick(n=2, shared_results=None)])

    # when: the same selection under two roles
    read = await collect(schema, {"p": "x"}, "READ")
    admin = await collect(schema, {"p": "x"}, "ADMIN")

    # then: the memo is per role, and the event without one runs for each subscriber
    assert read == admin
    assert sorted(RESOLVED) == ["x1", "x1", "x2", "x2"]
