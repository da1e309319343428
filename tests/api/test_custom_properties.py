"""customPropertyDefine, and writing custom property values through customersUpsert."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import text

from api.runtime import Runtime
from domain.access import Role
from tests.api.documents import DEFINE_PROPERTY, UPSERT
from tests.conftest import Workspace


async def define(
    ws: Workspace, key: str, type_: str, role: Role = Role.ADMIN, **extra: Any
) -> dict[str, Any]:
    result = await ws.gql(
        DEFINE_PROPERTY, {"input": {"key": key, "type": type_, **extra}}, role=role
    )
    payload: dict[str, Any] = result.data["customPropertyDefine"]
    return payload


async def write(ws: Workspace, properties: Any) -> dict[str, Any]:
    result = await ws.gql(UPSERT, {"customers": [{"id": "c1", "properties": properties}]})
    payload: dict[str, Any] = result.data["customersUpsert"]
    return payload


def codes(payload: dict[str, Any]) -> list[tuple[list[str] | None, str]]:
    return [(e["field"], e["code"]) for e in payload["userErrors"]]


async def index_names(runtime: Runtime, ws: Workspace) -> set[str]:
    async with runtime.engine.connect() as conn:
        pk = (
            await conn.execute(text("SELECT pk FROM workspace WHERE name = :n"), {"n": ws.name})
        ).scalar_one()
        rows = await conn.execute(
            text(
                "SELECT indexname FROM pg_indexes WHERE tablename = 'customer' "
                "AND indexdef LIKE :scope"
            ),
            {"scope": f"%WHERE (workspace_pk = {pk})%"},
        )
        return {r.indexname for r in rows}


# ---- declaring --------------------------------------------------------------------


async def test_admin_declares_a_property(workspace: Workspace) -> None:
    # when an ADMIN key declares a STRING property with allowed values
    payload = await define(
        workspace, "plan", "STRING", allowedValues=["free", "pro"], description="Billing plan"
    )

    # then it is returned as declared
    assert payload == {
        "property": {
            "key": "plan",
            "type": "STRING",
            "allowedValues": ["free", "pro"],
            "indexed": False,
            "description": "Billing plan",
        },
        "userErrors": [],
    }

    # and values may now be written
    assert (await write(workspace, {"plan": "pro"}))["customers"][0]["properties"] == {
        "plan": "pro"
    }


@pytest.mark.parametrize("role", [Role.WRITE, Role.READ])
async def test_only_admin_keys_declare_properties(workspace: Workspace, role: Role) -> None:
    # when a WRITE (or READ) key tries to declare a property
    result = await workspace.gql(
        DEFINE_PROPERTY, {"input": {"key": "plan", "type": "STRING"}}, role=role
    )

    # then it is a top-level FORBIDDEN error
    assert result.body["data"] is None
    assert [e["extensions"]["code"] for e in result.errors] == ["FORBIDDEN"]

    # and nothing was declared
    assert codes(await write(workspace, {"plan": "pro"})) == [
        (["customers", "0", "properties", "plan"], "PROPERTY_NOT_DECLARED")
    ]


@pytest.mark.parametrize(
    "key", ["Plan", "1plan", "", "_plan", "plan-b", "plan b", "plän", "p" * 64, "plan\n"]
)
async def test_malformed_keys_are_refused(workspace: Workspace, key: str) -> None:
    payload = await define(workspace, key, "STRING")
    assert payload["property"] is None
    assert codes(payload) == [(["input", "key"], "INVALID")]


async def test_longest_key_is_accepted(workspace: Workspace) -> None:
    payload = await define(workspace, "p" * 63, "NUMBER")
    assert payload["userErrors"] == []


@pytest.mark.parametrize(
    ("type_", "allowed", "code"),
    [
        ("NUMBER", ["1", "2"], "INVALID"),
        ("STRING", [], "TOO_FEW"),
        ("STRING", ["a", "a"], "DUPLICATE"),
        ("STRING", [""], "INVALID"),
        ("STRING", ["x" * 256], "TOO_LONG"),
        ("STRING", [str(n) for n in range(201)], "TOO_MANY"),
    ],
)
async def test_bad_allowed_values_are_refused(
    workspace: Workspace, type_: str, allowed: list[str], code: str
) -> None:
    payload = await define(workspace, "plan", type_, allowedValues=allowed)
    assert payload["property"] is None
    [(field, got)] = codes(payload)
    assert got == code
    assert field is not None and field[0] == "input" and field[1].startswith("allowedValues")


async def test_type_change_is_refused(workspace: Workspace) -> None:
    # given a NUMBER property with a stored value
    await define(workspace, "seats", "NUMBER")
    await write(workspace, {"seats": 3})

    # when it is redeclared as STRING
    payload = await define(workspace, "seats", "STRING")

    # then it is refused and the declaration is unchanged
    assert payload["property"] is None
    assert codes(payload) == [(["input", "type"], "PROPERTY_TYPE_CHANGE")]
    assert codes(await write(workspace, {"seats": "three"})) == [
        (["customers", "0", "properties", "seats"], "PROPERTY_TYPE_MISMATCH")
    ]


async def test_redeclaring_with_the_same_type_updates_it(workspace: Workspace) -> None:
    # given a STRING property with two allowed values
    await define(workspace, "plan", "STRING", allowedValues=["free", "pro"])

    # when it is redeclared with a third value and a description
    payload = await define(
        workspace, "plan", "STRING", allowedValues=["free", "pro", "team"], description="d"
    )

    # then the new declaration applies
    assert payload["property"]["allowedValues"] == ["free", "pro", "team"]
    assert payload["property"]["description"] == "d"
    assert (await write(workspace, {"plan": "team"}))["userErrors"] == []


# ---- writing values ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("type_", "value"),
    [
        ("STRING", 5),
        ("STRING", True),
        ("STRING", ["a"]),
        ("STRING", {"a": 1}),
        ("NUMBER", "5"),
        ("NUMBER", True),
        ("NUMBER", [1]),
        ("BOOLEAN", "true"),
        ("BOOLEAN", 1),
        ("DATETIME", "yesterday"),
        ("DATETIME", 1767225600),
        ("DATETIME", "2026-13-01T00:00:00Z"),
    ],
)
async def test_values_of_the_wrong_type_are_refused(
    workspace: Workspace, type_: str, value: Any
) -> None:
    # given a declared property
    await define(workspace, "prop", type_)

    # when a value of another type is written
    payload = await write(workspace, {"prop": value})

    # then the customer is not stored and the error names the key
    assert payload["customers"] == []
    assert codes(payload) == [(["customers", "0", "properties", "prop"], "PROPERTY_TYPE_MISMATCH")]
    assert "prop" in payload["userErrors"][0]["message"]


async def test_values_outside_allowed_values_are_refused(workspace: Workspace) -> None:
    await define(workspace, "plan", "STRING", allowedValues=["free", "pro"])
    payload = await write(workspace, {"plan": "PRO"})
    assert codes(payload) == [
        (["customers", "0", "properties", "plan"], "PROPERTY_VALUE_NOT_ALLOWED")
    ]


async def test_undeclared_keys_are_refused(workspace: Workspace) -> None:
    await define(workspace, "plan", "STRING")
    payload = await write(workspace, {"plan": "pro", "plna": "pro"})
    assert payload["customers"] == []
    assert codes(payload) == [(["customers", "0", "properties", "plna"], "PROPERTY_NOT_DECLARED")]


@pytest.mark.parametrize("properties", [["plan"], "plan", 3, True])
async def test_properties_must_be_an_object(workspace: Workspace, properties: Any) -> None:
    payload = await write(workspace, properties)
    assert codes(payload) == [(["customers", "0", "properties"], "INVALID")]


async def test_values_of_every_type_round_trip(workspace: Workspace) -> None:
    # given one property of each type
    for key, type_ in [
        ("plan", "STRING"),
        ("seats", "NUMBER"),
        ("vip", "BOOLEAN"),
        ("renews_at", "DATETIME"),
    ]:
        await define(workspace, key, type_)

    # when values are written, the DATETIME with an offset
    payload = await write(
        workspace,
        {"plan": "pro", "seats": 2.5, "vip": False, "renews_at": "2026-01-31T14:00:00+02:00"},
    )

    # then they are stored typed, the DATETIME normalised to fixed-width UTC
    assert payload["userErrors"] == []
    assert payload["customers"][0]["properties"] == {
        "plan": "pro",
        "seats": 2.5,
        "vip": False,
        "renews_at": "2026-01-31T12:00:00.000000Z",
    }


async def test_datetime_values_are_normalised_whatever_their_form(workspace: Workspace) -> None:
    await define(workspace, "seen_at", "DATETIME")
    for raw in ["2026-01-31T12:00:00Z", "2026-01-31T12:00:00.000Z", "2026-01-31T13:00:00+01:00"]:
        payload = await write(workspace, {"seen_at": raw})
        assert payload["customers"][0]["properties"]["seen_at"] == "2026-01-31T12:00:00.000000Z"


async def test_string_values_have_a_length_limit(workspace: Workspace) -> None:
    await define(workspace, "note", "STRING")
    assert (await write(workspace, {"note": "x" * 2000}))["userErrors"] == []
    assert codes(await write(workspace, {"note": "x" * 2001})) == [
        (["customers", "0", "properties", "note"], "TOO_LONG")
    ]


# ---- indexes ----------------------------------------------------------------------


async def test_indexed_property_gets_an_index(workspace: Workspace, runtime: Runtime) -> None:
    # given no property index in the workspace
    assert await index_names(runtime, workspace) == set()

    # when a property is declared with indexed: true, another without
    indexed = await define(workspace, "seats", "NUMBER", indexed=True)
    await define(workspace, "plan", "STRING")

    # then exactly one partial index for this workspace exists
    assert indexed["property"]["indexed"] is True
    names = await index_names(runtime, workspace)
    assert len(names) == 1
    assert "seats" in names.pop()

    # and redeclaring without `indexed` keeps it indexed
    again = await define(workspace, "seats", "NUMBER")
    assert again["property"]["indexed"] is True
    assert len(await index_names(runtime, workspace)) == 1


async def test_long_keys_get_distinct_indexes(workspace: Workspace, runtime: Runtime) -> None:
    # given two keys of 63 characters that differ only at the end
    first, second = "k" * 62 + "a", "k" * 62 + "b"

    # when both are declared indexed
    await define(workspace, first, "STRING", indexed=True)
    await define(workspace, second, "STRING", indexed=True)

    # then each has its own index
    assert len(await index_names(runtime, workspace)) == 2
