"""Live fan-out of membership events to subscribers, across processes.

One LISTEN connection per process. A committed transaction that recorded
events sends `NOTIFY segmentql_events '<workspace>:<last seq>'` (ids only);
the process's feed for that workspace reads the new events from the log once
and hands them to each subscriber's bounded queue. A subscriber first
registers, then replays the log after its cursor, then drains its queue
skipping what the replay already gave: no gap and no duplicate at the seam.
A feed also polls every few seconds, so a lost notification (a dropped
listener connection) delays events but never loses them.

The same connection wakes this process's webhook sender (`EventHub.waker`): on
every event notification and on `WEBHOOKS_CHANNEL`, which retries, replays and
re-enabled endpoints notify.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import asyncpg

from api.runtime import Runtime
from persistence.database import libpq_dsn
from persistence.event_log import LoggedEvent, events_after, last_seq
from persistence.membership import EVENTS_CHANNEL
from persistence.webhooks import WEBHOOKS_CHANNEL

log = logging.getLogger("segmentql.live")

FETCH_BATCH = 1000
POLL_INTERVAL_S = 5.0
RECONNECT_DELAY_S = 1.0


class SubscriberTooSlow(Exception):
    """The subscriber's buffer filled up; it must resubscribe with `after`."""


class CursorPruned(Exception):
    """Events after the requested cursor were deleted by retention: no exact resume."""


@dataclass(eq=False)
class Subscriber:
    segment_id: str | None
    queue: asyncio.Queue[LoggedEvent]
    overflowed: bool = False

    def offer(self, event: LoggedEvent) -> None:
        if self.segment_id is not None and event.segment_id != self.segment_id:
            return
        try:
            self.queue.put_nowait(event)
        except asyncio.QueueFull:
            self.overflowed = True


@dataclass(eq=False)
class Feed:
    """The events of one workspace, read once per change for all its subscribers here."""

    runtime: Runtime
    workspace_pk: int
    position: int
    # By the segment they follow (None: the whole workspace), so that an event
    # costs only the subscribers that want it, not every subscriber here.
    by_segment: dict[str | None, set[Subscriber]] = field(default_factory=dict)
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None

    async def run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wake.wait(), POLL_INTERVAL_S)
            self.wake.clear()
            try:
                await self.catch_up()
            except Exception:
                log.exception("reading events of workspace %s failed", self.workspace_pk)
                await asyncio.sleep(RECONNECT_DELAY_S)

    async def catch_up(self) -> None:
        while True:
            async with self.runtime.reader.connect() as conn:
                batch = await events_after(conn, self.workspace_pk, self.position, FETCH_BATCH)
            for event in batch:
                for key in (event.segment_id, None):
                    for subscriber in list(self.by_segment.get(key, ())):
                        subscriber.offer(event)
            if batch:
                self.position = batch[-1].seq
            if len(batch) < FETCH_BATCH:
                return

    def add(self, subscriber: Subscriber) -> None:
        self.by_segment.setdefault(subscriber.segment_id, set()).add(subscriber)

    def discard(self, subscriber: Subscriber) -> None:
        followers = self.by_segment.get(subscriber.segment_id)
        if followers is not None:
            followers.discard(subscriber)
            if not followers:
                del self.by_segment[subscriber.segment_id]

    def subscriber_count(self) -> int:
        return sum(len(followers) for followers in self.by_segment.values())


class EventHub:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.feeds: dict[int, Feed] = {}
        self.listener: asyncio.Task[None] | None = None
        self.buffer = runtime.settings.subscriber_buffer
        self.wakers: list[asyncio.Event] = []
        self.listening = asyncio.Event()
        """Set while the LISTEN connection is up (notifications arrive)."""

    def waker(self) -> asyncio.Event:
        """An event set on every notification (and when the listener reconnects, since
        some may have been missed): whoever waits on it clears it before looking."""
        self._ensure_listener()
        woken = asyncio.Event()
        self.wakers.append(woken)
        return woken

    def wake_all(self, *_args: object) -> None:
        """Sets every waker (a notification came, or someone knows work is due now)."""
        for woken in self.wakers:
            woken.set()

    def _ensure_listener(self) -> None:
        if self.listener is None or self.listener.done():
            self.listener = asyncio.create_task(self._listen(), name="segmentql-listen")

    async def _listen(self) -> None:
        dsn = libpq_dsn(self.runtime.database)
        while True:
            try:
                conn = await asyncpg.connect(dsn)
            except Exception:
                log.exception("cannot open the LISTEN connection; retrying")
                await asyncio.sleep(RECONNECT_DELAY_S)
                continue
            lost = asyncio.Event()
            conn.add_termination_listener(lambda _conn, lost=lost: lost.set())
            try:
                await conn.add_listener(EVENTS_CHANNEL, self._notified)
                await conn.add_listener(WEBHOOKS_CHANNEL, self.wake_all)
                self.listening.set()
                for feed in self.feeds.values():
                    feed.wake.set()  # catch up on anything missed while disconnected
                self.wake_all()
                await lost.wait()
            finally:
                self.listening.clear()
                with contextlib.suppress(Exception):
                    await conn.close()
            await asyncio.sleep(RECONNECT_DELAY_S)

    def _notified(self, _conn: object, _pid: int, _channel: str, payload: str) -> None:
        self.wake_all()
        workspace, _, _seq = payload.partition(":")
        feed = self.feeds.get(int(workspace)) if workspace.isdigit() else None
        if feed is not None:
            feed.wake.set()

    async def _feed(self, workspace_pk: int) -> Feed:
        feed = self.feeds.get(workspace_pk)
        if feed is None:
            async with self.runtime.reader.connect() as conn:
                position = await last_seq(conn, workspace_pk)
            feed = self.feeds.setdefault(workspace_pk, Feed(self.runtime, workspace_pk, position))
            if feed.task is None:
                feed.task = asyncio.create_task(feed.run(), name=f"segmentql-feed-{workspace_pk}")
        return feed

    async def stream(
        self, workspace_pk: int, segment_id: str | None, after: int | None
    ) -> AsyncIterator[LoggedEvent]:
        """Events strictly after `after` (or from now on), then live, in order."""
        self._ensure_listener()
        feed = await self._feed(workspace_pk)
        subscriber = Subscriber(segment_id, asyncio.Queue(maxsize=self.buffer))
        feed.add(subscriber)
        try:
            async with self.runtime.reader.connect() as conn:
                position = after if after is not None else await last_seq(conn, workspace_pk)
            async for event in self._replay(workspace_pk, segment_id, position):
                position = event.seq
                yield event
            while True:
                if subscriber.overflowed:
                    raise SubscriberTooSlow(position)
                event = await subscriber.queue.get()
                if event.seq > position:
                    position = event.seq
                    yield event
        finally:
            feed.discard(subscriber)
            if not feed.by_segment and feed.task is not None:
                feed.task.cancel()
                self.feeds.pop(workspace_pk, None)

    async def _replay(
        self, workspace_pk: int, segment_id: str | None, position: int
    ) -> AsyncIterator[LoggedEvent]:
        while True:
            async with self.runtime.reader.connect() as conn:
                batch = await events_after(conn, workspace_pk, position, FETCH_BATCH, segment_id)
            for event in batch:
                yield event
            if len(batch) < FETCH_BATCH:
                return
            position = batch[-1].seq

    async def close(self) -> None:
        tasks = [f.task for f in self.feeds.values() if f.task] + (
            [self.listener] if self.listener else []
        )
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task


def hub_of(runtime: Runtime) -> EventHub:
    """The process's hub, created on first use."""
    hub = runtime.extras.get("hub")
    if hub is None:
        hub = runtime.extras["hub"] = EventHub(runtime)
    assert isinstance(hub, EventHub)
    return hub
