"""How heavy operations share the process's event loop with light ones.

asyncio is cooperative: an operation building a large result (a thousand customers with
their orders) holds the loop for every stretch of Python between two awaits, and a light
request that became ready meanwhile waits for the whole stretch. A heavy operation (as
`request_budget.heavy_gate` classifies it) therefore carries a `LoopShare`: its executor
asks `due()` between the items of the lists it completes and, once it has run a slice
of CPU (SEGMENTQL_HEAVY_SLICE_MS), awaits `turn()`, which gives the loop back so that
whatever is ready (light requests first of all) runs before the heavy operation goes on.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import time
from collections.abc import Iterator
from typing import Any


class LightTraffic:
    """The light operations running in this process; `quiet` is set when there are none."""

    __slots__ = ("quiet", "running")

    def __init__(self) -> None:
        self.running = 0
        self.quiet = asyncio.Event()
        self.quiet.set()

    @contextlib.contextmanager
    def counted(self) -> Iterator[None]:
        self.running += 1
        self.quiet.clear()
        try:
            yield
        finally:
            self.running -= 1
            if not self.running:
                self.quiet.set()


RELEASED_PER_TURN = 16
"""Parked tasks of a heavy operation let go at each of its turns (see `LoopShare`)."""


class LoopShare:
    """The loop's share of one heavy operation: when its current slice ends, and the
    light traffic it steps aside for.

    A heavy operation runs as many tasks (a list's items each await their loaders), and
    once its slice is over every one of them would otherwise come back at each loop
    iteration only to find the slice over again: a thousand such steps hold the loop
    as long as a thousand items of work (bench/loop_trace.py counted up to 2,000
    callbacks in one iteration). So a task whose slice is over parks on a future, and
    one pump per operation lets RELEASED_PER_TURN of them go, oldest first, each time it
    has given the loop back (and, while light operations run, waited for them)."""

    __slots__ = ("_ends", "_parked", "_pump", "max_pause_s", "slice_s", "traffic")

    def __init__(
        self, slice_ms: float, traffic: LightTraffic | None = None, max_pause_ms: float = 0
    ) -> None:
        self.slice_s = slice_ms / 1000
        self.traffic = traffic
        self.max_pause_s = max_pause_ms / 1000
        self._ends = time.perf_counter() + self.slice_s
        self._parked: collections.deque[asyncio.Future[None]] = collections.deque()
        self._pump: asyncio.Task[None] | None = None

    def due(self) -> bool:
        """Whether the operation has run its slice and should await `turn()`."""
        return time.perf_counter() >= self._ends

    async def turn(self) -> None:
        """Park until the pump lets this task go: after the loop was given back, light
        operations waited for (at most `max_pause_s`, so that the heavy operation still
        progresses and ends within its time budget), and a new slice started."""
        parked = asyncio.get_running_loop().create_future()
        self._parked.append(parked)
        if self._pump is None or self._pump.done():
            self._pump = asyncio.ensure_future(self._pumping())
        await parked

    async def _pumping(self) -> None:
        while self._parked:
            await asyncio.sleep(0)
            traffic = self.traffic
            if traffic is not None and traffic.running and self.max_pause_s > 0:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self.max_pause_s):
                        await traffic.quiet.wait()
            self._ends = time.perf_counter() + self.slice_s
            released = 0
            while self._parked and released < RELEASED_PER_TURN:
                parked = self._parked.popleft()
                if not parked.done():  # a cancelled task's future is done already
                    parked.set_result(None)
                    released += 1


def share_of(context: Any) -> LoopShare | None:
    """The heavy operation's share, or None for a light one (nothing to give back)."""
    return getattr(context, "loop_share", None)
