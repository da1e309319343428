"""Webhook delivery by the server process to a receiver on 127.0.0.1.

In a scratch workspace: 10 ACTIVE segments on country DE and one endpoint for all.

- bulk: one customersUpsert of 1,000 customers entering all 10 (10,000
  transitions): delivered, distinct, deliveries/s, write-to-receipt p50/p95,
  and the server's CPU time per delivery (the figure that holds on a loaded machine);
- down: the receiver answers 503 for `--webhook-down-s` while everyone leaves
  (10,000 more), then 200: all delivered afterwards, none twice, in order per customer;
- single: one customer at a time enters (the endpoint now filtered to one
  segment, so one delivery a write): write-to-receipt when nothing queues, and the
  write request's own time (part of it).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from typing import Any

from api.services.bootstrap import create_key
from bench.harness import Bench, BenchError, Latency, scenario
from bench.webhook_receiver import Received, Receiver, receiving
from domain.access import Role

SEGMENTS = 10
CUSTOMERS = 1_000
SINGLE_WRITES = 30

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
    userErrors { message }
  }
}
"""
ENDPOINT = """
mutation($url: String!) {
  webhookEndpointCreate(url: $url) { endpoint { id } userErrors { message } }
}
"""
FILTER = """
mutation($id: ID!, $segments: [ID!]) {
  webhookEndpointUpdate(id: $id, segmentIds: $segments) { userErrors { message } }
}
"""


def _cpu_s(pid: int) -> float:
    """User + system CPU seconds the process has used."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / 100


def in_order(received: list[Received]) -> bool:
    """Each customer's events arrived oldest first (the guarantee is per endpoint and
    customer; there is one endpoint)."""
    last: dict[str, int] = {}
    for r in received:
        customer = r.event["customerId"]
        if last.get(customer, 0) > int(r.event["id"]):
            return False
        last[customer] = int(r.event["id"])
    return True


@contextlib.contextmanager
def down(receiver: Receiver) -> Iterator[None]:
    """The receiver answers 503 to everything inside the block."""
    answer = receiver.answer
    receiver.answer = lambda received, index: 503
    try:
        yield
    finally:
        receiver.answer = answer


@scenario("webhooks", order=80, description="10,000 transitions delivered; receiver down; single")
async def run(bench: Bench) -> None:
    async with bench.scratch_workspace("bench-webhooks") as (name, _), receiving() as receiver:
        key = await create_key(bench.runtime, name, Role.ADMIN, "bench")

        async def gql(query: str, **variables: Any) -> dict[str, Any]:
            return (await bench.gql(query, variables, key=key))[0]

        segment_ids = []
        for n in range(SEGMENTS):
            predicate = {"condition": {"field": "country", "operator": "IN", "values": ["DE"]}}
            made = await gql(CREATE, input={"name": f"hooks-{n}", "predicate": predicate})
            segment_ids.append(made["segmentCreate"]["segment"]["id"])
            await gql(ATTACH, id=segment_ids[-1], r=f"bench-{n}")
        made = await gql(ENDPOINT, url=receiver.url)
        if made["webhookEndpointCreate"]["userErrors"]:
            raise BenchError(f"endpoint refused: {made['webhookEndpointCreate']['userErrors']}")
        endpoint_id = made["webhookEndpointCreate"]["endpoint"]["id"]
        customers = [{"id": f"c{i}", "country": "DE"} for i in range(CUSTOMERS)]
        total = SEGMENTS * CUSTOMERS
        loop = asyncio.get_running_loop()
        pid = bench.server.pid if bench.server else None

        # bulk: one write, 10,000 transitions
        cpu = _cpu_s(pid) if pid else 0.0
        written = loop.time()
        await gql(UPSERT, c=customers)
        got = await receiver.wait_for(total, timeout=900)
        took = got[-1].at - written
        lags = Latency([(r.at - written) * 1000 for r in got])
        bench.report("webhooks.bulk.delivered", len(got), "deliveries")
        distinct = {r.headers["webhook-id"] for r in receiver.received}
        bench.report("webhooks.bulk.sent_twice", len(receiver.received) - len(distinct), "requests")
        bench.report("webhooks.bulk.deliveries_per_s", len(got) / took, "/s")
        bench.report("webhooks.bulk.write_to_receipt.p50", lags.p50, "ms")
        bench.report("webhooks.bulk.write_to_receipt.p95", lags.p95, "ms")
        if pid:
            used = _cpu_s(pid) - cpu
            bench.report("webhooks.bulk.server_cpu_per_delivery", used * 1000 / total, "ms")

        # down: everyone leaves while the receiver refuses, then it comes back
        before = len(receiver.delivered)
        with down(receiver):
            await gql(UPSERT, c=[{"id": c["id"], "country": "FR"} for c in customers])
            await asyncio.sleep(bench.webhook_down_s)
        up = loop.time()
        got = (await receiver.wait_for(before + total, timeout=900))[before:]
        bench.report("webhooks.down.delivered_after", len(got), "deliveries")
        bench.report("webhooks.down.distinct", len({r.headers["webhook-id"] for r in got}), "ids")
        bench.report("webhooks.down.in_order_per_customer", float(in_order(got)), "bool")
        bench.report("webhooks.down.all_in_after_up", got[-1].at - up, "s")

        # single: nothing queues
        await gql(FILTER, id=endpoint_id, segments=[segment_ids[0]])
        samples, writes = [], []
        for i in range(SINGLE_WRITES):
            before = len(receiver.delivered)
            started = loop.time()
            await gql(UPSERT, c=[{"id": f"c{i}", "country": "DE"}])
            writes.append((loop.time() - started) * 1000)
            [r] = (await receiver.wait_for(before + 1, timeout=60))[before:]
            samples.append((r.at - started) * 1000)
        single = Latency(samples)
        bench.report("webhooks.single.write_to_receipt.p50", single.p50, "ms")
        bench.report("webhooks.single.write_to_receipt.p95", single.p95, "ms")
        # the write's own request, which write-to-receipt includes
        bench.report("webhooks.single.write_request.p50", Latency(writes).p50, "ms")
