"""Random predicates on random data: the compiled SQL and the reference evaluator agree.

Hypothesis builds small datasets (5-25 customers, every field sometimes
missing, 0-4 records per scope, ties in time, events with typed and mistyped
properties) and predicates valid against them (tests/integration/generated.py).
Each dataset goes into a fresh workspace through customersUpsert over HTTP;
membership comes from the compiled condition run through the engine, and for
the first predicates of each dataset from segmentPreview over HTTP as well.
Deterministic (derandomize, no example database) and bounded in time.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api.runtime import Runtime
from domain.predicate_parser import parse_predicate
from tests.conftest import new_workspace
from tests.integration.conftest import Loaded
from tests.integration.dataset import (
    CATALOG,
    NOW,
    clock_at,
    ingest,
    preview_ids,
    sql_ids,
    stored,
    workspace_pk,
)
from tests.integration.fixture_customers import CUSTOMERS
from tests.integration.generated import datasets, predicates
from tests.reference import Record, members

BOUNDED = settings(
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)
PER_DATASET = 15
OVER_HTTP = 3


def _explain(raw: Any, got: set[str], expected: set[str], data: list[Record]) -> str:
    differing = sorted(got ^ expected)
    involved = [c for c in data if c["id"] in differing]
    return (
        f"predicate {json.dumps(raw)}\n"
        f"SQL only: {sorted(got - expected)}, reference only: {sorted(expected - got)}\n"
        f"customers: {involved!r}"
    )


@settings(BOUNDED, max_examples=12)
@given(data=datasets(), raws=st.lists(predicates(), min_size=PER_DATASET, max_size=PER_DATASET))
async def test_generated_predicates_on_generated_data(
    data: list[Record],
    raws: list[Any],
    runtime: Runtime,
    server: str,
    module_http: httpx.AsyncClient,
) -> None:
    ws = await new_workspace(runtime, server, module_http)
    await ingest(ws, runtime, data)
    wpk = await workspace_pk(runtime, ws)
    reference_data = stored(data)
    for index, raw in enumerate(raws):
        node = parse_predicate(raw, CATALOG)
        expected = members(node, reference_data, NOW)
        got = await sql_ids(runtime, wpk, node, NOW)
        assert got == expected, _explain(raw, got, expected, reference_data)
        if index < OVER_HTTP:
            with clock_at(runtime, NOW):
                over_http = await preview_ids(ws, raw)
            assert over_http == expected, _explain(raw, over_http, expected, reference_data)


@settings(BOUNDED, max_examples=250)
@given(raw=predicates())
async def test_generated_predicates_on_the_fixture_data(
    raw: Any, loaded: Loaded, runtime: Runtime
) -> None:
    node = parse_predicate(raw, CATALOG)
    expected = members(node, stored(CUSTOMERS), NOW)
    got = await sql_ids(runtime, loaded.pk, node, NOW)
    assert got == expected, _explain(raw, got, expected, stored(CUSTOMERS))
