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
import time
from typing import Any


class LoopShare:
    """The loop's share of one heavy operation: when its current slice ends."""

    __slots__ = ("_ends", "slice_s")

    def __init__(self, slice_ms: float) -> None:
        self.slice_s = slice_ms / 1000
        self._ends = time.perf_counter() + self.slice_s

    def due(self) -> bool:
        """Whether the operation has run its slice and should await `turn()`."""
        return time.perf_counter() >= self._ends

    async def turn(self) -> None:
        """Give the loop back once; the next slice starts when the operation resumes."""
        await asyncio.sleep(0)
        self._ends = time.perf_counter() + self.slice_s


def share_of(context: Any) -> LoopShare | None:
    """The heavy operation's share, or None for a light one (nothing to give back)."""
    return getattr(context, "loop_share", None)
