"""Deterministic demo customers, bulk-loaded with COPY.

`seed_customers` appends `count` generated customers (`cus_0000001`, ...) with
custom properties and related records to a workspace, after the highest
`cus_<n>` it already has. What is drawn depends only on (seed, anchor day,
customer number): each block of 1000 customers has its own `random.Random`.

How it is fast: customer pks are reserved up front, so related rows need no
round trip; worker processes generate chunks as COPY text and load each in
one transaction; the derived columns (ordersCount, totalSpent, first and
lastOrderAt) are computed while generating, by the rule of
`CustomerRepository.refresh_activity`; a superuser loads without FK triggers
(the rows are valid by construction); a load of 200k customers or more, and
no smaller than the table, drops the non-unique indexes of the six tables and
rebuilds them after (see bulk_load), then the tables are analyzed. Queries of
every workspace are slower meanwhile: big seeds are for benchmark and demo
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
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from multiprocessing import forkserver
from multiprocessing.context import BaseContext
from statistics import NormalDist
from typing import Protocol, TypeVar

import asyncpg
from sqlalchemy import text
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from domain.custom_property import CustomPropertyDef, PropertyType
from domain.customer import EXCLUDED_ORDER_STATUSES
from persistence import bulk_load
from persistence.bulk_load import NoProgress, ProgressSink
from persistence.custom_properties import CustomPropertyRepository
from persistence.database import Database, libpq_dsn
from persistence.workspaces import WorkspaceRepository

T = TypeVar("T")

BLOCK = 1000  # customers drawn from one RNG
DEFAULT_CHUNK = 10_000  # customers per COPY transaction
REBUILD_INDEXES_FROM = 200_000
ANALYZE_FROM = 50_000
DAY = 86_400
YEAR = 365 * DAY

COLUMNS: dict[str, tuple[str, ...]] = {
    table: tuple(names.split())
    for table, names in {
        "customer": "pk workspace_pk id external_id email name country currency language city "
        "source invoicing_entity payment_method_type tax_id parent_id properties orders_count "
        "total_spent last_order_at first_order_at created_at updated_at",
        "subscription": "workspace_pk customer_pk id status plan_id amount currency started_at "
        "trial_ends_at current_period_ends_at canceled_at",
        "invoice": "workspace_pk customer_pk id status total currency issued_at due_at paid_at",
        "customer_order": "workspace_pk customer_pk id status amount currency placed_at",
        "wallet": "workspace_pk customer_pk id currency balance",
        "verification": "workspace_pk customer_pk id kind status verified_at",
    }.items()
}

INDUSTRIES = ("saas", "retail", "fintech", "media", "health", "education", "logistics", "travel")
SEED_PROPERTIES = (
    CustomPropertyDef(
        "plan",
        PropertyType.STRING,
        ("free", "pro", "enterprise"),
        description="Commercial plan (seed data).",
    ),
    CustomPropertyDef("seats", PropertyType.NUMBER, description="Licensed seats (seed data)."),
    CustomPropertyDef("beta", PropertyType.BOOLEAN, description="Beta programme (seed data)."),
    CustomPropertyDef(
        "renewal_at", PropertyType.DATETIME, description="Next contract renewal (seed data)."
    ),
    CustomPropertyDef("industry", PropertyType.STRING, description="Industry (seed data)."),
)
SEED_VALUES = {"plan": ("free", "pro", "enterprise"), "industry": INDUSTRIES}


# ---- reference data ---------------------------------------------------------


@dataclass(frozen=True)
class Country:
    code: str
    weight: int  # per mille of customers
    currency: str
    languages: tuple[str, ...]  # repeated to weigh them
    entity: str  # our invoicing entity for customers there
    fx: float  # units of its currency per euro, for plausible amounts
    cities: tuple[str, ...]


ENTITIES = {"US": "Acme Inc.", "UK": "Acme UK", "EU": "Acme Europe B.V.", "AP": "Acme APAC"}
# code, customers per mille, currency, languages, entity, fx, cities
COUNTRIES = tuple(
    Country(c, int(w), cur, tuple(lang.split(",")), ENTITIES[e], float(fx), tuple(city.split(";")))
    for c, w, cur, lang, e, fx, city in (
        line.split(" ", 6)
        for line in """\
US 220 USD en,en,en,es US 1.08 New York;San Francisco;Chicago;Austin;Seattle;Boston
GB 80 GBP en UK 0.85 London;Manchester;Edinburgh;Bristol
DE 90 EUR de,de,en EU 1 Berlin;Munich;Hamburg;Cologne
FR 80 EUR fr EU 1 Paris;Lyon;Marseille;Toulouse;Bordeaux
ES 40 EUR es,es,ca EU 1 Madrid;Barcelona;Valencia;Seville
IT 40 EUR it EU 1 Milan;Rome;Turin;Naples
NL 30 EUR nl,en EU 1 Amsterdam;Rotterdam;Utrecht
BE 15 EUR nl,fr EU 1 Brussels;Antwerp;Ghent
CH 15 CHF de,fr,it EU 0.95 Zurich;Geneva;Basel
SE 15 SEK sv,en EU 11.5 Stockholm;Gothenburg;Malmo
PL 20 PLN pl EU 4.3 Warsaw;Krakow;Wroclaw
PT 10 EUR pt EU 1 Lisbon;Porto
IE 10 EUR en EU 1 Dublin;Cork
CA 40 CAD en,en,fr US 1.47 Toronto;Montreal;Vancouver
BR 30 BRL pt US 5.9 Sao Paulo;Rio de Janeiro;Belo Horizonte
MX 20 MXN es US 19 Mexico City;Guadalajara;Monterrey
IN 40 INR en,hi AP 90 Bangalore;Mumbai;Delhi;Pune
JP 30 JPY ja AP 160 Tokyo;Osaka;Yokohama
AU 30 AUD en AP 1.65 Sydney;Melbourne;Brisbane
SG 10 SGD en,zh AP 1.45 Singapore""".splitlines()
    )
)
ZERO_DECIMAL_CURRENCIES = frozenset({"JPY"})
FIRST_NAMES = (
    "Ada",
    "Alan",
    "Amara",
    "Anna",
    "Ben",
    "Carlos",
    "Chen",
    "Chloe",
    "David",
    "Elena",
    "Emma",
    "Farah",
    "Felix",
    "Grace",
    "Hana",
    "Hugo",
    "Ines",
    "Ivan",
    "James",
    "Julia",
    "Kenji",
    "Lara",
    "Leo",
    "Lucia",
    "Maria",
    "Mateo",
    "Mia",
    "Noah",
    "Olga",
    "Omar",
    "Priya",
    "Sara",
    "Zoe",
)
LAST_NAMES = (
    "Smith",
    "Garcia",
    "Muller",
    "Martin",
    "Rossi",
    "Silva",
    "Kowalski",
    "Tanaka",
    "Nguyen",
    "Brown",
    "Dubois",
    "Schmidt",
    "Lopez",
    "Jansen",
    "Andersson",
    "Kumar",
    "Sato",
    "Wilson",
)
LOWER_FIRST, LOWER_LAST = (tuple(n.lower() for n in names) for names in (FIRST_NAMES, LAST_NAMES))
SUB_PLANS = (
    ("starter_monthly", 1900, 30),
    ("pro_monthly", 4900, 30),
    ("team_monthly", 9900, 30),
    ("pro_yearly", 49000, 365),
    ("enterprise_yearly", 490000, 365),
)
VERIFICATION_KINDS = ("EMAIL", "PHONE", "IDENTITY", "TAX_ID")


def pool(weighted: Iterable[tuple[T, int]]) -> tuple[T, ...]:
    """Each value repeated by its weight: a uniform pick from it is a weighted pick."""
    return tuple(value for value, weight in weighted for _ in range(weight))


def weighted(spec: str) -> tuple[str | None, ...]:
    """A pool from `"VALUE weight VALUE weight ..."`; the value `null` is None."""
    words = spec.split()
    pairs = zip(words[::2], words[1::2], strict=True)
    return pool((None if value == "null" else value, int(weight)) for value, weight in pairs)


COUNTRY_POOL: tuple[Country | None, ...] = pool([*((c, c.weight) for c in COUNTRIES), (None, 80)])
NO_COUNTRY_CURRENCY = weighted("USD 5 EUR 3 null 2")
EMAIL_DOMAINS = weighted(
    "gmail.com 30 outlook.com 12 yahoo.com 8 icloud.com 6 proton.me 3 "
    "example.com 20 acme-client.io 11 corp.example 10"
)
SOURCES = weighted(
    "organic 30 paid_search 18 referral 14 partner 10 sales 12 social 8 import 5 null 3"
)
PAYMENT_METHODS = weighted("CARD 50 DIRECT_DEBIT 15 BANK_TRANSFER 12 WALLET 8 OTHER 3 null 12")
PLANS = weighted("free 50 pro 35 enterprise 15")
SUB_STATUSES = weighted("ACTIVE 55 CANCELED 20 TRIALING 10 PAST_DUE 8 PAUSED 7")
INVOICE_STATUSES = weighted("PAID 68 OPEN 12 DRAFT 6 VOID 8 UNCOLLECTIBLE 6")
ORDER_STATUSES = weighted("FULFILLED 70 PLACED 13 CANCELED 8 REFUNDED 6 null 3")
VERIFICATION_STATUSES = weighted("VERIFIED 75 PENDING 17 REJECTED 8")
# How many records a customer has: the weight of 0, 1, 2, ...
SUB_COUNTS = pool(enumerate((45, 40, 12, 3)))
INVOICE_COUNTS = pool(enumerate((30, 15, 14, 12, 9, 7, 5, 4, 4)))
ORDER_COUNTS = pool(enumerate((30, 16, 13, 10, 8, 6, 5, 4, 3, 3, 2)))
WALLET_COUNTS = pool(enumerate((60, 32, 8)))
VERIFICATION_COUNTS = pool(enumerate((30, 40, 22, 8)))


# ---- generation: lines of COPY text (datetimes and Decimals for the driver to
# encode would cost more than all the rest); nothing drawn needs escaping.

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
        owner = f"{self.workspace_pk}\t{pk}\t"  # a record's workspace_pk and customer_pk
        orders, cents, first_at, last_at = self.orders(owner, num, created, spend, fx)
        self.subscriptions(owner, num, created, spend, fx)
        self.invoices(owner, num, created, spend, fx)
        self.wallets(owner, num, spend, fx)
        self.verifications(owner, num, created)
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
            total = self.cents(75.0, fx, currency)
            row = f"{head}inv_{num}_{SEQ[k]}\t{status}\t{total}e-2\t{currency}\t"
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
    index_seconds: float = 0.0  # rebuilding indexes and analyzing, after the load
    indexes_rebuilt: int = 0

    @property
    def total_rows(self) -> int:
        return sum(self.rows.values())

    def summary(self) -> str:
        if not self.customers:
            return f"workspace {self.workspace!r}: nothing to seed"
        seconds = max(self.seconds, 1e-9)
        related = ", ".join(f"{n:,} {t}" for t, n in self.rows.items() if t != "customer")
        return (
            f"seeded {self.customers:,} customers ({self.first_id}..{self.last_id}) into "
            f"workspace {self.workspace!r} with {related}\n{self.total_rows:,} rows in "
            f"{self.seconds:.1f} s (load {self.load_seconds:.1f} s, {self.indexes_rebuilt} "
            f"indexes rebuilt and analyze {self.index_seconds:.1f} s): "
            f"{self.customers / seconds:,.0f} customers/s, {self.total_rows / seconds:,.0f} rows/s"
        )


async def seed_customers(
    runtime: RuntimeLike,
    workspace: str,
    count: int,
    seed: int = 42,
    *,
    jobs: int | None = None,
    chunk_size: int = DEFAULT_CHUNK,
    rebuild_indexes: bool | None = None,
    progress: ProgressSink | None = None,
    now: datetime | None = None,
) -> SeedReport:
    """Append `count` generated customers to `workspace` (created if needed); see the module doc.

    `jobs` worker processes generate and COPY (default: one more than the
    cores, so one's I/O waits leave no core idle; none below 20k customers).
    `rebuild_indexes` defaults to a load of 200k or more that is at least
    the size of the customer table. `now` anchors the generated times
    (default: the runtime's clock).
    """
    if count < 0:
        raise SeedError("the number of customers to seed cannot be negative")
    started = time.perf_counter()
    anchor = int((now or runtime.clock()).timestamp()) // DAY * DAY
    jobs = jobs or (1 if count < 20_000 else (os.cpu_count() or 1) + 1)
    context = _worker_context() if jobs > 1 and count else None
    workspace_pk, first_number = await _prepare(runtime.engine, workspace)
    if count == 0:
        return SeedReport(workspace, 0, None, None, dict.fromkeys(COLUMNS, 0), 0.0)
    dsn = libpq_dsn(runtime.database)
    chunk_size = -(-max(chunk_size, 1) // BLOCK) * BLOCK
    first_pk, skip_triggers, rebuild_ddl = await _before_load(
        dsn, count, rebuild_indexes, runtime.engine.dialect
    )
    chunks = [
        Chunk(
            dsn,
            workspace_pk,
            seed,
            anchor,
            first_number + offset,
            min(chunk_size, count - offset),
            first_pk + offset,
            skip_triggers,
        )
        for offset in range(0, count, chunk_size)
    ]
    bar = progress or NoProgress()
    rows: dict[str, int] = {}
    try:
        rows = await _load(chunks, context, jobs, bar)
    finally:
        load_seconds = time.perf_counter() - started
        analyze = rows and (rebuild_ddl or count >= ANALYZE_FROM)  # else autovacuum will
        # Customer last: an ANALYZE waits for the index builds still running on its table.
        statements = rebuild_ddl + ([f"ANALYZE {t}" for t in reversed(COLUMNS)] if analyze else [])
        if statements:
            rebuilding = f"rebuilding {len(rebuild_ddl)} indexes, " if rebuild_ddl else ""
            bar.note(f"{rebuilding}analyzing")
            await bulk_load.run_parallel(dsn, statements, jobs)
    seconds = time.perf_counter() - started
    return SeedReport(
        workspace,
        count,
        f"cus_{first_number:07d}",
        f"cus_{first_number + count - 1:07d}",
        rows,
        seconds,
        load_seconds,
        seconds - load_seconds,
        len(rebuild_ddl),
    )


async def _before_load(
    dsn: str, count: int, rebuild_indexes: bool | None, dialect: Dialect
) -> tuple[int, bool, list[str]]:
    """Reserve the pks; say if FK triggers may be skipped; drop the indexes if worth it."""
    conn = await asyncpg.connect(dsn)
    try:
        first_pk = await bulk_load.reserve_pks(conn, "customer", count)
        skip_triggers = await bulk_load.is_superuser(conn)
        rebuild = rebuild_indexes
        if rebuild is None:  # worth it when the load is big next to what the table holds
            held = await conn.fetchval(
                "SELECT reltuples FROM pg_class WHERE oid = 'customer'::regclass"
            )
            rebuild = count >= max(REBUILD_INDEXES_FROM, held)
        ddl = []
        if rebuild:
            ddl = await bulk_load.drop_secondary_indexes(conn, list(COLUMNS), dialect)
    finally:
        await conn.close()
    return first_pk, skip_triggers, ddl


HIGHEST_SEEDED = text(
    "SELECT coalesce(max(substring(id from 5)::numeric), 0) FROM customer "
    "WHERE workspace_pk = :workspace AND id ~ '^cus_[0-9]{1,15}$'"
)


async def _prepare(engine: AsyncEngine, workspace: str) -> tuple[int, int]:
    """The workspace's pk (created if needed) and the number of its next seeded customer."""
    async with engine.begin() as conn:
        workspace_pk, _ = await WorkspaceRepository(conn).ensure(workspace)
        await _declare_properties(conn, workspace, workspace_pk)
        await conn.execute(text("SET LOCAL statement_timeout = 0"))  # scans the workspace
        highest = await conn.scalar(HIGHEST_SEEDED, {"workspace": workspace_pk})
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


def _worker_context() -> BaseContext:
    """Workers come from a fork server, started now to import this module meanwhile.

    Not fork: a child forked from here would inherit the running event loop.
    """
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([__name__])
    forkserver.ensure_running()
    return context


async def _load(
    chunks: list[Chunk], context: BaseContext | None, jobs: int, bar: ProgressSink
) -> dict[str, int]:
    totals = dict.fromkeys(COLUMNS, 0)

    def add(counts: dict[str, int]) -> None:
        for table, n in counts.items():
            totals[table] += n
        bar.advance(counts["customer"], sum(counts.values()))

    if context is None:
        for chunk in chunks:
            add(await asyncio.to_thread(load_chunk, chunk))
        return totals
    loop = asyncio.get_running_loop()
    with ProcessPoolExecutor(jobs, mp_context=context) as pool:
        futures = [loop.run_in_executor(pool, load_chunk, chunk) for chunk in chunks]
        try:
            for done in asyncio.as_completed(futures):
                add(await done)
        except BaseException:
            pool.shutdown(wait=True, cancel_futures=True)
            raise
    return totals
