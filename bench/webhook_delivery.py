"""Webhook delivery under load: `python -m bench.webhook_delivery` (needs DATABASE_URL).

One bulk write (1,000 customers moving to DE, entering 10 ACTIVE segments: 10,000 transitions)
delivered to a local receiver on 127.0.0.1 by this process's delivery job:
all delivered, none twice, deliveries/s, write-to-receipt p50/p95. Then the
receiver down for DOWN_S while 10,000 more transitions (everyone leaves) are
recorded, then up: all delivered afterwards, in order per customer.

Runs in a scratch workspace, deleted after; endpoints of other workspaces in the
same database would share the worker, so use a database of its own.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import statistics
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import uvicorn

from api.app import create_app
from api.background import Periodic, running
from api.runtime import Runtime
from api.services.bootstrap import create_key
from api.services.webhook_delivery import deliver_webhooks
from domain.access import Role
from persistence.migrate import migrate
from persistence.settings import Settings

SEGMENTS = 10
CUSTOMERS = 1000
UPSERT = """
mutation($c: [CustomerInput!]!) { customersUpsert(customers: $c) { userErrors { code } } }
"""
CREATE = """
mutation($input: SegmentCreateInput!) {
  segmentCreate(input: $input) { segment { id } userErrors { message } }
}
"""
ATTACH = """
mutation($id: ID!, $r: String!) {
  segmentUsageAttach(segmentId: $id, kind: LOYALTY_EARNING_RULE, reference: $r) {
    segment { kind } userErrors { message }
  }
}
"""
ENDPOINT = """
mutation($url: String!) {
  webhookEndpointCreate(url: $url) { endpoint { id } userErrors { message } }
}
"""


@dataclasses.dataclass
class Receiver:
    up: bool = True
    arrivals: list[tuple[float, dict[str, Any]]] = dataclasses.field(default_factory=list)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        status = 200 if self.up else 503
        if self.up:
            self.arrivals.append((time.time(), json.loads(body)["data"]))
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": b""})


@contextlib.asynccontextmanager
async def serve(app: Any, lifespan: str = "on") -> AsyncIterator[str]:
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan=lifespan)
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}"
    finally:
        server.should_exit = True
        await task


async def wait_for(receiver: Receiver, count: int, timeout: float) -> float:
    start = time.monotonic()
    while len(receiver.arrivals) < count:
        if time.monotonic() - start > timeout:
            break
        await asyncio.sleep(0.05)
    return time.monotonic() - start


def in_order(arrivals: list[tuple[float, dict[str, Any]]]) -> bool:
    last: dict[tuple[str, str], int] = {}
    for _, event in arrivals:
        key = (event["segmentId"], event["customerId"])
        if last.get(key, 0) > int(event["id"]):
            return False
        last[key] = int(event["id"])
    return True


async def run(down_s: float) -> None:
    base = Settings.from_env()
    settings = dataclasses.replace(
        base,
        background_jobs=False,
        webhook_allow_private=True,
        webhook_http_hosts=["127.0.0.1"],
        webhook_backoff_base_ms=1000,
    )
    runtime = Runtime.start(settings)
    await migrate(runtime.engine)
    workspace = f"bench-webhooks-{uuid.uuid4().hex[:8]}"
    key = await create_key(runtime, workspace, Role.ADMIN, "bench")
    receiver = Receiver()
    headers = {"Authorization": f"Bearer {key}"}
    try:
        async with (
            serve(create_app(runtime=runtime)) as api,
            serve(receiver, lifespan="off") as hook_base,
            httpx.AsyncClient(timeout=120, headers=headers) as http,
        ):

            async def gql(query: str, **variables: Any) -> dict[str, Any]:
                body: dict[str, Any] = (
                    await http.post(f"{api}/graphql", json={"query": query, "variables": variables})
                ).json()
                assert "errors" not in body, body
                return body["data"]

            for n in range(SEGMENTS):
                p = {"condition": {"field": "country", "operator": "IN", "values": ["DE"]}}
                made = await gql(CREATE, input={"name": f"hooks-{n}", "predicate": p})
                assert made["segmentCreate"]["segment"], made
                seg = made["segmentCreate"]["segment"]
                await gql(ATTACH, id=seg["id"], r=f"bench-{n}")
            await gql(ENDPOINT, url=f"{hook_base}/hook")
            customers = [{"id": f"c{i}", "country": "DE"} for i in range(CUSTOMERS)]
            async with running(runtime, [Periodic("webhooks", settings.webhook_poll_ms / 1000,
                                                  deliver_webhooks)]):  # fmt: skip
                written = time.time()
                await gql(UPSERT, c=customers)
                took = await wait_for(receiver, SEGMENTS * CUSTOMERS, 600)
                arrivals = list(receiver.arrivals)
                ids = [e["id"] for _, e in arrivals]
                lags = sorted(t - written for t, _ in arrivals)
                print(f"delivered {len(ids)} of {SEGMENTS * CUSTOMERS}, distinct {len(set(ids))}")
                print(f"deliveries/s {len(ids) / took:.0f} (all in {took:.1f} s)")
                print(
                    f"write-to-receipt p50 {statistics.median(lags) * 1000:.0f} ms, "
                    f"p95 {lags[int(len(lags) * 0.95)] * 1000:.0f} ms (all from one bulk write)"
                )
                # the receiver down, everyone leaves, then up again
                receiver.up = False
                receiver.arrivals.clear()
                await gql(UPSERT, c=[{"id": c["id"], "country": "FR"} for c in customers])
                await asyncio.sleep(down_s)
                receiver.up = True
                took = await wait_for(receiver, SEGMENTS * CUSTOMERS, 900)
                arrivals = list(receiver.arrivals)
                ids = [e["id"] for _, e in arrivals]
                print(
                    f"after {down_s:.0f} s down: delivered {len(ids)}, distinct {len(set(ids))},"
                    f" in order per customer {in_order(arrivals)}, {took:.1f} s after it came up"
                )
    finally:
        async with runtime.engine.begin() as conn:
            from sqlalchemy import text

            await conn.execute(text("DELETE FROM workspace WHERE name = :n"), {"n": workspace})
        await runtime.close()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.webhook_delivery")
    parser.add_argument("--down-s", type=float, default=60.0)
    asyncio.run(run(parser.parse_args().down_s))


if __name__ == "__main__":
    main()
