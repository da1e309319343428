"""Malformed arguments never become internal errors: the fuzzer's findings, then every operation.

The walk reads the schema the server serves (so operations added later are
walked too), and calls each query and mutation with each of a handful of
malformed values per argument, sent as variables: empty, NUL, overlong,
unknown ids, out-of-range numbers, JSON of the wrong shape. Every answer
must be a coded refusal or data; never INTERNAL_SERVER_ERROR or HTTP 5xx.
"""

from __future__ import annotations

from typing import Any

import pytest
from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLScalarType,
    GraphQLSchema,
    build_client_schema,
    get_introspection_query,
    get_named_type,
)

from api.top_level_errors import REQUEST_CODES
from domain.access import Role
from domain.errors import ErrorCode
from tests.api.segment_documents import create_ok, segment_names, upsert_ok
from tests.conftest import ROOT, Workspace

NUL = "a\u0000b"
DOCUMENTED = {*REQUEST_CODES, *(code.value for code in ErrorCode)}


# ---- the findings ----------------------------------------------------------------------------


FRENCH = '{condition: {field: "country", operator: "EQ", value: "FR"}}'


@pytest.mark.parametrize(
    ("document", "argument"),
    [
        ('{ segment(id: "s\\u0000") { id } }', "id"),
        ('{ segmentationTable(instanceId: "\\u0019W\\u0000M") { totalCount } }', "instanceId"),
        ('{ segmentInstances(segmentId: "\\u0000") { totalCount } }', "segmentId"),
    ],
)
async def test_a_nul_in_a_query_argument_is_a_bad_user_input_naming_it(
    workspace: Workspace, document: str, argument: str
) -> None:
    result = await workspace.gql(document)

    assert result.status == 200
    [error] = result.errors
    assert error["extensions"]["code"] == "BAD_USER_INPUT", error
    assert error["extensions"]["argument"] == argument


@pytest.mark.parametrize(
    ("document", "field"),
    [
        (
            f'mutation {{ segmentCreate(input: {{name: "n\\u0000", predicate: {FRENCH}}}) '
            "{ segment { id } userErrors { field code } } }",
            ["input", "name"],
        ),
        (
            'mutation { segmentDelete(id: "\\u0000") { userErrors { field code } } }',
            ["id"],
        ),
        (
            'mutation { segmentSnapshotTake(segmentId: "\\u0000") '
            "{ instance { id } userErrors { field code } } }",
            ["segmentId"],
        ),
        (
            'mutation { segmentUsageAttach(segmentId: "\\u0000", kind: ANALYTICS, reference: "r") '
            "{ segment { id } userErrors { field code } } }",
            ["segmentId"],
        ),
        (
            'mutation { segmentUsageDetach(segmentId: "\\u0000", kind: ANALYTICS, reference: "r") '
            "{ segment { id } userErrors { field code } } }",
            ["segmentId"],
        ),
        (
            'mutation { webhookEndpointReplay(endpointId: "U\\u0000", afterEventId: 74) '
            "{ deliveries userErrors { field code } } }",
            ["endpointId"],
        ),
    ],
)
async def test_a_nul_in_a_mutation_argument_is_a_user_error_naming_it(
    workspace: Workspace, document: str, field: list[str]
) -> None:
    result = await workspace.gql(document)

    [payload] = result.data.values()
    assert payload["userErrors"] == [{"field": field, "code": "INVALID"}]
    assert await segment_names(workspace) == []


async def test_a_nul_deep_in_a_variable_is_named_by_its_path_and_changes_nothing(
    workspace: Workspace,
) -> None:
    create = """
    mutation Create($input: SegmentCreateInput!) {
      segmentCreate(input: $input) { segment { id } userErrors { field code } }
    }
    """
    nested = {"name": "fine", "predicate": {"or": [{"condition": {
        "field": "email", "operator": "IN", "values": ["a@b.c", NUL]}}]}}  # fmt: skip

    payload = (await workspace.gql(create, {"input": nested})).data["segmentCreate"]

    assert payload["segment"] is None
    [error] = payload["userErrors"]
    assert error["code"] == "INVALID" and error["field"][:2] == ["input", "predicate"]
    assert await segment_names(workspace) == []


async def test_unknown_ids_in_queries_keep_their_stable_codes(workspace: Workspace) -> None:
    await upsert_ok(workspace, {"id": "ada"})
    cases = {
        '{ customers(segmentId: "") { totalCount } }': "NOT_FOUND",
        '{ segmentMembership(segmentId: "", customerId: "ada") { isMember } }': "NOT_FOUND",
        '{ customer(id: "ada") { value(field: "N") } }': "UNKNOWN_FIELD",
    }
    for document, code in cases.items():
        result = await workspace.gql(document)
        assert [e["extensions"]["code"] for e in result.errors] == [code], document


# ---- every operation -------------------------------------------------------------------------

STRINGS = ["", NUL, "x" * 5000, "seg_00000000000000000000000000", "\ud800"[:0] + "💥", " "]
INTS = [-1, 0, 2**31 - 1, -(2**31)]
JSONS: list[Any] = [
    {},
    [],
    "x",
    0,
    None,
    {"condition": {}},
    {"and": [{"or": []}]},
    {"segment": "seg_nope"},
    {"not": {"not": {"condition": {"field": NUL}}}},
]
DATETIMES = ["", "not a time", "2026-02-30T00:00:00Z", "9999-12-31T23:59:59Z"]


def _samples(type_: Any, depth: int = 0) -> list[Any]:
    """Malformed (and a few valid) values of an input type, as JSON variables."""
    named = get_named_type(type_)
    if isinstance(type_, GraphQLNonNull):
        return _samples(type_.of_type, depth)
    if isinstance(type_, GraphQLList):
        inner = _samples(type_.of_type, depth)
        return [[], inner[:1], inner[:3]]
    if isinstance(named, GraphQLEnumType):
        return [next(iter(named.values))]
    if isinstance(named, GraphQLInputObjectType):
        if depth > 3:
            return [{}]
        base = {
            name: _samples(field.type, depth + 1)[0]
            for name, field in named.fields.items()
            if isinstance(field.type, GraphQLNonNull)
        }
        variants = [base]
        for name, field in named.fields.items():
            for value in _samples(field.type, depth + 1)[:3]:
                variants.append({**base, name: value})
        return variants
    assert isinstance(named, GraphQLScalarType)
    return {
        "String": STRINGS,
        "ID": STRINGS,
        "Int": INTS,
        "Float": [-1.5, 0.0, 1e300],
        "Boolean": [True, False],
        "JSON": JSONS,
        "DateTime": DATETIMES,
    }[named.name]


def _selection(type_: Any) -> str:
    return " { __typename }" if isinstance(get_named_type(type_), GraphQLObjectType) else ""


def _calls(schema: GraphQLSchema) -> list[tuple[str, dict[str, Any]]]:
    calls = []
    for keyword, root in (("query", schema.query_type), ("mutation", schema.mutation_type)):
        assert root is not None
        for name, field in root.fields.items():
            if not field.args:
                continue
            declared = ", ".join(f"${arg}: {spec.type}" for arg, spec in field.args.items())
            passed = ", ".join(f"{arg}: ${arg}" for arg in field.args)
            document = f"{keyword} Walk({declared}) {{ {name}({passed}){_selection(field.type)} }}"
            base = {arg: _samples(spec.type)[0] for arg, spec in field.args.items()}
            for arg, spec in field.args.items():
                for value in _samples(spec.type):
                    calls.append((document, {**base, arg: value}))
    return calls


async def test_no_operation_answers_a_malformed_argument_with_an_internal_error(
    workspace: Workspace,
) -> None:
    # given a workspace with a customer and a segment, so that some calls reach real rows
    await upsert_ok(workspace, {"id": "ada", "country": "FR"})
    await create_ok(workspace, name="French", predicate={"condition": {
        "field": "country", "operator": "EQ", "value": "FR"}})  # fmt: skip
    introspection = await workspace.gql(get_introspection_query())
    schema = build_client_schema(introspection.data)  # type: ignore[arg-type]

    # when every query and mutation is called with each malformed value of each argument
    faults = []
    calls = _calls(schema)
    for document, variables in calls:
        result = await workspace.gql(document, variables)
        codes = [(e.get("extensions") or {}).get("code") for e in result.errors]
        if result.status >= 500 or "INTERNAL_SERVER_ERROR" in codes or set(codes) - DOCUMENTED:
            faults.append((document, variables, result.status, result.errors[:1]))

    # then none was a server fault, and every top-level error carried a documented code
    assert len(calls) > 200
    assert faults == []


async def test_a_nul_or_invalid_utf8_in_a_url_is_a_400_before_any_route(
    workspace: Workspace,
) -> None:
    headers = {"Authorization": f"Bearer {workspace.keys[Role.READ]}"}
    for path in (
        "/segments/a%00b/export.csv",
        "/segments/x/export.csv?fields=id%00",
        "/segments/x/instances/i%00/export.csv",
        "/segments/x/export.csv?fields=%ff",
    ):
        response = await workspace.http.get(f"{workspace.base_url}{path}", headers=headers)
        assert response.status_code == 400, path
        assert "NUL character or invalid Unicode" in response.text


def test_docs_list_every_top_level_code() -> None:
    docs = (ROOT / "docs" / "api.md").read_text()
    for code in REQUEST_CODES:
        assert f"`{code}`" in docs, code
    assert "carries an `ErrorCode`" in docs
