"""Steps for the live feed tests: waiting until the server follows what the page subscribed."""

from __future__ import annotations

import asyncio

from api.live import hub_of
from api.runtime import Runtime
from tests.browser.conftest import TIMEOUT_MS
from tests.conftest import Workspace
from tests.integration.dataset import workspace_pk


async def server_follows(runtime: Runtime, ws: Workspace, segment_id: str, count: int = 1) -> None:
    """Wait until the server's event hub holds `count` subscriptions to the segment.

    The page says "live" on the connection's ack, before the server has handled its
    subscribe (graphql-transport-ws acknowledges nothing about a subscription); a write
    made in that gap is neither replayed nor sent live to a feed that started "from now".
    """
    pk = await workspace_pk(runtime, ws)
    hub = hub_of(runtime)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + TIMEOUT_MS / 1000
    while True:
        feed = hub.feeds.get(pk)
        followers = len(feed.by_segment.get(segment_id, ())) if feed else 0
        if followers == count:
            return
        if loop.time() > deadline:
            raise AssertionError(f"the server follows {segment_id} {followers}x, not {count}x")
        await asyncio.sleep(0.02)
