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
"""Parked tasks of a heavy operation let go after a turn that used up its slice (see
`LoopShare`); up to MOST_RELEASED_PER_TURN while they leave it unused."""
MOST_RELEASED_PER_TURN = 1024


class LoopShare:
    """The loop's share of one heavy operation: when its current slice ends, and the
    light traffic it steps aside for.

    A heavy operation runs as many tasks (a list's items each await their loaders), and
    once its slice is over every one of them would otherwise come back at each loop
    iteration only to find the slice over again: a thousand such steps hold the loop
    as long as a thousand items of work (bench/loop_trace.py counted up to 2,000
    callbacks in one iteration). So a task whose slice is over parks on a future, and
    one pump per operation lets them go, oldest first, RELEASED_PER_TURN at a time
    after each turn: once it has given the loop back and, if their slice was used up,
    waited for light operations and started the next. While the tasks it let go leave
    the slice unused, it lets twice as many go at the next iteration. A loader's
    results for the operation (`deliver`) are handed out the same way: a batch of a
    thousand keys would otherwise wake a thousand tasks in one iteration."""

    __slots__ = ("_ends", "_parked", "_pump", "max_pause_s", "slice_s", "traffic")

    def __init__(
        self, slice_ms: float, traffic: LightTraffic | None = None, max_pause_ms: float = 0
    ) -> None:
        self.slice_s = slice_ms / 1000
        self.traffic = traffic
        self.max_pause_s = max_pause_ms / 1000
        self._ends = time.perf_counter() + self.slice_s
        self._parked: collections.deque[tuple[asyncio.Future[Any], asyncio.Future[Any] | None]]
        self._parked = collections.deque()
        self._pump: asyncio.Task[None] | None = None

    def due(self) -> bool:
        """Whether the operation has run its slice and should await `turn()`."""
        return time.perf_counter() >= self._ends

    async def turn(self) -> None:
        """Park until the pump lets this task go (after the loop was given back, light
        operations waited for at most `max_pause_s`, so that the heavy operation still
        progresses and ends within its time budget, and a new slice started)."""
        parked: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._park(parked, None)
        await parked

    def deliver(self, result: asyncio.Future[Any]) -> asyncio.Future[Any]:
        """A future with `result`'s outcome, set when the pump lets it go."""
        handed: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        result.add_done_callback(lambda done: self._park(handed, done))
        return handed

    def _park(self, parked: asyncio.Future[Any], outcome: asyncio.Future[Any] | None) -> None:
        self._parked.append((parked, outcome))
        if self._pump is None or self._pump.done():
            self._pump = asyncio.ensure_future(self._pumping())

    async def _pumping(self) -> None:
        batch = RELEASED_PER_TURN
        while self._parked:
            await asyncio.sleep(0)
            if self.due():
                traffic = self.traffic
                if traffic is not None and traffic.running and self.max_pause_s > 0:
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(self.max_pause_s):
                            await traffic.quiet.wait()
                self._ends = time.perf_counter() + self.slice_s
                batch = RELEASED_PER_TURN
            else:
                batch = min(2 * batch, MOST_RELEASED_PER_TURN)
            released = 0
            while self._parked and released < batch:
                parked, outcome = self._parked.popleft()
                if parked.done():  # its task was cancelled
                    continue
                released += 1
                if outcome is None:
                    parked.set_result(None)
                elif outcome.cancelled():
                    parked.cancel()
                elif outcome.exception() is not None:
                    parked.set_exception(outcome.exception())  # type: ignore[arg-type]
                else:
                    parked.set_result(outcome.result())


def share_of(context: Any) -> LoopShare | None:
    """The heavy operation's share, or None for a light one (nothing to give back)."""
    return getattr(context, "loop_share", None)
