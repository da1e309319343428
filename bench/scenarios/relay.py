"""Relay reads over HTTP: a backward page against a forward one, and node(id:) for a customer."""

from __future__ import annotations

import random

from bench.harness import Bench, scenario
from persistence.customers import encode_cursor

FORWARD = """
query Forward($after: String) {
  customers(first: 50, after: $after) {
    edges { cursor node { id email name country totalSpent lastOrderAt } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  }
}
"""
BACKWARD = """
query Backward($before: String) {
  customers(last: 50, before: $before) {
    edges { cursor node { id email name country totalSpent lastOrderAt } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  }
}
"""
NODE_ID = "query NodeId($id: ID!) { customer(id: $id) { nodeId } }"
NODE = """
query Node($id: ID!) {
  node(id: $id) {
    nodeId
    ... on Customer {
      id email name country currency language paymentMethodType properties
      ordersCount totalSpent firstOrderAt lastOrderAt createdAt hasParent hasChild
    }
  }
}
"""


@scenario(
    "relay",
    order=35,
    description="customers(last, before) against (first, after) at the same depth; node(id:)",
)
async def run(bench: Bench) -> None:
    rng = random.Random(35)
    n = bench.customers
    ids = [f"cus_{rng.randrange(1, n + 1):07d}" for _ in range(bench.warmup + bench.runs)]

    async def forward(i: int) -> float:
        return (await bench.gql(FORWARD, {"after": encode_cursor(ids[i])}))[1]

    async def backward(i: int) -> float:
        return (await bench.gql(BACKWARD, {"before": encode_cursor(ids[i])}))[1]

    ahead = await bench.latencies("relay.customers_deep_page_forward", forward)
    behind = await bench.latencies("relay.customers_deep_page_backward", backward)
    bench.report("relay.backward_vs_forward", behind.p50 / ahead.p50, "x")

    node_ids = [(await bench.gql(NODE_ID, {"id": i}))[0]["customer"]["nodeId"] for i in ids]

    async def node(i: int) -> float:
        return (await bench.gql(NODE, {"id": node_ids[i]}))[1]

    await bench.latencies("relay.node_customer", node)
