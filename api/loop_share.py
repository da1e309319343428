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


class LoopShare:
    """The loop's share of one heavy operation: when its current slice ends, and the
    light traffic it steps aside for."""

    __slots__ = ("_ends", "_round", "max_pause_s", "slice_s", "traffic")

    def __init__(
        self, slice_ms: float, traffic: LightTraffic | None = None, max_pause_ms: float = 0
    ) -> None:
        self.slice_s = slice_ms / 1000
        self.traffic = traffic
        self.max_pause_s = max_pause_ms / 1000
        self._ends = time.perf_counter() + self.slice_s
        self._round = 0

    def due(self) -> bool:
        """Whether the operation has run its slice and should await `turn()`."""
        return time.perf_counter() >= self._ends

    async def turn(self) -> None:
        """Give the loop back once and, while light operations run, wait for them to
        finish, at most `max_pause_s` (so that the heavy operation still progresses and
        ends within its time budget); the next slice starts when it resumes."""
        round_ = self._round
        await asyncio.sleep(0)
        traffic = self.traffic
        if traffic is not None and traffic.running and self.max_pause_s > 0:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.max_pause_s):
                    await traffic.quiet.wait()
        if self._round == round_:
            # the first of the operation's tasks back starts the next slice; the others
            # woken with it (a batch's many fields) share it, and give the loop back
            # again once it is over
            self._round += 1
            self._ends = time.perf_counter() + self.slice_s


def share_of(context: Any) -> LoopShare | None:
    """The heavy operation's share, or None for a light one (nothing to give back)."""
    return getattr(context, "loop_share", None)
