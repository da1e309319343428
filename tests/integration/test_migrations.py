"""The migrations build exactly the schema the table classes describe, and carry data over."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from typing import Any

import asyncpg
import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from api.runtime import Runtime
from persistence.database import libpq_dsn
from persistence.migrate import (
    MIGRATION_LOCK,
    alembic_config,
    head_revision,
    is_current,
    migrate,
)
from persistence.migrations.env_filter import include_object
from persistence.tables import metadata


def _differences(connection: Connection) -> list[object]:
    context = MigrationContext.configure(
        connection, opts={"compare_type": True, "include_object": include_object}
    )
    return list(compare_metadata(context, metadata))


async def test_migrated_database_matches_the_table_classes(runtime: Runtime) -> None:
    # given a database migrated to head (the session fixture did it)
    assert await is_current(runtime.engine)
    assert head_revision() is not None
    # when the live schema is compared with the metadata
    async with runtime.engine.connect() as conn:
        differences = await conn.run_sync(_differences)
    # then nothing is missing or extra
    assert differences == []


@contextlib.asynccontextmanager
async def scratch_database(runtime: Runtime, **options: Any) -> AsyncIterator[AsyncEngine]:
    """An empty database of its own on the test server, dropped afterwards; `options` go
    to its engine."""
    name = f"segmentql_migration_{uuid.uuid4().hex[:10]}"
    url = runtime.database.url
    admin = await asyncpg.connect(
        libpq_dsn(replace(runtime.database, url=url.set(database="postgres")))
    )
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        engine = create_async_engine(url.set(database=name), **options)
        try:
            yield engine
        finally:
            await engine.dispose()
        await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
    finally:
        await admin.close()


def _to(revision: str) -> Callable[[Connection], None]:
    def run(connection: Connection) -> None:
        config = alembic_config(connection)
        if revision < (_current_revision(connection) or ""):
            command.downgrade(config, revision)
        else:
            command.upgrade(config, revision)

    return run


def _current_revision(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


BACKLOG = """
INSERT INTO workspace (pk, name) VALUES (1, 'old');
INSERT INTO webhook_endpoint (workspace_pk, id, url, segment_ids, event_types, enabled, secret,
                              cursor_seq)
VALUES (1, 'whe_1', 'https://example.com/hook', '{}', '{ENTERED,LEFT}', true, 'whsec_x', 5);
INSERT INTO webhook_delivery (workspace_pk, endpoint_id, seq, kind, segment_id, segment_name,
                              customer_id, status, attempts, next_attempt_at)
VALUES (1, 'whe_1', 1, 'ENTERED', 'seg_1', 'S', 'cus_a', 'DELIVERED', 1, now()),
       (1, 'whe_1', 2, 'LEFT', 'seg_1', 'S', 'cus_a', 'PENDING', 2, now() + interval '1 minute'),
       (1, 'whe_1', 3, 'ENTERED', 'seg_1', 'S', 'cus_a', 'PENDING', 0, now()),
       (1, 'whe_1', 4, 'ENTERED', 'seg_1', 'S', 'cus_b', 'PENDING', 0, now()),
       (1, 'whe_1', 5, 'LEFT', 'seg_1', 'S', 'cus_a', 'PENDING', 0, now());
"""


async def test_a_pending_backlog_is_put_in_lines_by_the_upgrade(runtime: Runtime) -> None:
    async with scratch_database(runtime) as engine, engine.connect() as conn:
        # given a database at 0011 holding deliveries written by that version: every
        # PENDING one has a real time, three of them of customer cus_a
        await conn.run_sync(_to("0011"))
        await conn.commit()
        for statement in filter(str.strip, BACKLOG.split(";")):
            await conn.execute(text(statement))
        await conn.commit()

        async def waiting() -> set[int]:
            rows = await conn.execute(
                text("SELECT seq FROM webhook_delivery WHERE next_attempt_at = 'infinity'")
            )
            return {row.seq for row in rows}

        # when it is upgraded
        await conn.run_sync(_to("head"))
        await conn.commit()
        # then only the head of each customer's line keeps its time: cus_a's seq 2 (its
        # retry time too), cus_b's seq 4; cus_a's later ones wait behind seq 2
        assert await waiting() == {3, 5}
        head = await conn.execute(
            text("SELECT next_attempt_at > now() FROM webhook_delivery WHERE seq = 2")
        )
        assert head.scalar_one() is True

        # and a downgrade makes the waiting ones due again, as the older version expects
        await conn.run_sync(_to("0011"))
        await conn.commit()
        assert await waiting() == set()


SEGMENTS_AT_0012 = """
INSERT INTO workspace (pk, name) VALUES (1, 'one'), (2, 'two');
INSERT INTO customer (pk, workspace_pk, id) VALUES (10, 1, 'c-a'), (20, 2, 'c-b');
INSERT INTO segment (pk, workspace_pk, id, name, kind)
VALUES (100, 1, 'seg_a', 'A', 'STATIC'), (101, 1, 'seg_b', 'B', 'PASSIVE'),
       (200, 2, 'seg_c', 'C', 'STATIC');
INSERT INTO segment_member (segment_pk, customer_pk) VALUES (100, 10), (200, 20);
INSERT INTO segment_usage (segment_pk, kind, reference) VALUES (100, 'CAMPAIGN', 'x');
INSERT INTO segment_reference (segment_pk, referenced_pk) VALUES (101, 100);
INSERT INTO segment_instance (pk, workspace_pk, segment_pk, id, segment_id, segment_name,
                              segment_by, num_customers, num_orders, total_revenue)
VALUES (7, 2, 200, 'inst_1', 'seg_c', 'C', 'CUSTOMER_ID', 1, 0, 0);
INSERT INTO segment_instance_member (instance_pk, customer_id, customer_pk)
VALUES (7, 'c-b', 20);
INSERT INTO subscription (customer_pk, id) VALUES (10, 'sub_1'), (20, 'sub_1');
INSERT INTO invoice (customer_pk, id) VALUES (20, 'inv_1');
INSERT INTO customer_order (customer_pk, id) VALUES (10, 'ord_1');
INSERT INTO wallet (customer_pk, id) VALUES (20, 'wal_1');
INSERT INTO verification (customer_pk, id) VALUES (10, 'ver_1');
INSERT INTO event (workspace_pk, customer_pk, name) VALUES (2, 20, 'signed_in');
"""

WORKSPACE_OF = """
SELECT 'member', workspace_pk, segment_pk FROM segment_member
UNION ALL SELECT 'usage', workspace_pk, segment_pk FROM segment_usage
UNION ALL SELECT 'reference', workspace_pk, segment_pk FROM segment_reference
UNION ALL SELECT 'instance member', workspace_pk, instance_pk FROM segment_instance_member
UNION ALL SELECT 'subscription', workspace_pk, customer_pk FROM subscription
UNION ALL SELECT 'invoice', workspace_pk, customer_pk FROM invoice
UNION ALL SELECT 'order', workspace_pk, customer_pk FROM customer_order
UNION ALL SELECT 'wallet', workspace_pk, customer_pk FROM wallet
UNION ALL SELECT 'verification', workspace_pk, customer_pk FROM verification
"""

PRIMARY_KEYS = """
SELECT conrelid::regclass::text, pg_get_constraintdef(oid) FROM pg_constraint
WHERE conrelid::regclass::text IN ('segment', 'customer', 'invoice', 'event') AND contype = 'p'
"""


async def test_tables_are_keyed_by_workspace_by_the_upgrade_and_back(
    runtime: Runtime,
) -> None:
    async with scratch_database(runtime) as engine, engine.connect() as conn:
        # given a database at 0012 with customers and segments of two workspaces, their
        # members, a usage, a reference, an instance and its member, records and an event
        await conn.run_sync(_to("0012"))
        await conn.commit()
        for statement in filter(str.strip, SEGMENTS_AT_0012.split(";")):
            await conn.execute(text(statement))
        await conn.commit()

        # when it is upgraded
        await conn.run_sync(_to("head"))
        await conn.commit()

        # then each row carries the workspace of its segment or instance
        rows = {tuple(r) for r in await conn.execute(text(WORKSPACE_OF))}
        assert rows == {
            ("member", 1, 100),
            ("member", 2, 200),
            ("usage", 1, 100),
            ("reference", 1, 101),
            ("instance member", 2, 7),
            ("subscription", 1, 10),
            ("subscription", 2, 20),
            ("invoice", 2, 20),
            ("order", 1, 10),
            ("wallet", 2, 20),
            ("verification", 1, 10),
        }
        keys = dict(tuple(r) for r in await conn.execute(text(PRIMARY_KEYS)))
        assert set(keys.values()) == {"PRIMARY KEY (workspace_pk, pk)"} and len(keys) == 4
        # and a member cannot name a segment of another workspace
        with pytest.raises(IntegrityError):
            await conn.execute(
                text(
                    "INSERT INTO segment_member (workspace_pk, segment_pk, customer_pk)"
                    " VALUES (2, 100, 20)"
                )
            )
        await conn.rollback()
        # nor a record a customer of another workspace
        with pytest.raises(IntegrityError):
            await conn.execute(
                text("INSERT INTO wallet (workspace_pk, customer_pk, id) VALUES (1, 20, 'w')")
            )
        await conn.rollback()

        # when it is downgraded again
        await conn.run_sync(_to("0012"))
        await conn.commit()

        # then the rows are all there, keyed as before
        members = await conn.execute(text("SELECT segment_pk, customer_pk FROM segment_member"))
        assert sorted(tuple(r) for r in members) == [(100, 10), (200, 20)]
        keys = dict(tuple(r) for r in await conn.execute(text(PRIMARY_KEYS)))
        assert set(keys.values()) == {"PRIMARY KEY (pk)"} and len(keys) == 4
        subscriptions = await conn.execute(text("SELECT customer_pk, id FROM subscription"))
        assert sorted(tuple(r) for r in subscriptions) == [(10, "sub_1"), (20, "sub_1")]
        refs = await conn.execute(text("SELECT segment_pk, referenced_pk FROM segment_reference"))
        assert [tuple(r) for r in refs] == [(101, 100)]


async def test_migrations_are_not_cut_off_by_the_service_statement_timeout(
    runtime: Runtime,
) -> None:
    # given: connections whose statements may run 300 ms (the service's timeout, sized for
    # requests, cut off migration 0013's backfill of a 1M-customer database at 15 s), and
    # another migrator holding the migration lock for longer than that
    timed = {"server_settings": {"statement_timeout": "300"}}
    async with scratch_database(runtime, connect_args=timed) as engine:
        async with engine.connect() as other:
            await other.execute(text("SELECT pg_advisory_lock(:k)"), {"k": MIGRATION_LOCK})
            await other.commit()
            waiting = asyncio.create_task(migrate(engine))
            await asyncio.sleep(1.0)
            assert not waiting.done()
            await other.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": MIGRATION_LOCK})
            await other.commit()
        # when: the lock is released after a second of waiting, and the chain runs
        await asyncio.wait_for(waiting, timeout=60)

        # then: the wait and the chain ran untimed, the pooled connection has its timeout
        # back, and the chain reached head
        async with engine.connect() as conn:
            assert (await conn.execute(text("SHOW statement_timeout"))).scalar_one() == "300ms"
            version = await conn.execute(text("SELECT version_num FROM alembic_version"))
            assert version.scalar_one() == head_revision()
