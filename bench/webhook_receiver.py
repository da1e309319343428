"""A real HTTP receiver for webhooks, on a loopback port, recording what arrives.

One implementation for the tests (tests/api/test_webhooks.py) and the benchmark
(bench/scenarios/webhooks.py): it lives here because bench/ may not import tests/,
while tests may import bench/.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from standardwebhooks.webhooks import Webhook


@dataclass(frozen=True)
class Received:
    headers: dict[str, str]
    body: bytes
    at: float

    @property
    def payload(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.body)
        return data

    @property
    def event(self) -> dict[str, Any]:
        data: dict[str, Any] = self.payload["data"]
        return data

    def verifies_with(self, secret: str) -> bool:
        try:
            Webhook(secret).verify(self.body.decode(), self.headers)
        except Exception:
            return False
        return True


Answer = Callable[["Received", int], int]
"""The status to answer a request with, given it and how many came before it."""


@dataclass
class Receiver:
    answer: Answer = lambda received, index: 200
    received: list[Received] = field(default_factory=list)
    answered: list[tuple[Received, int]] = field(default_factory=list)
    url: str = ""
    arrived: asyncio.Event = field(default_factory=asyncio.Event)
    holding: asyncio.Event | None = None
    """While set to an unset Event, requests are seen (in `seen`) but not answered."""
    seen: list[Received] = field(default_factory=list)
    delivered: list[Received] = field(default_factory=list)
    """The requests answered 2xx, in arrival order."""
    endless_body: bool = False
    """Answer with a body that trickles on until the sender hangs up (at most 30 s)."""

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {k.decode(): v.decode() for k, v in scope["headers"]}
        got = Received(headers, body, asyncio.get_running_loop().time())
        self.seen.append(got)
        if self.holding is not None:
            await self.holding.wait()
            status = 503  # the sender may be gone: a held request never counts as delivered
        else:
            status = self.answer(got, len(self.received))
        self.received.append(got)
        self.answered.append((got, status))
        if 200 <= status < 300:
            self.delivered.append(got)
        self.arrived.set()
        await send({"type": "http.response.start", "status": status, "headers": []})
        if self.endless_body:
            await _trickle(receive, send)
        await send({"type": "http.response.body", "body": b"ok"})

    async def wait_for(self, count: int, timeout: float = 20.0) -> list[Received]:
        """Until `count` requests were answered 2xx; those."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while len(self.delivered) < count:
            if loop.time() > deadline:
                raise AssertionError(f"{len(self.delivered)} of {count} arrived: {self.answered}")
            self.arrived.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.arrived.wait(), 0.1)
        return list(self.delivered)


async def _trickle(receive: Any, send: Any) -> None:
    """16 KB every 10 ms until the client disconnects."""
    gone = asyncio.ensure_future(receive())  # the next message is http.disconnect
    try:
        for _ in range(3000):
            if gone.done():
                return
            await send({"type": "http.response.body", "body": b"x" * 16384, "more_body": True})
            await asyncio.sleep(0.01)
    finally:
        gone.cancel()


@contextlib.asynccontextmanager
async def receiving(answer: Answer | None = None) -> AsyncIterator[Receiver]:
    receiver = Receiver() if answer is None else Receiver(answer)
    config = uvicorn.Config(receiver, host="127.0.0.1", port=0, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:
            await asyncio.sleep(0.02)
        receiver.url = f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}/hook"
        yield receiver
    finally:
        server.should_exit = True
        await task
