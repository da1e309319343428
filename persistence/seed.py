"""Deterministic demo customers, bulk-loaded with COPY.

`seed_customers` appends `count` generated customers (ids `cus_0000001`,
`cus_0000002`, ...) with custom properties and related records to a
workspace. Everything drawn is a pure function of (seed, anchor day,
customer number): customers come in blocks of 1000, each block with its own
`random.Random`, so the data does not depend on how the load is split up.
Times are spread back from the anchor, midnight UTC of the day of the run.

Appending: a workspace that already has `cus_<n>` customers gets new ones
numbered after the highest existing n (other ids are left alone), so seeding
twice adds to the first load instead of colliding with it.

Speed, for a million customers in about a minute on two cores:

- customer pks are reserved up front (one `nextval` + `setval` under a short
  table lock), so related rows point at their customer without a round trip;
- chunks of customers are generated and COPYed by worker processes, each
  chunk in its own transaction, so generation and loading overlap;
- the derived columns (ordersCount, totalSpent, first/lastOrderAt) are
  computed while generating, with the same rule as `refresh_activity`;
- from 200k customers on, the non-unique indexes of the customer and related
  tables are dropped during the load and rebuilt after it (the models in
  persistence/tables.py define them; indexes made elsewhere, such as the
  migration's trigram index or custom-property indexes, are rebuilt from
  their own definitions), then the tables are analyzed. Other workspaces'
  queries are slower meanwhile: big seeds are for benchmark and demo
  databases. If a chunk fails, the chunks already committed stay.
"""

from __future__ import annotations

import asyncio
import functools
import io
import math
import multiprocessing
import os
import random
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from statistics import NormalDist
from typing import Any, Protocol, TypeVar

import asyncpg
from sqlalchemy import Index, text
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.schema import CreateIndex

from domain.custom_property import CustomPropertyDef, PropertyType
from domain.customer import EXCLUDED_ORDER_STATUSES
from persistence.custom_properties import CustomPropertyRepository
from persistence.database import Database, libpq_dsn
from persistence.tables import metadata
from persistence.workspaces import WorkspaceRepository

T = TypeVar("T")
Row = tuple[Any, ...]

BLOCK = 1000  # customers drawn from one RNG
DEFAULT_CHUNK = 10_000  # customers per COPY transaction
REBUILD_INDEXES_FROM = 200_000
DAY = 86_400
YEAR = 365 * DAY

COLUMNS: dict[str, tuple[str, ...]] = {
    "customer": (
        "pk", "workspace_pk", "id", "external_id", "email", "name", "country", "currency",
        "language", "city", "source", "invoicing_entity", "payment_method_type", "tax_id",
        "parent_id", "properties", "orders_count", "total_spent", "last_order_at",
        "first_order_at", "created_at", "updated_at",
    ),
    "subscription": (
        "customer_pk", "id", "status", "plan_id", "amount", "currency", "started_at",
        "trial_ends_at", "current_period_ends_at", "canceled_at",
    ),
    "invoice": ("customer_pk", "id", "status", "total", "currency", "issued_at", "due_at", "paid_at"),
    "customer_order": ("customer_pk", "id", "status", "amount", "currency", "placed_at"),
    "wallet": ("customer_pk", "id", "currency", "balance"),
    "verification": ("customer_pk", "id", "kind", "status", "verified_at"),
}

SEED_PROPERTIES = (
    CustomPropertyDef("plan", PropertyType.STRING, ("free", "pro", "enterprise"),
                      description="Commercial plan (seed data)."),
    CustomPropertyDef("seats", PropertyType.NUMBER, description="Licensed seats (seed data)."),
    CustomPropertyDef("beta", PropertyType.BOOLEAN, description="Beta programme (seed data)."),
    CustomPropertyDef("renewal_at", PropertyType.DATETIME,
                      description="Next contract renewal (seed data)."),
    CustomPropertyDef("industry", PropertyType.STRING, description="Industry (seed data)."),
)


# ---- reference data ---------------------------------------------------------


@dataclass(frozen=True)
class Country:
    code: str
    weight: int  # per mille of customers
    currency: str
    languages: tuple[str, ...]
    cities: tuple[str, ...]
    entity: str  # our invoicing entity for customers there
    fx: float  # units of its currency per euro, for plausible amounts


_EU = "Acme Europe B.V."
COUNTRIES = (
    Country("US", 220, "USD", ("en", "en", "en", "es"),
            ("New York", "San Francisco", "Chicago", "Austin", "Seattle", "Boston"), "Acme Inc.", 1.08),
    Country("GB", 80, "GBP", ("en",), ("London", "Manchester", "Edinburgh", "Bristol"), "Acme UK Ltd", 0.85),
    Country("DE", 90, "EUR", ("de", "de", "en"), ("Berlin", "Munich", "Hamburg", "Cologne"), _EU, 1.0),
    Country("FR", 80, "EUR", ("fr",), ("Paris", "Lyon", "Marseille", "Toulouse", "Bordeaux"), _EU, 1.0),
    Country("ES", 40, "EUR", ("es", "ca"), ("Madrid", "Barcelona", "Valencia", "Seville"), _EU, 1.0),
    Country("IT", 40, "EUR", ("it",), ("Milan", "Rome", "Turin", "Naples"), _EU, 1.0),
    Country("NL", 30, "EUR", ("nl", "en"), ("Amsterdam", "Rotterdam", "Utrecht"), _EU, 1.0),
    Country("BE", 15, "EUR", ("nl", "fr"), ("Brussels", "Antwerp", "Ghent"), _EU, 1.0),
    Country("CH", 15, "CHF", ("de", "fr", "it"), ("Zurich", "Geneva", "Basel"), _EU, 0.95),
    Country("SE", 15, "SEK", ("sv", "en"), ("Stockholm", "Gothenburg", "Malmo"), _EU, 11.5),
    Country("PL", 20, "PLN", ("pl",), ("Warsaw", "Krakow", "Wroclaw"), _EU, 4.3),
    Country("PT", 10, "EUR", ("pt",), ("Lisbon", "Porto"), _EU, 1.0),
    Country("IE", 10, "EUR", ("en", "ga"), ("Dublin", "Cork"), _EU, 1.0),
    Country("CA", 40, "CAD", ("en", "en", "fr"), ("Toronto", "Montreal", "Vancouver"), "Acme Inc.", 1.47),
    Country("BR", 30, "BRL", ("pt",), ("Sao Paulo", "Rio de Janeiro", "Belo Horizonte"), "Acme Inc.", 5.9),
    Country("MX", 20, "MXN", ("es",), ("Mexico City", "Guadalajara", "Monterrey"), "Acme Inc.", 19.0),
    Country("IN", 40, "INR", ("en", "hi"), ("Bangalore", "Mumbai", "Delhi", "Pune"), "Acme APAC Pte. Ltd.", 90.0),
    Country("JP", 30, "JPY", ("ja",), ("Tokyo", "Osaka", "Yokohama"), "Acme APAC Pte. Ltd.", 160.0),
    Country("AU", 30, "AUD", ("en",), ("Sydney", "Melbourne", "Brisbane"), "Acme APAC Pte. Ltd.", 1.65),
    Country("SG", 10, "SGD", ("en", "zh"), ("Singapore",), "Acme APAC Pte. Ltd.", 1.45),
)
ZERO_DECIMAL_CURRENCIES = frozenset({"JPY"})
FIRST_NAMES = (
    "Ada", "Alan", "Amara", "Anna", "Ben", "Carlos", "Chen", "Chloe", "David", "Elena", "Emma",
    "Farah", "Felix", "Grace", "Hana", "Hugo", "Ines", "Ivan", "James", "Julia", "Kenji", "Lara",
    "Leo", "Lucia", "Maria", "Mateo", "Mia", "Noah", "Olga", "Omar", "Priya", "Rafael", "Sara",
    "Sofia", "Tom", "Yuki", "Zoe", "Lukas", "Marta", "Nina",
)
LAST_NAMES = (
    "Smith", "Garcia", "Muller", "Martin", "Rossi", "Silva", "Kowalski", "Tanaka", "Nguyen",
    "Brown", "Dubois", "Schmidt", "Lopez", "Jansen", "Andersson", "Kumar", "Sato", "Wilson",
    "Moreau", "Fischer", "Romano", "Costa", "Novak", "Murphy", "Lee", "Patel", "Bernard",
    "Weber", "Fernandez", "Olsen",
)
LOWER_FIRST = tuple(n.lower() for n in FIRST_NAMES)
LOWER_LAST = tuple(n.lower() for n in LAST_NAMES)
INDUSTRIES = ("saas", "retail", "fintech", "media", "health", "education", "logistics", "travel")
SUB_PLANS = (("starter_monthly", 1900, 30), ("pro_monthly", 4900, 30), ("team_monthly", 9900, 30),
             ("pro_yearly", 49000, 365), ("enterprise_yearly", 490000, 365))
VERIFICATION_KINDS = ("EMAIL", "PHONE", "IDENTITY", "TAX_ID")


def pool(weighted: Sequence[tuple[T, int]]) -> tuple[T, ...]:
    """Each value repeated by its weight: a uniform pick from it is a weighted pick."""
    return tuple(value for value, weight in weighted for _ in range(weight))


COUNTRY_POOL: tuple[Country | None, ...] = pool([*((c, c.weight) for c in COUNTRIES), (None, 80)])
NO_COUNTRY_CURRENCY = pool([("USD", 5), ("EUR", 3), (None, 2)])
EMAIL_DOMAINS = pool([("gmail.com", 30), ("outlook.com", 12), ("yahoo.com", 8), ("icloud.com", 6),
                      ("proton.me", 3), ("example.com", 20), ("acme-client.io", 11), ("corp.example", 10)])
SOURCES = pool([("organic", 30), ("paid_search", 18), ("referral", 14), ("partner", 10),
                ("sales", 12), ("social", 8), ("import", 5), (None, 3)])
PAYMENT_METHODS = pool([("CARD", 50), ("DIRECT_DEBIT", 15), ("BANK_TRANSFER", 12), ("WALLET", 8),
                        ("OTHER", 3), (None, 12)])
PLANS = pool([("free", 50), ("pro", 35), ("enterprise", 15)])
SUB_COUNTS = pool([(0, 45), (1, 40), (2, 12), (3, 3)])
SUB_STATUSES = pool([("ACTIVE", 55), ("CANCELED", 20), ("TRIALING", 10), ("PAST_DUE", 8), ("PAUSED", 7)])
INVOICE_COUNTS = pool([(0, 30), (1, 15), (2, 14), (3, 12), (4, 9), (5, 7), (6, 5), (7, 4), (8, 4)])
INVOICE_STATUSES = pool([("PAID", 68), ("OPEN", 12), ("DRAFT", 6), ("VOID", 8), ("UNCOLLECTIBLE", 6)])
ORDER_COUNTS = pool([(0, 30), (1, 16), (2, 13), (3, 10), (4, 8), (5, 6), (6, 5), (7, 4), (8, 3),
                     (9, 3), (10, 2)])
ORDER_STATUSES = pool([("FULFILLED", 70), ("PLACED", 13), ("CANCELED", 8), ("REFUNDED", 6), (None, 3)])
WALLET_COUNTS = pool([(0, 60), (1, 32), (2, 8)])
VERIFICATION_COUNTS = pool([(0, 30), (1, 40), (2, 22), (3, 8)])
VERIFICATION_STATUSES = pool([("VERIFIED", 75), ("PENDING", 17), ("REJECTED", 8)])


# ---- generation -------------------------------------------------------------
#
# Rows are produced directly as lines of PostgreSQL's COPY text format:
# building Python datetimes and Decimals only for the driver to re-encode them
# would cost more than everything else together. Generated text never holds a
# tab, newline or backslash, so nothing needs escaping.

NULL = "\\N"


@functools.cache
def _clock() -> tuple[str, ...]:
    """` HH:MM:SS+00` for every second of a day."""
    return tuple(f" {s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}+00" for s in range(DAY))


@functools.cache
def _calendar(first_day: int, days: int) -> tuple[str, ...]:
    """`YYYY-MM-DD` of `days` consecutive epoch days from `first_day`."""
    return tuple(
        datetime.fromtimestamp((first_day + d) * DAY, UTC).strftime("%Y-%m-%d") for d in range(days)
    )


# Quantiles of a log-normal (sigma 0.8, median 1): a uniform pick is a log-normal draw.
LOGNORMAL = tuple(math.exp(0.8 * NormalDist().inv_cdf((i + 0.5) / 1024)) for i in range(1024))
SEQ = tuple(f"{k:02d}" for k in range(1, 11))


@dataclass(frozen=True)
class Chunk:
    """One worker task: `count` customers numbered from `first_number`, pks from `first_pk`."""

    dsn: str
    workspace_pk: int
    seed: int
    anchor: int  # epoch seconds, a midnight UTC: times are drawn around it
    first_number: int
    count: int
    first_pk: int
    skip_triggers: bool = False  # session_replication_role = replica: no FK checks


class Generator:
    """Draws one block of customers and their records from an RNG of its own."""

    def __init__(self, chunk: Chunk, block_first: int, out: dict[str, list[str]]) -> None:
        self.rand = random.Random(f"segmentql-seed:{chunk.seed}:{block_first}").random
        self.anchor = chunk.anchor
        self.workspace_pk = chunk.workspace_pk
        self.out = out
        first_day = chunk.anchor // DAY - 4 * 366
        dates, clock = _calendar(first_day, 7 * 366), _clock()

        def ts(seconds: int) -> str:
            return dates[seconds // DAY - first_day] + clock[seconds % DAY]

        self.ts = ts

    def pick(self, values: Sequence[T]) -> T:
        return values[int(self.rand() * len(values))]

    def cents(self, euros: float, fx: float, currency: str) -> int:
        """A log-normal amount around `euros`, in cents of `currency`."""
        cents = int(LOGNORMAL[int(self.rand() * 1024)] * euros * fx * 100)
        return cents - cents % 100 if currency in ZERO_DECIMAL_CURRENCIES else cents

    def customer(self, number: int, pk: int) -> None:
        rand, pick, anchor = self.rand, self.pick, self.anchor
        country = pick(COUNTRY_POOL)
        if country is None:
            code = language = city = entity = NULL
            currency, fx = pick(NO_COUNTRY_CURRENCY), 1.0
        else:
            code, entity, fx = country.code, country.entity, country.fx
            currency = country.currency if rand() < 0.97 else None
            language = pick(country.languages) if rand() < 0.95 else NULL
            city = pick(country.cities) if rand() < 0.9 else NULL
        first, last = int(rand() * len(FIRST_NAMES)), int(rand() * len(LAST_NAMES))
        num = f"{number:07d}"
        name = f"{FIRST_NAMES[first]} {LAST_NAMES[last]}" if rand() < 0.98 else NULL
        email = f"{LOWER_FIRST[first]}.{LOWER_LAST[last]}.{number}@{pick(EMAIL_DOMAINS)}"
        external_id = f"crm_{number * 2_654_435_761 % 10**9:09d}" if rand() < 0.6 else NULL
        tax_id = f"{code}{int(rand() * 1e10):010d}" if code != NULL and rand() < 0.25 else NULL
        parent = NULL
        if number > 1 and rand() < 0.02:
            parent = f"cus_{1 + int(rand() * (number - 1)):07d}"
        created = anchor - 3 * YEAR + int(math.sqrt(rand()) * 3 * YEAR)  # recent is likelier
        ts, head, spend = self.ts, f"{pk}\t", currency or "EUR"
        orders, cents, first_at, last_at = self.orders(head, num, created, spend, fx)
        self.subscriptions(head, num, created, spend, fx)
        self.invoices(head, num, created, spend, fx)
        self.wallets(head, num, spend, fx)
        self.verifications(head, num, created)
        self.out["customer"].append(
            f"{head}{self.workspace_pk}\tcus_{num}\t{external_id}\t"
            f"{email if rand() < 0.97 else NULL}\t{name}\t{code}\t{currency or NULL}\t{language}\t"
            f"{city}\t{pick(SOURCES) or NULL}\t{entity}\t{pick(PAYMENT_METHODS) or NULL}\t"
            f"{tax_id}\t{parent}\t{self.properties()}\t{orders}\t{cents}e-2\t"
            f"{NULL if last_at is None else ts(last_at)}\t"
            f"{NULL if first_at is None else ts(first_at)}\t{ts(created)}\t"
            f"{ts(created + int(rand() * (anchor - created)))}\n"
        )

    def properties(self) -> str:
        """The JSON text of the custom properties (plain values: nothing to escape)."""
        rand = self.rand
        parts = []
        if rand() < 0.85:
            plan = self.pick(PLANS)
            parts.append(f'"plan": "{plan}"')
            if plan != "free":
                seats = 1 + int(rand() * 50) if plan == "pro" else 20 + int(rand() * 2000)
                at = self.ts(self.anchor + int(rand() * YEAR))  # as sortable_instant writes it:
                parts.append(f'"seats": {seats}, "renewal_at": "{at[:10]}T{at[11:19]}.000000Z"')
        if rand() < 0.3:
            parts.append('"beta": true' if rand() < 0.5 else '"beta": false')
        if rand() < 0.6:
            parts.append(f'"industry": "{self.pick(INDUSTRIES)}"')
        return "{" + ", ".join(parts) + "}"

    def orders(
        self, head: str, num: str, created: int, currency: str, fx: float
    ) -> tuple[int, int, int | None, int | None]:
        """Writes the orders; returns ordersCount, totalSpent in cents, first and last placedAt."""
        rand, ts, out = self.rand, self.ts, self.out["customer_order"]
        start = max(created, self.anchor - 2 * YEAR)
        span = self.anchor - start
        counted = total = 0
        first: int | None = None
        last: int | None = None
        for k in range(self.pick(ORDER_COUNTS)):
            status = self.pick(ORDER_STATUSES)
            cents = self.cents(50.0, fx, currency) if rand() < 0.99 else None
            placed = start + int(rand() * span)
            out.append(
                f"{head}ord_{num}_{SEQ[k]}\t{status or NULL}\t"
                f"{NULL if cents is None else f'{cents}e-2'}\t{currency}\t{ts(placed)}\n"
            )
            if status not in EXCLUDED_ORDER_STATUSES:
                counted += 1
                total += cents or 0
                first = placed if first is None or placed < first else first
                last = placed if last is None or placed > last else last
        return counted, total, first, last

    def subscriptions(self, head: str, num: str, created: int, currency: str, fx: float) -> None:
        rand, ts, out, anchor = self.rand, self.ts, self.out["subscription"], self.anchor
        for k in range(self.pick(SUB_COUNTS)):
            plan, price, period = self.pick(SUB_PLANS)
            status = self.pick(SUB_STATUSES)
            started = created + int(rand() * (anchor - created))
            trial = ts(started + 14 * DAY) if status == "TRIALING" or rand() < 0.3 else NULL
            live = status in ("ACTIVE", "TRIALING", "PAST_DUE")
            ends = ts(anchor + int(rand() * period * DAY)) if live else NULL
            canceled = NULL
            if status == "CANCELED":
                canceled = ts(started + int(rand() * (anchor - started)))
            out.append(
                f"{head}sub_{num}_{SEQ[k]}\t{status}\t{plan}\t{int(price * fx)}e-2\t{currency}\t"
                f"{ts(started)}\t{trial}\t{ends}\t{canceled}\n"
            )

    def invoices(self, head: str, num: str, created: int, currency: str, fx: float) -> None:
        rand, ts, out, anchor = self.rand, self.ts, self.out["invoice"], self.anchor
        for k in range(self.pick(INVOICE_COUNTS)):
            status = self.pick(INVOICE_STATUSES)
            row = f"{head}inv_{num}_{SEQ[k]}\t{status}\t{self.cents(75.0, fx, currency)}e-2\t{currency}\t"
            if status == "DRAFT":
                out.append(f"{row}{NULL}\t{NULL}\t{NULL}\n")
                continue
            issued = created + int(rand() * (anchor - created))
            paid = NULL
            if status == "PAID":
                paid = ts(min(issued + int(rand() * 20 * DAY), anchor))
            out.append(f"{row}{ts(issued)}\t{ts(issued + 30 * DAY)}\t{paid}\n")

    def wallets(self, head: str, num: str, currency: str, fx: float) -> None:
        rand, out = self.rand, self.out["wallet"]
        for k in range(self.pick(WALLET_COUNTS)):
            balance = 0 if rand() < 0.2 else int(rand() * 50_000 * fx)
            out.append(f"{head}wal_{num}_{SEQ[k]}\t{currency}\t{balance}e-2\n")

    def verifications(self, head: str, num: str, created: int) -> None:
        rand, out, anchor = self.rand, self.out["verification"], self.anchor
        offset = int(rand() * len(VERIFICATION_KINDS))
        for k in range(self.pick(VERIFICATION_COUNTS)):
            kind = VERIFICATION_KINDS[(offset + k) % len(VERIFICATION_KINDS)]
            status = self.pick(VERIFICATION_STATUSES)
            verified = NULL
            if status == "VERIFIED":
                verified = self.ts(created + int(rand() * (anchor - created)))
            out.append(f"{head}ver_{num}_{SEQ[k]}\t{kind}\t{status}\t{verified}\n")


def generate(chunk: Chunk) -> dict[str, list[str]]:
    """Every row of a chunk as COPY text lines, per table."""
    lines: dict[str, list[str]] = {table: [] for table in COLUMNS}
    for offset in range(0, chunk.count, BLOCK):
        gen = Generator(chunk, chunk.first_number + offset, lines)
        for i in range(offset, min(offset + BLOCK, chunk.count)):
            gen.customer(chunk.first_number + i, chunk.first_pk + i)
    return lines


async def _copy(chunk: Chunk, lines: dict[str, list[str]]) -> None:
    conn = await asyncpg.connect(chunk.dsn)
    try:
        await conn.execute("SET synchronous_commit = off")
        if chunk.skip_triggers:
            await conn.execute("SET session_replication_role = replica")
        async with conn.transaction():
            for table, rows in lines.items():
                if rows:
                    data = io.BytesIO("".join(rows).encode())
                    await conn.copy_to_table(table, source=data, columns=COLUMNS[table])
    finally:
        await conn.close()


def load_chunk(chunk: Chunk) -> dict[str, int]:
    """Generate one chunk and COPY it in one transaction (runs in a worker process)."""
    lines = generate(chunk)
    asyncio.run(_copy(chunk, lines))
    return {table: len(rows) for table, rows in lines.items()}


# ---- orchestration ----------------------------------------------------------


class SeedError(Exception):
    """The seed cannot run as asked; the message says why."""


class RuntimeLike(Protocol):
    """What seeding needs of api.runtime.Runtime (persistence does not import api)."""

    @property
    def engine(self) -> AsyncEngine: ...

    @property
    def database(self) -> Database: ...

    @property
    def clock(self) -> Callable[[], datetime]: ...


@dataclass(frozen=True)
class SeedReport:
    workspace: str
    customers: int
    first_id: str | None
    last_id: str | None
    rows: dict[str, int]  # per table, customers included
    seconds: float
    load_seconds: float = 0.0
    index_seconds: float = 0.0
    indexes_rebuilt: int = 0
    triggers_skipped: bool = False

    @property
    def total_rows(self) -> int:
        return sum(self.rows.values())

    @property
    def customers_per_second(self) -> float:
        return self.customers / self.seconds if self.seconds else 0.0

    @property
    def rows_per_second(self) -> float:
        return self.total_rows / self.seconds if self.seconds else 0.0

    def summary(self) -> str:
        if not self.customers:
            return f"workspace {self.workspace!r}: nothing to seed"
        related = ", ".join(f"{n:,} {table}" for table, n in self.rows.items() if table != "customer")
        return (
            f"seeded {self.customers:,} customers ({self.first_id}..{self.last_id}) into workspace "
            f"{self.workspace!r} with {related}\n"
            f"{self.total_rows:,} rows in {self.seconds:.1f} s (load {self.load_seconds:.1f} s, "
            f"{self.indexes_rebuilt} indexes rebuilt in {self.index_seconds:.1f} s): "
            f"{self.customers_per_second:,.0f} customers/s, {self.rows_per_second:,.0f} rows/s"
        )


SEED_VALUES = {"plan": tuple(dict.fromkeys(PLANS)), "industry": INDUSTRIES}


async def seed_customers(
    runtime: RuntimeLike,
    workspace: str,
    count: int,
    seed: int = 42,
    *,
    jobs: int | None = None,
    chunk_size: int = DEFAULT_CHUNK,
    rebuild_indexes: bool | None = None,
    progress: bool = True,
    now: datetime | None = None,
) -> SeedReport:
    """Append `count` generated customers to `workspace` (created if needed); see the module doc.

    `jobs` worker processes generate and COPY (default: one per core, none
    below 20k customers); `rebuild_indexes` defaults to `count >= 200_000`;
    `now` anchors the generated times (default: the runtime's clock).
    """
    if count < 0:
        raise SeedError("the number of customers to seed cannot be negative")
    started = time.perf_counter()
    anchor = int((now or runtime.clock()).timestamp()) // DAY * DAY
    workspace_pk, first_number = await _prepare(runtime.engine, workspace)
    if count == 0:
        return SeedReport(workspace, 0, None, None, dict.fromkeys(COLUMNS, 0), 0.0)
    dsn = libpq_dsn(runtime.database)
    rebuild = count >= REBUILD_INDEXES_FROM if rebuild_indexes is None else rebuild_indexes
    jobs = jobs or (1 if count < 20_000 else max(2, os.cpu_count() or 1))
    chunk_size = -(-max(chunk_size, 1) // BLOCK) * BLOCK
    conn = await asyncpg.connect(dsn)
    try:
        first_pk = await _reserve_pks(conn, count)
        skip_triggers = await _can_skip_triggers(conn)
        rebuild_ddl = await _drop_indexes(conn) if rebuild else []
    finally:
        await conn.close()
    chunks = [
        Chunk(dsn, workspace_pk, seed, anchor, first_number + offset,
              min(chunk_size, count - offset), first_pk + offset, skip_triggers)
        for offset in range(0, count, chunk_size)
    ]
    bar = Progress(count, enabled=progress)
    try:
        rows = await _load(chunks, jobs, bar)
    finally:
        load_seconds = time.perf_counter() - started
        bar.close()
        if rebuild_ddl:
            bar.note(f"building {len(rebuild_ddl)} indexes")
            await _run_parallel(dsn, rebuild_ddl, jobs)
    index_seconds = time.perf_counter() - started - load_seconds
    bar.note("analyzing")
    await _run_parallel(dsn, [f"ANALYZE {table}" for table in COLUMNS], jobs)
    return SeedReport(
        workspace, count, f"cus_{first_number:07d}", f"cus_{first_number + count - 1:07d}", rows,
        time.perf_counter() - started, load_seconds, index_seconds, len(rebuild_ddl), skip_triggers,
    )


async def _prepare(engine: AsyncEngine, workspace: str) -> tuple[int, int]:
    """The workspace's pk (created if needed) and the number of its next seeded customer."""
    async with engine.begin() as conn:
        workspace_pk, _ = await WorkspaceRepository(conn).ensure(workspace)
        await _declare_properties(conn, workspace, workspace_pk)
        highest = await conn.scalar(
            text(
                "SELECT coalesce(max(substring(id from 5)::numeric), 0) FROM customer "
                "WHERE workspace_pk = :workspace AND id ~ '^cus_[0-9]{1,15}$'"
            ),
            {"workspace": workspace_pk},
        )
    return workspace_pk, int(highest or 0) + 1


async def _declare_properties(conn: AsyncConnection, workspace: str, workspace_pk: int) -> None:
    repo = CustomPropertyRepository(conn, workspace_pk)
    declared = await repo.all()
    for definition in SEED_PROPERTIES:
        existing = declared.get(definition.key)
        if existing is None:
            await repo.save(definition)
            continue
        values = set(SEED_VALUES.get(definition.key, ()))
        if existing.type is not definition.type or (
            existing.allowed_values is not None and not values <= set(existing.allowed_values)
        ):
            raise SeedError(
                f"workspace {workspace!r} declares properties.{definition.key} as "
                f"{existing.type.value} {existing.allowed_values or ''}; the seed data needs "
                f"{definition.type.value} {sorted(values) or ''}: seed another workspace"
            )


async def _reserve_pks(conn: asyncpg.Connection, count: int) -> int:
    """Take `count` consecutive customer pks from the identity sequence; returns the first.

    The table lock waits for inserts in flight and holds new ones back for the
    two statements, so no other session draws a value inside the range.
    """
    async with conn.transaction():
        await conn.execute("LOCK TABLE customer IN SHARE ROW EXCLUSIVE MODE")
        sequence = await conn.fetchval("SELECT pg_get_serial_sequence('customer', 'pk')")
        first = int(await conn.fetchval("SELECT nextval($1::regclass)", sequence))
        await conn.execute("SELECT setval($1::regclass, $2)", sequence, first + count - 1)
    return first


async def _can_skip_triggers(conn: asyncpg.Connection) -> bool:
    """Whether this role may load without FK checks (superusers only).

    The rows reference pks reserved above and an existing workspace, so the
    checks could not fail; they would roughly double the load time.
    """
    return bool(await conn.fetchval("SELECT rolsuper FROM pg_roles WHERE rolname = current_user"))


async def _drop_indexes(conn: asyncpg.Connection) -> list[str]:
    """Drop the non-unique indexes of the seeded tables; returns the DDL to rebuild them.

    Indexes the models declare are rebuilt from the models; any other (the
    migration's trigram index, custom-property indexes) from its own definition.
    """
    found = await conn.fetch(
        "SELECT c.relname AS name, pg_get_indexdef(c.oid) AS ddl "
        "FROM pg_index x JOIN pg_class c ON c.oid = x.indexrelid "
        "WHERE x.indrelid IN (SELECT to_regclass(t) FROM unnest($1::text[]) AS t) "
        "AND NOT x.indisunique",
        list(COLUMNS),
    )
    models = {
        str(index.name): index
        for table in COLUMNS
        for index in metadata.tables[table].indexes
        if not index.unique
    }
    ddl = [
        _index_ddl(models[row["name"]]) if row["name"] in models
        else row["ddl"].replace("CREATE INDEX ", "CREATE INDEX IF NOT EXISTS ", 1)
        for row in found
    ]
    async with conn.transaction():
        for row in found:
            await conn.execute(f'DROP INDEX IF EXISTS "{row["name"]}"')
    # Slowest first (GIN, then the biggest tables), so parallel builds end together.
    weight = {"customer_order": 3, "invoice": 2, "customer": 2}
    return sorted(ddl, key=lambda d: (" gin " not in d.lower(), -weight.get(_table_of(d), 1)))


def _index_ddl(index: Index) -> str:
    return str(CreateIndex(index, if_not_exists=True).compile(dialect=postgresql.dialect()))


def _table_of(ddl: str) -> str:
    return ddl.split(" ON ", 1)[1].split()[0].removeprefix("public.").removeprefix("ONLY ")


async def _run_parallel(dsn: str, statements: list[str], connections: int) -> None:
    """Run statements over a few connections, each taking the next one when free."""
    pending = list(reversed(statements))

    async def worker() -> None:
        conn = await asyncpg.connect(dsn)
        try:
            await conn.execute("SET maintenance_work_mem = '512MB'; SET statement_timeout = 0")
            while pending:
                await conn.execute(pending.pop())
        finally:
            await conn.close()

    await asyncio.gather(*(worker() for _ in range(max(1, min(connections, len(statements))))))


async def _load(chunks: list[Chunk], jobs: int, bar: Progress) -> dict[str, int]:
    totals = dict.fromkeys(COLUMNS, 0)

    def add(counts: dict[str, int]) -> None:
        for table, n in counts.items():
            totals[table] += n
        bar.advance(counts["customer"], sum(counts.values()))

    if jobs <= 1:
        for chunk in chunks:
            add(await asyncio.to_thread(load_chunk, chunk))
        return totals
    loop = asyncio.get_running_loop()
    # spawn, not fork: a forked child would inherit this process's running event loop.
    with ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = [loop.run_in_executor(pool, load_chunk, chunk) for chunk in chunks]
        try:
            for done in asyncio.as_completed(futures):
                add(await done)
        except BaseException:
            pool.shutdown(wait=True, cancel_futures=True)
            raise
    return totals


class Progress:
    """A one-line progress bar on stderr (a line per 10% when stderr is not a terminal)."""

    def __init__(self, total: int, enabled: bool = True) -> None:
        self.total, self.enabled = total, enabled
        self.done = self.rows = 0
        self.started = time.perf_counter()
        self.tty = sys.stderr.isatty()
        self.shown = -1.0

    def advance(self, customers: int, rows: int) -> None:
        self.done += customers
        self.rows += rows
        if not self.enabled:
            return
        elapsed = max(time.perf_counter() - self.started, 1e-9)
        share = self.done / self.total
        if self.tty or share - self.shown >= 0.1 or self.done == self.total:
            self.shown = share
            bar = "#" * int(share * 30)
            line = (
                f"seed [{bar:<30}] {share:4.0%} {self.done:,}/{self.total:,} customers, "
                f"{self.rows:,} rows, {self.done / elapsed:,.0f} customers/s"
            )
            sys.stderr.write(("\r" + line) if self.tty else (line + "\n"))
            sys.stderr.flush()

    def close(self) -> None:
        if self.enabled and self.tty:
            sys.stderr.write("\n")

    def note(self, text: str) -> None:
        if self.enabled:
            sys.stderr.write(f"seed: {text}\n")
            sys.stderr.flush()
