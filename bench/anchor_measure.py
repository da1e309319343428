"""The anchor's `measure.py`, with a query set for segmentql registered beside PostGraphile's.

`python -m bench.anchor_measure [measure.py arguments]` imports measure.py from the shared
anchor folder (SEGMENTQL_ANCHOR_DIR, default ../shared/bench-anchor beside the repository),
adds the `segmentql` query set and runs its `main()`: the same checks against SQL, the same
interleaved rounds and throughput clients as for PostGraphile. bench/scenarios/anchor.py
runs it as a subprocess and reads its `name: value unit` lines.
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

from persistence.customers import encode_cursor

PAGE = 50
DEFAULT_DIR = Path(__file__).resolve().parents[2] / "shared" / "bench-anchor"

PAGE_QUERY = (
    "query Q($w: JSON!, $after: String) { customers(first: 50, after: $after, where: $w) "
    "{ edges { node { id email } } pageInfo { endCursor hasNextPage } } }"
)
COUNT_QUERY = "query Q($w: JSON!) { customers(where: $w) { totalCount } }"


def anchor_dir() -> Path:
    return Path(os.environ.get("SEGMENTQL_ANCHOR_DIR") or DEFAULT_DIR)


def load_measure() -> ModuleType:
    """measure.py as a module (it is not a package: loaded from its path)."""
    path = anchor_dir() / "measure.py"
    spec = importlib.util.spec_from_file_location("anchor_measure_script", path)
    if spec is None or spec.loader is None:
        raise SystemExit(f"no measure.py at {path} (set SEGMENTQL_ANCHOR_DIR)")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def condition(field: str, operator: str, **operand: Any) -> dict[str, Any]:
    return {"condition": {"field": field, "operator": operator, **operand}}


def segmentql_extract(kind: str, data: dict[str, Any], field: str) -> Any:
    """(ids, hasNextPage, endCursor), or totalCount, from `customers`' connection."""
    connection = data[field]
    if kind == "count":
        return connection["totalCount"]
    ids = [edge["node"]["id"] for edge in connection["edges"]]
    info = connection["pageInfo"]
    return ids, info["hasNextPage"], info["endCursor"]


def segmentql_queries(a: Any, keys: dict[str, Any]) -> dict[str, Any]:
    """The anchor's scenarios as `customers(where:)` predicates (no `offset`: e is skipped)."""
    indexed = {
        "and": [
            condition("country", "IN", values=a.countries),
            condition("paymentMethodType", "EQ", value=a.payment_method),
        ]
    }
    open_invoice = {
        "related": {
            "scope": "INVOICES",
            "quantifier": "ANY",
            "where": condition("status", "EQ", value=a.invoice_status),
        }
    }
    page = {"w": indexed}
    return {
        "field": "customers",
        "extract": segmentql_extract,
        "a_page1": (PAGE_QUERY, page),
        "b_count": (COUNT_QUERY, page),
        "c_open_page1": (PAGE_QUERY, {"w": open_invoice}),
        "d_page2_cursor": (PAGE_QUERY, lambda res: dict(page, after=res["a_page1"][2])),
        "f_deep_cursor": (PAGE_QUERY, dict(page, after=encode_cursor(keys["deep_key"]))),
    }


def main() -> None:
    measure = load_measure()
    measure.QUERY_SETS["segmentql"] = segmentql_queries
    sys.argv = ["measure.py", *sys.argv[1:]]
    asyncio.run(measure.main())


if __name__ == "__main__":
    main()
