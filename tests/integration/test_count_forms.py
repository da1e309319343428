"""COUNT's two SQL forms select the same customers, and the ones the spec says.

A related COUNT compiles to a grouped semi-join (counts, exports, stored
memberships) and carries a per-customer count capped at its threshold (a
page, one customer), which `for_few_customers` swaps in. Both run straight
through the engine on the fixture data, narrowed to the workspace as the
service compiles them, and are checked against the reference evaluator: on
hand-picked counts around zero and the cap, and on generated predicates.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import ColumnElement, select

from api.runtime import Runtime
from domain.predicate_parser import parse_predicate
from persistence.count_forms import for_few_customers
from persistence.evaluation import membership_condition
from persistence.field_map import customer_table
from tests.integration.conftest import Loaded
from tests.integration.dataset import CATALOG, NOW, stored
from tests.integration.fixture_customers import CUSTOMERS
from tests.integration.generated import predicates, related
from tests.integration.predicate_json import cond, negate, rel
from tests.reference import members

STORED = stored(CUSTOMERS)
CHECKOUT = cond("name", "EQ", "checkout_started")
CHECKOUT_TWICE = rel("EVENTS", "COUNT", CHECKOUT, count=("GTE", 2))
COUNTS = [
    ("GTE", 0), ("GTE", 1), ("GTE", 2), ("GT", 0), ("GT", 2), ("EQ", 0), ("EQ", 1),
    ("EQ", 2147483647), ("NEQ", 0), ("NEQ", 2), ("LT", 0), ("LT", 1), ("LT", 2),
    ("LTE", 0), ("LTE", 1), ("BETWEEN", [0, 0]), ("BETWEEN", [0, 1]), ("BETWEEN", [2, 3]),
]  # fmt: skip
HAND_PICKED = [
    predicate
    for scope, where in (("EVENTS", CHECKOUT), ("EVENTS", None), ("INVOICES", None))
    for count in COUNTS
    for predicate in (
        rel(scope, "COUNT", where, count=count),
        negate(rel(scope, "COUNT", where, count=count)),
        negate({"or": [{"or": [rel(scope, "COUNT", where, count=count)]}]}),
    )
]
BOUNDED = settings(
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


async def ids(runtime: Runtime, wpk: int, condition: ColumnElement[bool]) -> set[str]:
    query = select(customer_table.c.id).where(customer_table.c.workspace_pk == wpk, condition)
    async with runtime.engine.connect() as conn:
        return {row.id for row in await conn.execute(query)}


async def assert_forms_agree(raw: Any, loaded: Loaded, runtime: Runtime) -> None:
    """Given a predicate, when compiled for many and for few customers, both follow the spec."""
    node = parse_predicate(raw, CATALOG)
    expected = members(node, STORED, NOW)
    grouped = membership_condition(node, CATALOG, NOW, workspace_pk=loaded.pk)
    assert await ids(runtime, loaded.pk, grouped) == expected, ("grouped", raw)
    per_customer = for_few_customers(grouped)
    assert await ids(runtime, loaded.pk, per_customer) == expected, ("per customer", raw)


@pytest.mark.parametrize("raw", HAND_PICKED, ids=[repr(p) for p in HAND_PICKED])
async def test_hand_picked_counts(raw: Any, loaded: Loaded, runtime: Runtime) -> None:
    await assert_forms_agree(raw, loaded, runtime)


COUNT_NODES = related().filter(lambda r: r["related"]["quantifier"] == "COUNT")
WITH_COUNTS = st.one_of(
    COUNT_NODES,
    COUNT_NODES.map(negate),
    st.lists(COUNT_NODES | predicates(), min_size=2, max_size=3).map(lambda xs: {"or": xs}),
    st.lists(COUNT_NODES | predicates(), min_size=2, max_size=3).map(lambda xs: {"and": xs}),
)


@settings(BOUNDED, max_examples=200)
@given(raw=WITH_COUNTS)
async def test_generated_counts(raw: Any, loaded: Loaded, runtime: Runtime) -> None:
    await assert_forms_agree(raw, loaded, runtime)


def test_the_per_customer_form_groups_nothing() -> None:
    """A page must not aggregate the workspace's records: no GROUP BY is left, NOT included."""
    raw = {"and": [CHECKOUT_TWICE, negate(rel("INVOICES", "COUNT", count=("LT", 2)))]}
    grouped = membership_condition(parse_predicate(raw, CATALOG), CATALOG, NOW, workspace_pk=1)
    assert str(grouped).count("GROUP BY") == 2
    assert "GROUP BY" not in str(for_few_customers(grouped))
