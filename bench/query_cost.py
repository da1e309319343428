"""`uv run python -m bench.query_cost`: what pricing a document adds to a request.

No database: prices the read scenario's first-page document as a request does
(remembered per document and variables' shape), and once from scratch, and
prints microseconds per call.
"""

from __future__ import annotations

import timeit

from graphql import parse

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
    print(f"cost of the first-page query: {document_cost(graphql_schema, document, variables)}")
    print(f"computed from the AST: {fresh / CALLS * 1e6:.1f} us per call")
    print(f"as a request prices it (remembered): {remembered / CALLS * 1e6:.2f} us per call")


if __name__ == "__main__":
    main()
