"""The heavy lane: operations priced at SEGMENTQL_HEAVY_QUERY_COST or more run at most
SEGMENTQL_HEAVY_QUERIES_AT_ONCE at a time in a process, and queue behind each other
rather than in front of every light request (issue #18).

Building a heavy result takes the event loop's CPU and a few million objects; two of
them at once would double both for every light request beside them. The lane also
keeps the collector's middle and full passes out of the heavy operations (api.garbage_collection
`HeldCollections`), and counts what waits and runs for /metrics.
"""

from __future__ import annotations

import asyncio

from api.garbage_collection import HeldCollections


class HeavyLane:
    __slots__ = ("_slots", "held_collections", "most_running", "running", "size", "waiting")

    def __init__(self, size: int) -> None:
        self.size = size
        self._slots = asyncio.Semaphore(size)
        self.running = 0
        """Heavy operations running now."""
        self.waiting = 0
        """Heavy operations waiting for their turn now."""
        self.most_running = 0
        """The most that ever ran at once (never above `size`)."""
        self.held_collections = HeldCollections()

    def locked(self) -> bool:
        """Whether a heavy operation arriving now would wait."""
        return self._slots.locked()

    async def wait_turn(self, timeout_s: float) -> None:
        """Wait at most `timeout_s` for a turn (TimeoutError past it); `leave()` after."""
        self.waiting += 1
        try:
            async with asyncio.timeout(timeout_s):
                await self._slots.acquire()
        finally:
            self.waiting -= 1
        if not self.running:
            self.held_collections.hold()
        self.running += 1
        self.most_running = max(self.most_running, self.running)

    def leave(self) -> None:
        self.running -= 1
        if not self.running:
            self.held_collections.release()
        self._slots.release()
