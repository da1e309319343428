"""How many pool connections one request may hold at once.

A document whose resolvers fan out (a page of customers, each with its segments,
each with members...) would otherwise take every connection of the pool and make
every other request wait behind it. With a budget, its units of work queue behind
each other instead. A unit of work opened inside another of the same request (in
the same task or one it started) reuses its slot, so nesting never deadlocks.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from contextvars import ContextVar

_holding: ContextVar[ConnectionBudget | None] = ContextVar("holding", default=None)


class ConnectionBudget:
    def __init__(self, size: int) -> None:
        self.size = size
        self._slots = asyncio.Semaphore(size)
        self.waited_s = 0.0
        """Time this request's units of work spent waiting for a slot, in all."""
        self.waits = 0
        """How many of them had to wait."""

    @contextlib.asynccontextmanager
    async def held(self) -> AsyncIterator[None]:
        if _holding.get() is self:
            yield  # already inside one of this request's units of work
            return
        if self._slots.locked():
            self.waits += 1
            started = time.perf_counter()
            await self._slots.acquire()
            self.waited_s += time.perf_counter() - started
        else:
            await self._slots.acquire()
        token = _holding.set(self)
        try:
            yield
        finally:
            _holding.reset(token)
            self._slots.release()
