"""The hand-made dataset the table-driven semantics tests run on.

Eight customers chosen so that every field is present for some and missing
for others (null country, empty-string city and email, no properties at
all), non-ASCII and mixed-case strings, each custom property type, and 0, 1
or many records in every scope, with and without times, and ties in time
for `last`. The comments give the derived values the expectations rely on.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from tests.integration.dataset import NOW
from tests.reference import Record


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def days(n: float) -> datetime:
    return NOW + timedelta(days=n)


ADA: Record = {
    # hasChild (cleo); activity: 2 orders counted (o2 canceled), spent 50,
    # first 2026-01-05, last 2026-02-20.
    "id": "ada",
    "externalId": "ext-1",
    "email": "ada@acme.com",
    "name": "Ada",
    "country": "FR",
    "currency": "EUR",
    "language": "fr",
    "city": "Paris",
    "source": "ads",
    "invoicingEntity": "acme-fr",
    "paymentMethodType": "CARD",
    "taxId": "FR123",
    "createdAt": at("2025-01-10T00:00:00+00:00"),
    "properties": {
        "plan": "pro",
        "tier": "GOLD",
        "score": 42,
        "vip": True,
        "renewal": "2026-03-10T00:00:00+01:00",  # 2026-03-09T23:00Z
    },
    "subscriptions": [
        {
            "id": "s1",
            "status": "ACTIVE",
            "planId": "p-pro",
            "amount": Decimal("20"),
            "currency": "EUR",
            "startedAt": at("2025-02-01T00:00:00+00:00"),
            "currentPeriodEndsAt": days(10),
        },
        {
            "id": "s2",
            "status": "CANCELED",
            "startedAt": at("2024-01-01T00:00:00+00:00"),
            "canceledAt": at("2024-06-01T00:00:00+00:00"),
        },
    ],
    "invoices": [
        {
            "id": "i1",
            "status": "PAID",
            "total": Decimal("100"),
            "issuedAt": at("2026-02-01T00:00:00+00:00"),
            "paidAt": at("2026-02-03T00:00:00+00:00"),
        },
        {
            "id": "i2",
            "status": "PAID",
            "total": Decimal("50"),
            "issuedAt": at("2026-01-01T00:00:00+00:00"),
        },
        {
            "id": "i3",
            "status": "OPEN",
            "total": Decimal("75.5"),
            "issuedAt": at("2025-12-01T00:00:00+00:00"),
            "dueAt": at("2026-01-01T00:00:00+00:00"),
        },
    ],
    "orders": [
        {
            "id": "o1",
            "status": "FULFILLED",
            "amount": Decimal("50"),
            "currency": "EUR",
            "placedAt": at("2026-02-20T00:00:00+00:00"),
        },
        {
            "id": "o2",
            "status": "CANCELED",
            "amount": Decimal("30"),
            "placedAt": at("2026-02-25T00:00:00+00:00"),
        },
        {"id": "o3", "status": "PLACED", "placedAt": at("2026-01-05T00:00:00+00:00")},
    ],
    "wallets": [{"id": "w1", "currency": "EUR", "balance": Decimal("10.5")}],
    "verifications": [
        {
            "id": "v1",
            "kind": "EMAIL",
            "status": "VERIFIED",
            "verifiedAt": at("2025-01-11T00:00:00+00:00"),
        },
    ],
    "events": [
        {
            "id": "ada-e1",
            "name": "checkout_started",
            "occurredAt": days(-1),
            "properties": {"cart": 120, "coupon": "SPRING"},
        },
        {
            "id": "ada-e2",
            "name": "checkout_started",
            "occurredAt": days(-3),
            "properties": {"cart": "120"},
        },
        {"id": "ada-e3", "name": "page_view", "occurredAt": days(-10), "properties": {}},
    ],
}

BOB: Record = {
    # No country, empty city and externalId; one refunded order: ordersCount 0.
    "id": "bob",
    "externalId": "",
    "email": "BOB@Example.com",
    "name": "Bob",
    "city": "",
    "paymentMethodType": "DIRECT_DEBIT",
    "taxId": None,
    "createdAt": at("2025-06-01T08:30:00+00:00"),
    "properties": {
        "plan": "",
        "tier": "SILVER",
        "score": 0,
        "vip": False,
        "renewal": "2026-02-01",  # midnight UTC
    },
    "invoices": [{"id": "i1", "status": "OPEN"}],
    "orders": [
        {
            "id": "o1",
            "status": "REFUNDED",
            "amount": Decimal("99"),
            "placedAt": at("2026-02-10T00:00:00+00:00"),
        }
    ],
    "verifications": [{"id": "v1", "kind": "PHONE", "status": "PENDING"}],
}

CLEO: Record = {
    # Child of ada, parent of fay. Orders: one without status (counted), one
    # without time: ordersCount 2, spent 15.25, first = last = 2026-02-28.
    # Invoices i1..i3 tie on issuedAt, i4 has none; events all tie on time.
    "id": "cleo",
    "name": "Cléo",
    "email": None,
    "country": "DE",
    "currency": "EUR",
    "language": "de",
    "city": "Berlin",
    "invoicingEntity": "acme-de",
    "parentId": "ada",
    "createdAt": days(-2),
    "properties": {"score": -3.5, "renewal": "2026-02-01T00:00:00Z"},
    "subscriptions": [
        {"id": "s1", "status": "TRIALING", "trialEndsAt": days(5)},
        {"id": "s2", "status": "ACTIVE", "startedAt": at("2026-01-01T00:00:00+00:00")},
    ],
    "invoices": [
        {
            "id": "i1",
            "status": "PAID",
            "total": Decimal("10"),
            "issuedAt": at("2026-01-01T00:00:00+00:00"),
        },
        {
            "id": "i2",
            "status": "OPEN",
            "total": Decimal("10"),
            "issuedAt": at("2026-01-01T00:00:00+00:00"),
        },
        {
            "id": "i3",
            "status": "PAID",
            "total": Decimal("10"),
            "issuedAt": at("2026-01-01T00:00:00+00:00"),
        },
        {"id": "i4", "status": "DRAFT", "total": Decimal("10")},
    ],
    "orders": [
        {"id": "o1", "amount": Decimal("10"), "placedAt": at("2026-02-28T00:00:00+00:00")},
        {"id": "o2", "status": "PLACED", "amount": Decimal("5.25")},
    ],
    "verifications": [
        {
            "id": "v1",
            "kind": "IDENTITY",
            "status": "REJECTED",
            "verifiedAt": at("2026-01-15T00:00:00+00:00"),
        },
        {
            "id": "v2",
            "kind": "TAX_ID",
            "status": "VERIFIED",
            "verifiedAt": at("2026-01-20T00:00:00+00:00"),
        },
    ],
    "events": [
        {"id": "cleo-a1", "name": "login", "occurredAt": days(-1 / 24), "properties": {"ok": True}},
        {
            "id": "cleo-a2",
            "name": "login",
            "occurredAt": days(-1 / 24),
            "properties": {"ok": False},
        },
        {"id": None, "name": "login", "occurredAt": days(-1 / 24), "properties": {"ok": "yes"}},
        {"id": None, "name": "login", "occurredAt": days(-1 / 24), "properties": {}},
    ],
}

DAN: Record = {
    # Parent "ghost" does not exist: hasParent all the same. No orders.
    "id": "dan",
    "externalId": "EXT-2",
    "email": "dan@acme.com",
    "name": "DAN",
    "country": "US",
    "currency": "USD",
    "language": "en",
    "city": "paris",
    "source": "ads",
    "paymentMethodType": "WALLET",
    "parentId": "ghost",
    "createdAt": at("2024-12-31T23:59:59+00:00"),
    "properties": {"plan": "Pro", "tier": "BRONZE", "score": 100.25, "vip": True},
    "subscriptions": [
        {"id": "s1", "status": "ACTIVE", "startedAt": at("2025-01-01T00:00:00+00:00")},
        {"id": "s2", "status": "ACTIVE", "startedAt": at("2025-06-01T00:00:00+00:00")},
        {"id": "s3", "status": "ACTIVE", "startedAt": at("2025-06-01T00:00:00+00:00")},
    ],
    "wallets": [
        {"id": "w1", "currency": "USD", "balance": Decimal("-5")},
        {"id": "w2", "currency": "EUR"},
        {"id": "w3", "balance": Decimal("0")},
    ],
    "events": [
        {
            "id": "dan-e1",
            "name": "purchase",
            "occurredAt": days(-2),
            "properties": {"amount": 10.5, "vip": True, "tags": ["a"]},
        },
        {
            "id": "dan-e2",
            "name": "purchase",
            "occurredAt": days(-5),
            "properties": {"amount": None, "vip": "true"},
        },
    ],
}

EVE: Record = {"id": "eve"}  # nothing but an id; createdAt defaults to INGESTED

FAY: Record = {
    # Child of cleo; three fulfilled orders: ordersCount 3, spent 300.5,
    # first now-40d, last now-5d.
    "id": "fay",
    "email": "fay@ACME.com",
    "name": "Fay",
    "country": "FR",
    "city": "Éze",
    "source": "seo",
    "paymentMethodType": "CARD",
    "taxId": "",
    "parentId": "cleo",
    "createdAt": at("2025-03-01T00:00:00+00:00"),
    "properties": {"plan": "enterprise", "score": 42.0},
    "subscriptions": [{"id": "s1", "startedAt": at("2025-03-01T00:00:00+00:00")}],
    "invoices": [
        {
            "id": "i1",
            "status": "VOID",
            "total": Decimal("20"),
            "issuedAt": at("2026-02-20T00:00:00+00:00"),
        }
    ],
    "orders": [
        {"id": "o1", "status": "FULFILLED", "amount": Decimal("100"), "placedAt": days(-40)},
        {"id": "o2", "status": "FULFILLED", "amount": Decimal("200.5"), "placedAt": days(-20)},
        {"id": "o3", "status": "FULFILLED", "amount": Decimal("0"), "placedAt": days(-5)},
    ],
    "events": [
        {
            "id": "fay-e1",
            "name": "checkout_started",
            "occurredAt": days(-8),
            "properties": {"cart": 50},
        },
    ],
}

GUS: Record = {
    "id": "gus",
    "email": "",
    "name": "gus",
    "country": "TR",
    "city": "İstanbul",
    "createdAt": at("2025-09-09T09:09:09+02:00"),
    "properties": {"plan": "pro plan"},
}

HAL: Record = {
    "id": "hal",
    "name": "a\nb",
    "city": "éze",
    "createdAt": at("2025-10-01T00:00:00+00:00"),
}

CUSTOMERS: tuple[Record, ...] = (ADA, BOB, CLEO, DAN, EVE, FAY, GUS, HAL)
EVERYONE = frozenset(c["id"] for c in CUSTOMERS)
