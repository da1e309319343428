"""The field catalog: every field PREDICATES.md names, with its type and operators."""

from __future__ import annotations

import pytest

from domain.custom_property import CustomPropertyDef, PropertyType
from domain.fields import (
    OPERATORS_BY_TYPE,
    SCOPE_FIELDS,
    SCOPE_TIME_FIELD,
    FieldCatalog,
    FieldDescriptor,
    FieldType,
)
from domain.predicate import Operator, Scope

Op = Operator
EMPTY = FieldCatalog.for_workspace([])


def test_operators_by_type_follow_the_spec() -> None:
    assert OPERATORS_BY_TYPE[FieldType.STRING] == frozenset(Operator)
    assert len(OPERATORS_BY_TYPE[FieldType.STRING]) == 12
    assert OPERATORS_BY_TYPE[FieldType.ENUM] == {
        Op.EQ,
        Op.NEQ,
        Op.IN,
        Op.NOT_IN,
        Op.EXISTS,
        Op.NOT_EXISTS,
    }
    assert OPERATORS_BY_TYPE[FieldType.NUMBER] == frozenset(Operator) - {Op.MATCHES}
    assert OPERATORS_BY_TYPE[FieldType.DATETIME] == {
        Op.EQ, Op.NEQ, Op.GT, Op.GTE, Op.LT, Op.LTE, Op.BETWEEN, Op.EXISTS, Op.NOT_EXISTS,
    }  # fmt: skip
    assert OPERATORS_BY_TYPE[FieldType.BOOLEAN] == {Op.EQ, Op.NEQ, Op.EXISTS, Op.NOT_EXISTS}


CUSTOMER_TYPES = {
    "id": FieldType.STRING,
    "externalId": FieldType.STRING,
    "email": FieldType.STRING,
    "name": FieldType.STRING,
    "city": FieldType.STRING,
    "source": FieldType.STRING,
    "invoicingEntity": FieldType.STRING,
    "country": FieldType.STRING,
    "currency": FieldType.STRING,
    "language": FieldType.STRING,
    "paymentMethodType": FieldType.ENUM,
    "taxId": FieldType.STRING,
    "parentId": FieldType.STRING,
    "hasParent": FieldType.BOOLEAN,
    "hasChild": FieldType.BOOLEAN,
    "createdAt": FieldType.DATETIME,
    "updatedAt": FieldType.DATETIME,
    "ordersCount": FieldType.NUMBER,
    "totalSpent": FieldType.NUMBER,
    "lastOrderAt": FieldType.DATETIME,
    "firstOrderAt": FieldType.DATETIME,
}


@pytest.mark.parametrize(("path", "field_type"), CUSTOMER_TYPES.items())
def test_each_customer_field_has_its_type_and_operators(path: str, field_type: FieldType) -> None:
    descriptor = EMPTY.customer_field(path)
    assert descriptor is not None
    assert (descriptor.path, descriptor.type, descriptor.scope) == (path, field_type, None)
    assert descriptor.operators == OPERATORS_BY_TYPE[field_type]
    assert descriptor.description
    assert not descriptor.custom


def test_the_standard_customer_fields_are_exactly_the_specs() -> None:
    standard = [d.path for d in EMPTY.descriptors() if d.scope is None]
    assert standard == list(CUSTOMER_TYPES)


def test_payment_method_type_is_an_enum_of_its_five_values() -> None:
    descriptor = EMPTY.customer_field("paymentMethodType")
    assert descriptor is not None
    assert descriptor.allowed_values == ("CARD", "DIRECT_DEBIT", "BANK_TRANSFER", "WALLET", "OTHER")


SCOPE_TYPES: dict[Scope, dict[str, tuple[FieldType | None, tuple[str, ...] | None]]] = {
    Scope.SUBSCRIPTIONS: {
        "id": (FieldType.STRING, None),
        "status": (FieldType.ENUM, ("TRIALING", "ACTIVE", "PAST_DUE", "PAUSED", "CANCELED")),
        "planId": (FieldType.STRING, None),
        "amount": (FieldType.NUMBER, None),
        "currency": (FieldType.STRING, None),
        "startedAt": (FieldType.DATETIME, None),
        "trialEndsAt": (FieldType.DATETIME, None),
        "currentPeriodEndsAt": (FieldType.DATETIME, None),
        "canceledAt": (FieldType.DATETIME, None),
    },
    Scope.INVOICES: {
        "id": (FieldType.STRING, None),
        "status": (FieldType.ENUM, ("DRAFT", "OPEN", "PAID", "VOID", "UNCOLLECTIBLE")),
        "total": (FieldType.NUMBER, None),
        "currency": (FieldType.STRING, None),
        "issuedAt": (FieldType.DATETIME, None),
        "dueAt": (FieldType.DATETIME, None),
        "paidAt": (FieldType.DATETIME, None),
    },
    Scope.ORDERS: {
        "id": (FieldType.STRING, None),
        "status": (FieldType.ENUM, ("PLACED", "FULFILLED", "CANCELED", "REFUNDED")),
        "amount": (FieldType.NUMBER, None),
        "currency": (FieldType.STRING, None),
        "placedAt": (FieldType.DATETIME, None),
    },
    Scope.WALLETS: {
        "id": (FieldType.STRING, None),
        "currency": (FieldType.STRING, None),
        "balance": (FieldType.NUMBER, None),
    },
    Scope.VERIFICATIONS: {
        "id": (FieldType.STRING, None),
        "kind": (FieldType.ENUM, ("EMAIL", "PHONE", "IDENTITY", "TAX_ID")),
        "status": (FieldType.ENUM, ("PENDING", "VERIFIED", "REJECTED")),
        "verifiedAt": (FieldType.DATETIME, None),
    },
    Scope.EVENTS: {
        "id": (FieldType.STRING, None),
        "name": (FieldType.STRING, None),
        "occurredAt": (FieldType.DATETIME, None),
        "properties.*": (None, None),
    },
}


@pytest.mark.parametrize("scope", list(Scope))
def test_each_scope_has_exactly_the_specs_fields(scope: Scope) -> None:
    fields = {d.path: (d.type, d.allowed_values) for d in SCOPE_FIELDS[scope]}
    assert fields == SCOPE_TYPES[scope]
    assert all(d.scope is scope for d in SCOPE_FIELDS[scope])


@pytest.mark.parametrize(
    ("scope", "path"),
    [(scope, path) for scope, fields in SCOPE_TYPES.items() for path in fields if "*" not in path],
)
def test_scope_fields_are_found_in_their_scope_only(scope: Scope, path: str) -> None:
    descriptor = EMPTY.scope_field(scope, path)
    assert descriptor is not None
    assert descriptor.scope is scope
    assert descriptor.type is not None
    assert descriptor.operators == OPERATORS_BY_TYPE[descriptor.type]


def test_time_fields_of_scopes() -> None:
    assert SCOPE_TIME_FIELD == {
        Scope.SUBSCRIPTIONS: "startedAt",
        Scope.INVOICES: "issuedAt",
        Scope.ORDERS: "placedAt",
        Scope.VERIFICATIONS: "verifiedAt",
        Scope.EVENTS: "occurredAt",
        Scope.WALLETS: None,
    }
    for scope, path in SCOPE_TIME_FIELD.items():
        if path is not None:
            descriptor = EMPTY.scope_field(scope, path)
            assert descriptor is not None
            assert descriptor.type is FieldType.DATETIME


def test_unknown_paths_are_not_fields() -> None:
    assert EMPTY.customer_field("nope") is None
    assert EMPTY.customer_field("status") is None
    assert EMPTY.customer_field("properties.plan") is None
    assert EMPTY.scope_field(Scope.INVOICES, "country") is None
    assert EMPTY.scope_field(Scope.INVOICES, "properties.x") is None
    assert EMPTY.scope_field(Scope.EVENTS, "properties.*") is None
    assert EMPTY.scope_field(Scope.EVENTS, "properties.") is None
    assert EMPTY.scope_field(Scope.EVENTS, "properties.a.b") is None
    assert EMPTY.scope_field(Scope.EVENTS, "properties." + "k" * 65) is None


@pytest.mark.parametrize("key", ["x", "Plan_2", "a" * 64, "0"])
def test_any_event_property_is_an_untyped_field(key: str) -> None:
    # given an EVENTS property nobody declared
    descriptor = EMPTY.scope_field(Scope.EVENTS, f"properties.{key}")
    # then it is a field whose type comes later, from the operand
    assert descriptor is not None
    assert descriptor.path == f"properties.{key}"
    assert descriptor.type is None
    assert descriptor.operators == frozenset(Operator)


def test_declared_properties_become_customer_fields() -> None:
    # given a workspace with one property of each type
    catalog = FieldCatalog.for_workspace(
        [
            CustomPropertyDef("plan", PropertyType.STRING, description="Plan name."),
            CustomPropertyDef("tier", PropertyType.STRING, allowed_values=("GOLD", "SILVER")),
            CustomPropertyDef("score", PropertyType.NUMBER, indexed=True),
            CustomPropertyDef("vip", PropertyType.BOOLEAN),
            CustomPropertyDef("renewal", PropertyType.DATETIME),
        ]
    )
    # when the catalog is asked for them
    found = {
        key: catalog.customer_field(f"properties.{key}")
        for key in ("plan", "tier", "score", "vip", "renewal")
    }
    # then each has its type; a STRING with allowed values is an ENUM
    assert {key: d.type for key, d in found.items() if d is not None} == {
        "plan": FieldType.STRING,
        "tier": FieldType.ENUM,
        "score": FieldType.NUMBER,
        "vip": FieldType.BOOLEAN,
        "renewal": FieldType.DATETIME,
    }
    assert found["tier"] == FieldDescriptor(
        path="properties.tier",
        type=FieldType.ENUM,
        operators=OPERATORS_BY_TYPE[FieldType.ENUM],
        allowed_values=("GOLD", "SILVER"),
        scope=None,
        description="Custom property tier.",
        custom=True,
    )
    assert found["plan"] is not None and found["plan"].description == "Plan name."
    assert catalog.custom_property("score") == CustomPropertyDef(
        "score", PropertyType.NUMBER, indexed=True
    )
    assert catalog.custom_property("nope") is None


def test_descriptors_list_everything_once_in_a_stable_order() -> None:
    # given properties declared in any order
    catalog = FieldCatalog.for_workspace(
        [CustomPropertyDef("b", PropertyType.NUMBER), CustomPropertyDef("a", PropertyType.BOOLEAN)]
    )
    # when listed
    paths = [(d.scope, d.path) for d in catalog.descriptors()]
    # then customer fields come first, then properties by key, then each scope's fields
    assert paths[: len(CUSTOMER_TYPES)] == [(None, p) for p in CUSTOMER_TYPES]
    assert paths[len(CUSTOMER_TYPES) : len(CUSTOMER_TYPES) + 2] == [
        (None, "properties.a"),
        (None, "properties.b"),
    ]
    assert len(paths) == len(set(paths))
    expected_scoped = sum(len(fields) for fields in SCOPE_TYPES.values())
    assert len(paths) == len(CUSTOMER_TYPES) + 2 + expected_scoped
    assert catalog.descriptors() == catalog.descriptors()
