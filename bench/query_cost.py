"""`uv run python -m bench.query_cost`: what pricing a document adds to a request.

No database: prices the read scenario's first-page document as a request does
(remembered per document and variables' shape), and once from scratch, and
its actual cost from a full page of 50 customers (computed after every
request), and prints microseconds per call.
"""

from __future__ import annotations

import timeit

from graphql import parse

from api.actual_cost import actual_cost
from api.cost import cost_of, document_cost
from api.schema import schema
from bench.scenarios.read import PAGE

CALLS = 20_000


def main() -> None:
    graphql_schema = schema._schema
    document = parse(PAGE)
    variables = {"after": None}
    fresh = timeit.timeit(lambda: document_cost(graphql_schema, document, variables), number=CALLS)
    remembered = timeit.timeit(
        lambda: cost_of(graphql_schema, document, PAGE, variables, None), number=CALLS
    )
    node = {"id": "c", "email": None, "name": None, "country": None, "totalSpent": 0.0}
    edges = [{"cursor": "x", "node": {**node, "lastOrderAt": None}} for _ in range(50)]
    data = {"customers": {"edges": edges, "pageInfo": {"hasNextPage": True, "endCursor": "x"}}}
    after = timeit.timeit(
        lambda: actual_cost(graphql_schema, document, data, None, PAGE), number=CALLS // 10
    )
    print(f"cost of the first-page query: {document_cost(graphql_schema, document, variables)}")
    print(f"actual cost of a full page: {actual_cost(graphql_schema, document, data)}")
    print(f"actual cost, from the result: {after / (CALLS // 10) * 1e6:.1f} us per call")
    print(f"computed from the AST: {fresh / CALLS * 1e6:.1f} us per call")
    print(f"as a request prices it (remembered): {remembered / CALLS * 1e6:.2f} us per call")


if __name__ == "__main__":
    main()
