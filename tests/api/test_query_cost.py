"""Query cost: priced from the AST before anything runs, refused over the maximum."""

from __future__ import annotations

import importlib
import pkgutil
import re
import time
from typing import Any

import pytest
from graphql import GraphQLError, OperationDefinitionNode, parse

import bench.scenarios
from api.actual_cost import actual_cost
from api.cost import DEFAULT_MAX_COST, OVERRIDES, PRICING, QUERY_TOO_COSTLY, document_cost
from api.runtime import Runtime
from api.schema import schema
from domain.access import Role
from persistence.database import counting_statements
from tests.api.segment_documents import country_is, create_ok, upsert_ok
from tests.conftest import ROOT, Workspace

# The document: depth 11, no aliases, and pages that multiply.
NESTED = """
{ customers(first: 100, where: {condition: {field: "country", operator: "EQ", value: "DE"}}) {
  edges { node { segments { members(first: 100) { edges { node { segments {
    members(first: 100) { edges { node { id segments { name } } } } } } } } } } } } }
"""
NESTED_SMALL = NESTED.replace("first: 100", "first: 5")
NESTED_SMALL_COST = 52_731  # as docs/api.md's example computes it
# 1 + 5 * (1 + 10 + 1 * (1 + 1 + 5 * (1 + 10 + 1 * (1 + 1 + 5 * (1 + 10 + 1)))))
NESTED_SMALL_ACTUAL = 1891
TYPENAME = "{ __typename }"
FIRST_PAGE = "query Page($n: Int) { customers(first: $n) { edges { node { id email } } } }"

DOCUMENTED = [ROOT / "README.md", ROOT / "docs" / "api.md"]


def graphql_blocks() -> list[str]:
    blocks = []
    for path in DOCUMENTED:
        blocks += re.findall(r"```graphql\n(.*?)```", path.read_text(), re.S)
    return blocks


def executable(block: str) -> bool:
    try:
        document = parse(block)
    except GraphQLError:
        return False  # SDL excerpts with comments in place of syntax
    return any(isinstance(d, OperationDefinitionNode) for d in document.definitions)


def cost(document: str, variables: dict[str, object] | None = None) -> int:
    return document_cost(schema._schema, parse(document), variables)


def actual(document: str, data: dict[str, Any]) -> int:
    return actual_cost(schema._schema, parse(document), data)


async def test_the_nested_document_is_refused_before_any_statement(
    runtime: Runtime, workspace: Workspace
) -> None:
    # a first use of the key writes its lastUsedAt (once a minute): the baseline is the next
    assert (await workspace.gql(TYPENAME, role=Role.READ)).data == {"__typename": "Query"}
    with counting_statements(runtime.engine) as baseline:
        assert (await workspace.gql(TYPENAME, role=Role.READ)).data == {"__typename": "Query"}

    with counting_statements(runtime.engine) as seen:
        started = time.perf_counter()
        result = await workspace.gql(NESTED, role=Role.READ)
        elapsed_ms = (time.perf_counter() - started) * 1000

    assert result.status == 200
    assert result.body.get("data") is None
    [error] = result.errors
    assert error["extensions"]["code"] == QUERY_TOO_COSTLY
    assert error["extensions"]["requestedQueryCost"] == cost(NESTED)
    assert error["extensions"]["maximumQueryCost"] == DEFAULT_MAX_COST
    assert result.body["extensions"]["cost"]["requestedQueryCost"] == cost(NESTED)
    assert len(seen) == len(baseline)  # only the key lookup: no resolver ran
    print(f"refused in {elapsed_ms:.1f} ms")


async def test_the_same_shape_with_small_pages_runs_and_reports_its_cost(
    workspace: Workspace,
) -> None:
    await upsert_ok(workspace, *({"id": f"c{i}", "country": "DE"} for i in range(7)))
    await create_ok(workspace, name="germany", predicate=country_is("DE"))

    result = await workspace.gql(NESTED_SMALL, role=Role.READ)

    edges = result.data["customers"]["edges"]
    assert len(edges) == 5
    assert edges[0]["node"]["segments"][0]["members"]["edges"][0]["node"]["segments"]
    reported = result.body["extensions"]["cost"]
    assert reported["requestedQueryCost"] == NESTED_SMALL_COST
    assert reported["maximumQueryCost"] == DEFAULT_MAX_COST
    # what came back: 5 customers in 1 segment, 5 members a page, each in that segment
    assert reported["actualQueryCost"] == NESTED_SMALL_ACTUAL
    assert actual(NESTED_SMALL, result.data) == NESTED_SMALL_ACTUAL


async def test_every_response_carries_its_cost(workspace: Workspace) -> None:
    result = await workspace.gql(FIRST_PAGE, {"n": 20})

    assert result.data["customers"]["edges"] == []
    assert result.body["extensions"]["cost"]["requestedQueryCost"] == 21
    assert result.body["extensions"]["cost"]["actualQueryCost"] == 1  # no customer came back


async def test_a_page_size_sent_as_a_whole_float_is_priced_as_the_page_it_runs(
    workspace: Workspace,
) -> None:
    # given: a small page asked for, so its cost is remembered for the document
    assert (await workspace.gql(FIRST_PAGE, {"n": 5})).errors == []

    # when: the same document asks for 250.0 (JSON has no integers apart; GraphQL's Int
    # takes 250.0 as 250, so 250 customers would be read)
    result = await workspace.gql(FIRST_PAGE, {"n": 250.0})

    # then: it is priced as the 250-customer page it is, not as the default or the 5
    assert result.errors == []
    assert result.body["extensions"]["cost"]["requestedQueryCost"] == cost(FIRST_PAGE, {"n": 250})
    assert cost(FIRST_PAGE, {"n": 250.0}) == cost(FIRST_PAGE, {"n": 250}) == 251


def test_a_variable_left_out_is_priced_at_its_default_value() -> None:
    # a variable not sent takes its default: the page that runs is 250, not the default page
    defaulted = FIRST_PAGE.replace("($n: Int)", "($n: Int = 250)")
    assert cost(defaulted) == cost(FIRST_PAGE, {"n": 250}) == 251
    assert cost(defaulted, {"n": 3}) == 4  # a value sent wins over the default


def test_page_sizes_come_from_arguments_variables_and_defaults() -> None:
    assert cost(FIRST_PAGE, {"n": 20}) == 21
    assert cost(FIRST_PAGE, {"n": 5000}) == 1001  # clamped to the largest page
    assert cost(FIRST_PAGE) == 51  # the default page
    assert cost("{ customers(first: 2) { totalCount pageInfo { hasNextPage } } }") == 11
    assert cost('{ customer(id: "c") { id invoices { id } } }') == 6  # a list: 5 assumed
    assert cost('{ customer(id: "c") { segments { id } } }') == 16  # plus its override
    assert cost("{ __schema { types { fields { name args { name } } } } }") == 0


def test_fragments_are_priced_where_they_are_spread() -> None:
    inline = "{ customers(first: 3) { edges { node { id invoices { id } } } } }"
    spread = (
        "{ customers(first: 3) { edges { node { ...C } } } } "
        "fragment C on Customer { id invoices { id } }"
    )
    typed = "{ customers(first: 3) { edges { node { ... on Customer { invoices { id } } } } } }"
    assert cost(inline) == cost(spread) == cost(typed) == 1 + 3 * (1 + 5)


def test_mutations_cost_more_and_lists_of_inputs_set_the_page() -> None:
    upsert = (
        "mutation($c: [CustomerInput!]!) { customersUpsert(customers: $c) { customers { id } } }"
    )
    assert cost(upsert, {"c": [{"id": "a"}, {"id": "b"}]}) == 10 + 1 + 2


@pytest.mark.parametrize("block", [b for b in graphql_blocks() if executable(b)])
def test_every_documented_query_is_under_the_default_maximum(block: str) -> None:
    assert cost(block) <= DEFAULT_MAX_COST


def test_the_documented_costs_are_the_computed_ones() -> None:
    examples = [b for b in graphql_blocks() if b.startswith("# cost: ")]
    assert len(examples) >= 4
    for block in examples:
        stated = int(block.split("\n", 1)[0].removeprefix("# cost: ").replace(",", ""))
        assert cost(block) == stated, block


def bench_documents() -> list[str]:
    found = []
    for module in pkgutil.iter_modules(bench.scenarios.__path__):
        loaded = importlib.import_module(f"bench.scenarios.{module.name}")
        found += [v for v in vars(loaded).values() if isinstance(v, str) and executable(v)]
    return found


def test_every_benchmark_document_is_under_the_default_maximum() -> None:
    documents = bench_documents()
    assert len(documents) >= 10
    for document in documents:
        assert cost(document) <= DEFAULT_MAX_COST, document


def test_the_endpoints_connection_is_priced_as_other_connections() -> None:
    endpoints = "{ webhookEndpointsConnection%s { totalCount edges { node { id } } } }"
    segments = "{ segments%s { totalCount edges { node { id } } } }"
    for page in ("(first: 20)", "(last: 20)", ""):
        assert cost(endpoints % page) == cost(segments % page)
    assert cost(endpoints % "(last: 20)") == 21
    assert cost("{ webhookEndpoints { id } }") == 5  # the plain list: LIST_SIZE assumed


def test_the_actual_cost_counts_what_came_back() -> None:
    page = "{ customers(first: 50) { edges { node { id invoices { id } segments { id } } } } }"
    two = {
        "customers": {
            "edges": [
                {"node": {"id": "a", "invoices": [{"id": "i1"}, {"id": "i2"}], "segments": []}},
                {"node": {"id": "b", "invoices": [], "segments": None}},
            ]
        }
    }
    # 1 connection + 2 customers + 2 invoices + 10 per segments field asked (twice)
    assert actual(page, two) == 1 + 2 + 2 + 2 * 10
    assert actual(page, {"customers": {"edges": []}}) == 1
    assert actual(page, {"customers": None}) == 0


def test_fields_merged_under_one_key_are_priced_once() -> None:
    twice = (
        "{ customers(first: 5) { edges { node { invoices { id } ...I } } } } "
        "fragment I on Customer { invoices { total } }"
    )
    data = {"customers": {"edges": [{"node": {"invoices": [{"id": "i", "total": 1.0}]}}]}}
    assert actual(twice, data) == 1 + 1 + 1
    assert actual(twice, data) <= cost(twice)


def documented_rows(heading: str) -> list[tuple[str, str]]:
    """The (first cell, second cell) rows of the table after `heading` in docs/api.md."""
    text = (ROOT / "docs" / "api.md").read_text()
    table = text[text.index(heading) :].split("\n\n", 2)[1]
    rows = [line.strip("|").split("|") for line in table.splitlines()[2:]]
    return [(what.strip(), points.strip()) for what, points in rows]


def test_the_documented_cost_table_is_what_the_code_charges() -> None:
    extra: dict[str, int] = {}
    for what, points in documented_rows("Fields that do more than read rows cost more"):
        for field in re.findall(r"`([A-Z]\w*\.\w+)`", what.split(" (")[0]):
            extra[field] = int(points.split()[0])
    assert extra == dict(OVERRIDES)

    rules = dict(documented_rows("The rules (the same for every field"))
    assert rules["a field with `first` or `last`"] == (
        f"its page: `first` (1 to {PRICING.max_page}), {PRICING.default_page} when not given"
    )
    other_lists = "any other list of objects (`segments`, `invoices`, `usages` ...)"
    assert rules[other_lists].endswith(f"times {PRICING.list_size}")
    assert rules["a mutation"] == f"{PRICING.mutation_cost} more"


def test_the_actual_cost_of_fragments_on_several_types_counts_what_each_object_returned() -> None:
    document = """
    query($ids: [ID!]!) { nodes(ids: $ids) {
      ... on Customer { id invoices { id } }
      ... on Segment { id stats { customerCount } }
    } }
    """
    data = {
        "nodes": [
            {"id": "c1", "invoices": [{"id": "i1"}, {"id": "i2"}]},
            {"id": "s1", "stats": {"customerCount": 3}},
            None,  # an id that resolved to nothing
        ]
    }
    # 2 objects + 2 invoices + a stats object and its 10 extra points
    assert actual(document, data) == 2 + 2 + (10 + 1)
    assert actual(document, data) <= cost(document, {"ids": ["a", "b", "c"]})
