"""The fields a predicate may name, their types and the operators each allows.

The catalog is per workspace because custom properties are: the standard
customer and scope fields are fixed, `properties.KEY` exists only once KEY is
declared. EVENTS properties are the exception (tracked events are free-form),
so inside an EVENTS scope `properties.ANYKEY` is an untyped field whose type a
condition takes from its operand.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

from domain.custom_property import CustomPropertyDef, PropertyType
from domain.predicate import Operator, Scope

CUSTOM_PROPERTY_PREFIX = "properties."
EVENT_PROPERTY_KEY = re.compile(r"[A-Za-z0-9_]{1,64}")


class FieldType(enum.Enum):
    STRING = "STRING"
    NUMBER = "NUMBER"
    BOOLEAN = "BOOLEAN"
    DATETIME = "DATETIME"
    ENUM = "ENUM"


_EXISTENCE = frozenset({Operator.EXISTS, Operator.NOT_EXISTS})
_EQUALITY = frozenset({Operator.EQ, Operator.NEQ})
_MEMBERSHIP = frozenset({Operator.IN, Operator.NOT_IN})
_ORDER = frozenset({Operator.GT, Operator.GTE, Operator.LT, Operator.LTE, Operator.BETWEEN})

OPERATORS_BY_TYPE: dict[FieldType, frozenset[Operator]] = {
    FieldType.STRING: frozenset(Operator),
    FieldType.ENUM: _EQUALITY | _MEMBERSHIP | _EXISTENCE,
    FieldType.NUMBER: frozenset(Operator) - {Operator.MATCHES},
    FieldType.DATETIME: _EQUALITY | _ORDER | _EXISTENCE,
    FieldType.BOOLEAN: _EQUALITY | _EXISTENCE,
}

CASE_INSENSITIVE_TYPES = frozenset({FieldType.STRING, FieldType.ENUM})
CASE_INSENSITIVE_OPERATORS = _EQUALITY | _MEMBERSHIP | {Operator.MATCHES}

PAYMENT_METHOD_TYPES = ("CARD", "DIRECT_DEBIT", "BANK_TRANSFER", "WALLET", "OTHER")
SUBSCRIPTION_STATUSES = ("TRIALING", "ACTIVE", "PAST_DUE", "PAUSED", "CANCELED")
INVOICE_STATUSES = ("DRAFT", "OPEN", "PAID", "VOID", "UNCOLLECTIBLE")
ORDER_STATUSES = ("PLACED", "FULFILLED", "CANCELED", "REFUNDED")
VERIFICATION_KINDS = ("EMAIL", "PHONE", "IDENTITY", "TAX_ID")
VERIFICATION_STATUSES = ("PENDING", "VERIFIED", "REJECTED")

SCOPE_TIME_FIELD: dict[Scope, str | None] = {
    Scope.SUBSCRIPTIONS: "startedAt",
    Scope.INVOICES: "issuedAt",
    Scope.ORDERS: "placedAt",
    Scope.WALLETS: None,
    Scope.VERIFICATIONS: "verifiedAt",
    Scope.EVENTS: "occurredAt",
}
"""The field `last: N` orders a scope's records by; WALLETS has none."""


@dataclass(frozen=True)
class FieldDescriptor:
    """One field a condition may name. `type` is None only for untyped EVENTS properties."""

    path: str
    type: FieldType | None
    operators: frozenset[Operator]
    allowed_values: tuple[str, ...] | None
    scope: Scope | None
    description: str
    custom: bool = False


def _field(
    path: str,
    type: FieldType,
    description: str,
    *,
    scope: Scope | None = None,
    allowed: tuple[str, ...] | None = None,
) -> FieldDescriptor:
    return FieldDescriptor(
        path=path,
        type=type,
        operators=OPERATORS_BY_TYPE[type],
        allowed_values=allowed,
        scope=scope,
        description=description,
    )


_S, _N, _B, _D, _E = (
    FieldType.STRING,
    FieldType.NUMBER,
    FieldType.BOOLEAN,
    FieldType.DATETIME,
    FieldType.ENUM,
)

CUSTOMER_FIELDS: tuple[FieldDescriptor, ...] = (
    _field("id", _S, "The customer's id, as given on upsert."),
    _field("externalId", _S, "An identifier of the customer in another system."),
    _field("email", _S, "Email address."),
    _field("name", _S, "Display name."),
    _field("city", _S, "City."),
    _field("source", _S, "Where the customer came from."),
    _field("invoicingEntity", _S, "The entity that invoices the customer."),
    _field("country", _S, "Country, ISO 3166-1 alpha-2 code such as FR."),
    _field("currency", _S, "Currency, ISO 4217 code such as EUR."),
    _field("language", _S, "Language, ISO 639-1 code such as fr."),
    _field("paymentMethodType", _E, "Payment method type.", allowed=PAYMENT_METHOD_TYPES),
    _field("taxId", _S, "Tax identification number."),
    _field("parentId", _S, "The parent customer's id."),
    _field("hasParent", _B, "Whether the customer has a parent customer."),
    _field("hasChild", _B, "Whether another customer has this one as parent."),
    _field("createdAt", _D, "When the customer was created."),
    _field("updatedAt", _D, "When the customer was last changed."),
    _field("ordersCount", _N, "Number of orders placed."),
    _field("totalSpent", _N, "Sum of the amounts of the customer's orders."),
    _field("lastOrderAt", _D, "When the most recent order was placed."),
    _field("firstOrderAt", _D, "When the first order was placed."),
)


def _scope_fields(scope: Scope, *fields: tuple[str, FieldType, str]) -> tuple[FieldDescriptor, ...]:
    return tuple(_field(path, type, text, scope=scope) for path, type, text in fields)


def _status(scope: Scope, path: str, values: tuple[str, ...], text: str) -> FieldDescriptor:
    return _field(path, _E, text, scope=scope, allowed=values)


_SUB, _INV, _ORD, _WAL, _VER, _EVT = (
    Scope.SUBSCRIPTIONS,
    Scope.INVOICES,
    Scope.ORDERS,
    Scope.WALLETS,
    Scope.VERIFICATIONS,
    Scope.EVENTS,
)

EVENT_PROPERTIES = FieldDescriptor(
    path="properties.*",
    type=None,
    operators=frozenset(Operator),
    allowed_values=None,
    scope=Scope.EVENTS,
    description="Any property of a tracked event; its type is taken from the operand.",
)

SCOPE_FIELDS: dict[Scope, tuple[FieldDescriptor, ...]] = {
    _SUB: (
        *_scope_fields(_SUB, ("id", _S, "Subscription id.")),
        _status(_SUB, "status", SUBSCRIPTION_STATUSES, "Subscription status."),
        *_scope_fields(
            _SUB,
            ("planId", _S, "The subscribed plan."),
            ("amount", _N, "Amount billed per period."),
            ("currency", _S, "Currency, ISO 4217."),
            ("startedAt", _D, "When the subscription started."),
            ("trialEndsAt", _D, "When the trial ends."),
            ("currentPeriodEndsAt", _D, "When the current billing period ends."),
            ("canceledAt", _D, "When the subscription was canceled."),
        ),
    ),
    _INV: (
        *_scope_fields(_INV, ("id", _S, "Invoice id.")),
        _status(_INV, "status", INVOICE_STATUSES, "Invoice status."),
        *_scope_fields(
            _INV,
            ("total", _N, "Invoice total."),
            ("currency", _S, "Currency, ISO 4217."),
            ("issuedAt", _D, "When the invoice was issued."),
            ("dueAt", _D, "When payment is due."),
            ("paidAt", _D, "When the invoice was paid."),
        ),
    ),
    _ORD: (
        *_scope_fields(_ORD, ("id", _S, "Order id.")),
        _status(_ORD, "status", ORDER_STATUSES, "Order status."),
        *_scope_fields(
            _ORD,
            ("amount", _N, "Order amount."),
            ("currency", _S, "Currency, ISO 4217."),
            ("placedAt", _D, "When the order was placed."),
        ),
    ),
    _WAL: _scope_fields(
        _WAL,
        ("id", _S, "Wallet id."),
        ("currency", _S, "Currency, ISO 4217."),
        ("balance", _N, "Current balance."),
    ),
    _VER: (
        *_scope_fields(_VER, ("id", _S, "Verification id.")),
        _status(_VER, "kind", VERIFICATION_KINDS, "What was verified."),
        _status(_VER, "status", VERIFICATION_STATUSES, "Verification status."),
        *_scope_fields(_VER, ("verifiedAt", _D, "When the verification succeeded.")),
    ),
    _EVT: (
        *_scope_fields(
            _EVT,
            ("id", _S, "Event id."),
            ("name", _S, "Event name, such as checkout_started."),
            ("occurredAt", _D, "When the event occurred."),
        ),
        EVENT_PROPERTIES,
    ),
}

_FIELD_TYPE_OF_PROPERTY = {
    PropertyType.STRING: FieldType.STRING,
    PropertyType.NUMBER: FieldType.NUMBER,
    PropertyType.BOOLEAN: FieldType.BOOLEAN,
    PropertyType.DATETIME: FieldType.DATETIME,
}


def custom_property_field(defn: CustomPropertyDef) -> FieldDescriptor:
    """The descriptor of a declared property; a STRING with allowed values is an ENUM."""
    type = _FIELD_TYPE_OF_PROPERTY[defn.type]
    if defn.type is PropertyType.STRING and defn.allowed_values is not None:
        type = FieldType.ENUM
    return FieldDescriptor(
        path=CUSTOM_PROPERTY_PREFIX + defn.key,
        type=type,
        operators=OPERATORS_BY_TYPE[type],
        allowed_values=defn.allowed_values,
        scope=None,
        description=defn.description or f"Custom property {defn.key}.",
        custom=True,
    )


class FieldCatalog:
    """Every field one workspace's predicates may name."""

    def __init__(self, custom_properties: Iterable[CustomPropertyDef]) -> None:
        self._properties = {defn.key: defn for defn in custom_properties}
        self._customer = {field.path: field for field in CUSTOMER_FIELDS}
        for key in sorted(self._properties):
            field = custom_property_field(self._properties[key])
            self._customer[field.path] = field
        self._scopes = {
            scope: {field.path: field for field in fields if field.type is not None}
            for scope, fields in SCOPE_FIELDS.items()
        }

    @classmethod
    def for_workspace(cls, custom_properties: Iterable[CustomPropertyDef]) -> FieldCatalog:
        return cls(custom_properties)

    @property
    def declared(self) -> Mapping[str, CustomPropertyDef]:
        """The workspace's custom property declarations, by key."""
        return MappingProxyType(self._properties)

    def customer_field(self, path: str) -> FieldDescriptor | None:
        """A customer field or declared `properties.KEY`; None if there is no such field."""
        return self._customer.get(path)

    def scope_field(self, scope: Scope, path: str) -> FieldDescriptor | None:
        """A field of `scope`'s records; EVENTS `properties.KEY` is untyped (type None)."""
        field = self._scopes[scope].get(path)
        if field is not None or scope is not Scope.EVENTS:
            return field
        if not path.startswith(CUSTOM_PROPERTY_PREFIX):
            return None
        key = path[len(CUSTOM_PROPERTY_PREFIX) :]
        if EVENT_PROPERTY_KEY.fullmatch(key) is None:
            return None
        return FieldDescriptor(
            path=path,
            type=None,
            operators=EVENT_PROPERTIES.operators,
            allowed_values=None,
            scope=Scope.EVENTS,
            description=EVENT_PROPERTIES.description,
        )

    def descriptors(self) -> list[FieldDescriptor]:
        """Customer fields, then declared properties by key, then each scope's fields."""
        customer = list(self._customer.values())
        return customer + [field for fields in SCOPE_FIELDS.values() for field in fields]

    def custom_property(self, key: str) -> CustomPropertyDef | None:
        return self._properties.get(key)
