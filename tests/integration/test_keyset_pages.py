"""One keyset mechanism both ways: last/before pages agree with first/after read backwards."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import text

from api.runtime import Runtime
from domain.records import CustomerView, Page
from persistence.cursors import Slice
from persistence.customers import CustomerRepository, decode_cursor
from persistence.seed import seed_customers
from persistence.workspaces import WorkspaceRepository

ROWS = 10_000
SIZE = 999  # does not divide 10,000: the last page read either way is short
NOW = datetime(2026, 11, 1, 15, 30, tzinfo=UTC)


async def read_all(repo: CustomerRepository, backward: bool) -> list[Page[CustomerView]]:
    pages: list[Page[CustomerView]] = []
    cursor: str | None = None
    while True:
        if backward:
            page = await repo.page(Slice(SIZE, before=cursor, backward=True))
        else:
            page = await repo.page(Slice(SIZE, after=cursor))
        pages.append(page)
        if not (page.has_previous if backward else page.has_next):
            return pages
        cursor = decode_cursor(page.cursors[0] if backward else page.cursors[-1])


async def test_backward_pages_are_forward_pages_reversed_on_10000_rows(runtime: Runtime) -> None:
    # given a workspace of 10,000 customers
    name = f"keyset-{uuid.uuid4().hex[:10]}"
    await seed_customers(runtime, name, ROWS, progress=False, now=NOW)
    async with runtime.engine.begin() as conn:
        ws, _ = await WorkspaceRepository(conn).ensure(name)
    async with runtime.engine.connect() as conn:
        # statistics, as autovacuum would gather them (off on the test server): without
        # them the planner guesses, and the correlated hasChild check may outlast the timeout
        await conn.execute(text("ANALYZE customer"))
        await conn.commit()

    async with runtime.engine.connect() as conn:
        repo = CustomerRepository(conn, ws)
        expected = [
            row.id
            for row in await conn.execute(
                text("SELECT id FROM customer WHERE workspace_pk = :ws ORDER BY id"), {"ws": ws}
            )
        ]

        # when every page is read forward, and every page backward from the end
        forward = await read_all(repo, backward=False)
        backward = await read_all(repo, backward=True)

    # then both give every customer once in id order, the same cursors, the same pages
    assert len(expected) == ROWS
    assert [v.id for p in forward for v in p.items] == expected
    assert [v.id for p in reversed(backward) for v in p.items] == expected
    assert [c for p in forward for c in p.cursors] == [
        c for p in reversed(backward) for c in p.cursors
    ]
    assert len(forward) == len(backward) == 11
    assert len(backward[-1].items) == ROWS - 10 * SIZE

    # and each page knows what lies on either side of it, at both ends too
    assert (forward[0].has_previous, forward[-1].has_next) == (False, False)
    assert (backward[0].has_next, backward[-1].has_previous) == (False, False)
    assert all(p.has_next for p in forward[:-1]) and all(p.has_previous for p in forward[1:])
    assert all(p.has_previous for p in backward[:-1]) and all(p.has_next for p in backward[1:])
