"""The lean executor answers exactly as graphql-core's own: a corpus through both, compared.

Given a workspace with customers (related rows, nulls, properties), segments and a custom
property, when each document of the corpus (aliases, fragments, variables, `__typename`,
interfaces, nulls, request errors, field errors) runs on the service's schema and on the
same schema built with graphql-core's executor, then the encoded results are the same bytes.
A schema of its own feeds plain fields values they refuse (a null for a non-null field, an
enum value that is not one, an Int past 32 bits, an exception) to check the fallbacks.
"""

from __future__ import annotations

import enum
import json
from typing import Any

import orjson
import pytest
import strawberry
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

import api.executor
from api.auth import authenticate
from api.context import Context
from api.executor import LeanExecutor
from api.field_plans import SLOW
from api.runtime import Runtime
from api.schema import build_schema, schema
from api.types.node import global_id
from domain.access import Role
from tests.api.documents import CUSTOMER, CUSTOMER_FIELDS, CUSTOMERS, DEFINE_PROPERTY, UPSERT
from tests.api.segment_documents import CREATE, MEMBERS, SEGMENTS
from tests.conftest import Workspace

REFERENCE = build_schema(StrawberryGraphQLCoreExecutionContext)


def customer(n: int) -> dict[str, Any]:
    related: dict[str, Any] = {
        "subscriptions": [
            {
                "id": "sub_1",
                "status": "ACTIVE",
                "planId": "pro",
                "amount": 29.5,
                "currency": "EUR",
                "startedAt": "2026-01-01T00:00:00Z",
            }
        ],
        "invoices": [{"id": "inv_1", "status": "OPEN", "total": 99.99, "currency": "EUR"}],
        "orders": [
            {
                "id": f"ord_{k}",
                "status": "FULFILLED",
                "amount": 10 + k,
                "currency": "EUR",
                "placedAt": f"2026-02-0{k + 1}T10:00:00Z",
            }
            for k in range(3)
        ],
        "wallets": [{"id": "wal_1", "currency": "EUR", "balance": 5}],
        "verifications": [{"id": "ver_1", "kind": "EMAIL", "status": "VERIFIED"}],
    }
    base: dict[str, Any] = {"id": f"cus_{n}", "email": f"c{n}@example.com"}
    if n % 2 == 0:  # every other customer has its optional fields and rows; the rest null
        base |= {
            "name": f"Customer {n}",
            "country": "FR",
            "paymentMethodType": "CARD",
            "properties": {"plan": "pro", "seats": n},
        } | related
    return base


NODE = """
query Node($id: ID!, $missing: ID!) {
  found: node(id: $id) { __typename nodeId ...Who ... on Segment { name } }
  missing: node(id: $missing) { nodeId }
}
fragment Who on Customer { id email name hasParent hasChild properties totalSpent }
"""
ALIASES = """
query Aliases($id: ID!) {
  a: customer(id: $id) { key: id mail: email, id, __typename, t: __typename }
  b: customer(id: "nobody") { id }
  customers(first: 3) {
    edges { node { ... on Customer { id } ...F } ... { cursor } }
    pageInfo { ... on PageInfo { hasNextPage endCursor } }
  }
}
fragment F on Customer { email country @include(if: true) name @skip(if: true) }
"""
DIRECTIVES = """
query Directives($yes: Boolean!, $id: ID!) {
  customer(id: $id) { id email @include(if: $yes) name @skip(if: $yes) }
}
"""
PREDICATE_PAGE = """
query Page($w: JSON) {
  customers(first: 2, where: $w) {
    edges { node { id email } } pageInfo { endCursor hasNextPage }
  }
}
"""
ERRORS = [
    # a resolver's refusal: a coded top-level error, data null where it was
    ('{ customers(first: 2, after: "not a cursor") { edges { node { id } } } }', None),
    (
        "query($w: JSON) { customers(where: $w) { totalCount } }",
        {"w": {"field": "nope", "op": "EQ", "value": 1}},
    ),
    # request errors: nothing runs
    ("{ customer(id: 1) { nope } }", None),
    ("query($id: ID!) { customer(id: $id) { id } }", {}),
    ('{ customer(id: "x") { id ', None),
]


async def caller_context(runtime: Runtime, workspace: Workspace) -> Context:
    caller = await authenticate(runtime, f"Bearer {workspace.keys[Role.ADMIN]}")
    assert caller is not None
    return Context(runtime, caller)


async def encoded(
    built: strawberry.Schema, query: str, variables: dict[str, Any] | None, context: Context
) -> bytes:
    result = await built.execute(query, variable_values=variables, context_value=context)
    body: dict[str, Any] = {"data": result.data}
    if result.errors:
        body["errors"] = [error.formatted for error in result.errors]
    if result.extensions:
        body["extensions"] = result.extensions
    return orjson.dumps(body)


async def test_the_service_schema_uses_the_lean_executor() -> None:
    assert issubclass(schema.execution_context_class, LeanExecutor)


async def test_a_corpus_answers_the_same_bytes_through_both_executors(
    runtime: Runtime, workspace: Workspace
) -> None:
    # Given
    for key, type_ in (("plan", "STRING"), ("seats", "NUMBER")):
        defined = await workspace.gql(DEFINE_PROPERTY, {"input": {"key": key, "type": type_}})
        assert defined.data["customPropertyDefine"]["userErrors"] == []
    upserted = await workspace.gql(UPSERT, {"customers": [customer(n) for n in range(6)]})
    assert upserted.data["customersUpsert"]["userErrors"] == []
    created = await workspace.gql(
        CREATE, {"input": {"name": "Some", "customerIds": ["cus_0", "cus_1"]}}
    )
    segment_id = created.data["segmentCreate"]["segment"]["id"]
    context = await caller_context(runtime, workspace)
    pk = context.workspace_pk
    corpus: list[tuple[str, dict[str, Any] | None]] = [
        ("{ __typename }", None),
        (CUSTOMER, {"id": "cus_0"}),
        (CUSTOMER, {"id": "cus_1"}),  # nulls in every optional field, empty lists
        (CUSTOMER, {"id": "nobody"}),
        (CUSTOMERS, {"first": 4}),
        (CUSTOMERS, {"first": 2, "search": "c3"}),
        (f"{{ customers(last: 2) {{ edges {{ node {{ {CUSTOMER_FIELDS} }} }} }} }}", None),
        (NODE, {"id": global_id("Customer", pk, "cus_2"), "missing": "bad"}),
        (
            NODE,
            {
                "id": global_id("Segment", pk, segment_id),
                "missing": global_id("Customer", pk + 1, "cus_2"),
            },
        ),
        (ALIASES, {"id": "cus_4"}),
        (DIRECTIVES, {"yes": True, "id": "cus_0"}),
        (DIRECTIVES, {"yes": False, "id": "cus_0"}),
        (PREDICATE_PAGE, {"w": {"field": "country", "op": "EQ", "value": "FR"}}),
        (SEGMENTS, {"first": 5}),
        (MEMBERS, {"id": segment_id, "first": 5}),
        *ERRORS,
    ]
    for query, variables in corpus:
        # When
        lean = await encoded(schema, query, variables, context)
        reference = await encoded(REFERENCE, query, variables, context)
        # Then
        assert lean == reference, query
    # and the corpus did reach data and errors alike
    answers = [json.loads(await encoded(schema, q, v, context)) for q, v in corpus]
    assert any(a.get("errors") for a in answers) and any(a.get("data") for a in answers)


class Plan(enum.Enum):
    FREE = "free"


@strawberry.type
class Leaf:
    name: str
    count: int | None
    plan: Plan
    tag: str | None


@strawberry.type
class Holder:
    leaf: Leaf
    maybe: Leaf | None
    leaves: list[Leaf] = strawberry.field(default_factory=list)
    maybes: list[Leaf | None] | None = None


GOOD = Leaf(name="g", count=3, plan=Plan.FREE, tag="t")
NAMELESS = Leaf(name=None, count=None, plan=Plan.FREE, tag=None)  # type: ignore[arg-type]


BROKEN: list[Any] = [
    Holder(leaf=Leaf(name=None, count=1, plan=Plan.FREE, tag="x"), maybe=None),  # type: ignore[arg-type]
    Holder(leaf=Leaf(name="a", count=2**40, plan=Plan.FREE, tag=None), maybe=None),
    Holder(leaf=Leaf(name="a", count=1, plan="nope", tag=None), maybe=None),  # type: ignore[arg-type]
    Holder(leaf=Leaf(name="a", count=1, plan=Plan.FREE, tag=ValueError("boom")), maybe=None),  # type: ignore[arg-type]
    Holder(leaf=None, maybe=Leaf(name=None, count=None, plan=Plan.FREE, tag=None)),  # type: ignore[arg-type]
    Holder(leaf="not a leaf", maybe=None),  # type: ignore[arg-type]
    Holder(leaf=GOOD, maybe=GOOD, leaves=[GOOD, NAMELESS, GOOD], maybes=[None, NAMELESS, GOOD]),
    Holder(leaf=GOOD, maybe=None, leaves=[GOOD, None], maybes=None),  # type: ignore[list-item]
    Holder(leaf=GOOD, maybe=None, leaves="nope", maybes=[GOOD, "nope"]),  # type: ignore[arg-type,list-item]
]


@strawberry.type
class BrokenQuery:
    @strawberry.field
    def holders(self) -> list[Holder | None]:
        return BROKEN

    @strawberry.field
    def holder(self) -> Holder:
        return BROKEN[0]


BROKEN_DOCUMENTS = [
    "{ holders { leaf { name count plan tag __typename } maybe { name count } } }",
    "{ holders { maybe { count name } m: maybe { tag } } }",
    "{ holder { leaf { name } } }",
    "{ holder { maybe { name } leaf { tag name } } }",
    "{ holders { leaves { name count } maybes { tag name } } }",
    "{ holders { leaves { count } maybes { count } l: leaves { __typename } } }",
]


@pytest.mark.parametrize("document", BROKEN_DOCUMENTS)
async def test_values_a_plain_field_refuses_give_graphql_cores_errors(document: str) -> None:
    # Given the same schema with each executor
    lean = strawberry.Schema(query=BrokenQuery, execution_context_class=LeanExecutor)
    reference = strawberry.Schema(query=BrokenQuery)
    # When
    ours = await lean.execute(document)
    theirs = await reference.execute(document)
    # Then
    assert ours.errors, "the corpus should produce field errors"
    assert orjson.dumps(ours.data) == orjson.dumps(theirs.data)
    assert [e.formatted for e in ours.errors] == [e.formatted for e in theirs.errors or []]


async def test_a_selection_with_plans_down_to_its_leaves_is_completed_in_one_call(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given a schema whose `holder` subtree is plain attributes only, and a counter on
    # the compiled completions
    lean = strawberry.Schema(query=BrokenQuery, execution_context_class=LeanExecutor)
    answered: list[Any] = []
    whole = api.executor._whole

    def counted(compiled: Any, source: Any) -> Any:
        answered.append(whole(compiled, source))
        return answered[-1]

    monkeypatch.setattr(api.executor, "_whole", counted)
    document = "{ holders { leaf { name } leaves { name plan } } }"
    # When
    ours = await lean.execute(document)
    theirs = await strawberry.Schema(query=BrokenQuery).execute(document)
    # Then the good holders' fields came from one call each, the broken ones fell back
    assert orjson.dumps(ours.data) == orjson.dumps(theirs.data)
    assert [e.formatted for e in ours.errors or []] == [e.formatted for e in theirs.errors or []]
    assert any(a is not SLOW for a in answered) and any(a is SLOW for a in answered)
