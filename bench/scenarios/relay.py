"""Relay reads over HTTP: a backward page against a forward one, and node(id:) for a customer."""

from __future__ import annotations

import random
import statistics

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
    # On a shared machine the load drifts between the two runs above; one forward and
    # one backward page in turn, from the same cursor, see the same load.
    pairs = [(await forward(i), await backward(i)) for i in range(bench.runs)]
    ratio = statistics.median(b for _, b in pairs) / statistics.median(f for f, _ in pairs)
    bench.report("relay.backward_vs_forward_interleaved", ratio, "x")

    # The keyset read alone, each way: what the page's SQL costs without HTTP and GraphQL.
    keyset = (
        "SELECT id FROM customer WHERE workspace_pk = $1 AND id {op} $2 "
        "ORDER BY id {order} LIMIT 51"
    )
    after_sql = keyset.format(op=">", order="ASC")
    before_sql = keyset.format(op="<", order="DESC")

    async def forward_sql(i: int) -> float:
        return (await bench.sql_timed(after_sql, bench.workspace_pk, ids[i]))[1]

    async def backward_sql(i: int) -> float:
        return (await bench.sql_timed(before_sql, bench.workspace_pk, ids[i]))[1]

    ahead = await bench.latencies("relay.customers_deep_page_forward_sql", forward_sql)
    behind = await bench.latencies("relay.customers_deep_page_backward_sql", backward_sql)
    bench.report("relay.backward_vs_forward_sql", behind.p50 / ahead.p50, "x")

    node_ids = [(await bench.gql(NODE_ID, {"id": i}))[0]["customer"]["nodeId"] for i in ids]

    async def node(i: int) -> float:
        return (await bench.gql(NODE, {"id": node_ids[i]}))[1]

    await bench.latencies("relay.node_customer", node)
