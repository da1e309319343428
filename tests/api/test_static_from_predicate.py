"""segmentCreate(input: {name, predicate, static: true}): a STATIC segment of today's members."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import text

from api.runtime import Runtime
from tests.api.segment_documents import (
    codes,
    create,
    create_ok,
    is_member,
    member_count,
    member_ids,
    segment_names,
    stats,
    upsert_ok,
)
from tests.api.tracked_event_documents import customers, event, track_ok
from tests.conftest import Workspace
from tests.integration.dataset import clock_at, workspace_pk

T = datetime(2026, 8, 1, 12, tzinfo=UTC)

RECENT_CHECKOUT = {
    "related": {
        "scope": "EVENTS",
        "quantifier": "ANY",
        "where": {
            "and": [
                {"condition": {"field": "name", "operator": "EQ", "value": "checkout_started"}},
                {"condition": {"field": "occurredAt", "operator": "GTE", "value": "now-7d"}},
            ]
        },
    }
}
IN_FRANCE = {"condition": {"field": "country", "operator": "EQ", "value": "FR"}}


async def given_checkouts(ws: Workspace, runtime: Runtime) -> None:
    """ada and bob started a checkout a day before T; cy did not."""
    await customers(ws, "ada", "bob", country="FR")
    await customers(ws, "cy", country="DE")
    yesterday = (T - timedelta(days=1)).isoformat()
    await track_ok(
        ws,
        event("ada", "checkout_started", occurredAt=yesterday),
        event("bob", "checkout_started", occurredAt=yesterday),
        event("cy", "login", occurredAt=yesterday),
    )


async def test_the_members_of_the_moment_are_frozen(workspace: Workspace, runtime: Runtime) -> None:
    # given ada and bob match "a checkout in the last 7 days" at T
    await given_checkouts(workspace, runtime)

    # when a static segment and a dynamic one are made from that predicate
    with clock_at(runtime, T):
        frozen = await create_ok(workspace, name="froze", predicate=RECENT_CHECKOUT, static=True)
        live = await create_ok(workspace, name="live", predicate=RECENT_CHECKOUT)

    # then the static one is STATIC, holds no predicate, and lists ada and bob
    assert (frozen["kind"], frozen["predicate"], frozen["editable"]) == ("STATIC", None, False)
    assert frozen["timeRelative"] is False
    assert live["kind"] == "PASSIVE"
    assert sorted(await member_ids(workspace, frozen["id"])) == ["ada", "bob"]

    # when the data changes: cy checks out, bob moves, and time passes beyond the window
    later = T + timedelta(days=30)
    with clock_at(runtime, later):
        await track_ok(workspace, event("cy", "checkout_started"))
        await upsert_ok(workspace, {"id": "bob", "country": "DE", "name": "Bob"})

        # then the static members stay as they were, while the live segment follows the data
        assert sorted(await member_ids(workspace, frozen["id"])) == ["ada", "bob"]
        assert await is_member(workspace, frozen["id"], "bob")
        assert not await is_member(workspace, frozen["id"], "cy")
        assert (await stats(workspace, frozen["id"]))["customerCount"] == 2
        assert await member_ids(workspace, live["id"]) == ["cy"]


async def test_static_goes_with_a_predicate_only(workspace: Workspace) -> None:
    # given a customer
    await customers(workspace, "ada", country="FR")

    # when static: true comes with customerIds, or with no source at all
    with_ids = await create(workspace, name="a", customerIds=["ada"], static=True)
    alone = await create(workspace, name="b", static=True)

    # then both are refused and nothing is created
    assert [(e["field"], e["code"]) for e in with_ids["userErrors"]] == [
        (["input", "static"], "INVALID")
    ]
    assert codes(alone) == ["INVALID"] and alone["segment"] is None
    assert await segment_names(workspace) == []


async def test_static_false_is_an_ordinary_dynamic_segment(workspace: Workspace) -> None:
    await customers(workspace, "ada", country="FR")
    segment = await create_ok(workspace, name="fr", predicate=IN_FRANCE, static=False)
    assert segment["kind"] == "PASSIVE" and segment["predicate"] == IN_FRANCE


async def test_an_invalid_predicate_creates_nothing(workspace: Workspace) -> None:
    await customers(workspace, "ada", country="FR")
    bad = {"related": {"scope": "WALLETS", "quantifier": "ANY", "last": 2}}

    payload = await create(workspace, name="bad", predicate=bad, static=True)

    assert payload["segment"] is None
    assert [(e["field"][:2], e["code"]) for e in payload["userErrors"]] == [
        (["input", "predicate"], "INVALID_LAST")
    ]
    assert await segment_names(workspace) == []


async def test_a_predicate_matching_nobody_makes_no_static_segment(workspace: Workspace) -> None:
    await customers(workspace, "ada", country="DE")
    payload = await create(workspace, name="empty", predicate=IN_FRANCE, static=True)
    assert [(e["field"], e["code"]) for e in payload["userErrors"]] == [
        (["input", "predicate"], "TOO_FEW")
    ]
    assert await segment_names(workspace) == []


async def bulk_customers(runtime: Runtime, ws: Workspace, count: int) -> None:
    """`count` customers, each with one `bulk_signal` event, written straight to the tables.

    Twenty-one 1000-customer upserts would take most of this suite's time budget;
    the limit under test is segmentCreate's, which reads them as any others.
    """
    wpk = await workspace_pk(runtime, ws)
    async with runtime.engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO customer (workspace_pk, id, created_at, updated_at) "
                "SELECT :w, 'bulk' || lpad(g::text, 5, '0'), now(), now() "
                "FROM generate_series(1, :n) AS g"
            ),
            {"w": wpk, "n": count},
        )
        await conn.execute(
            text(
                "INSERT INTO event (workspace_pk, customer_pk, name, occurred_at, properties) "
                "SELECT :w, pk, 'bulk_signal', now(), '{}'::jsonb "
                "FROM customer WHERE workspace_pk = :w"
            ),
            {"w": wpk},
        )
    async with runtime.engine.connect() as conn:  # as autovacuum would, after such a load
        await conn.execute(text("ANALYZE customer"))
        await conn.execute(text("ANALYZE event"))
        await conn.commit()


def signalled(*, but: str | None = None) -> dict[str, Any]:
    where = {"condition": {"field": "name", "operator": "EQ", "value": "bulk_signal"}}
    node: dict[str, Any] = {"related": {"scope": "EVENTS", "quantifier": "ANY", "where": where}}
    if but is None:
        return node
    return {"and": [node, {"not": {"condition": {"field": "id", "operator": "EQ", "value": but}}}]}


async def test_twenty_thousand_members_at_most(workspace: Workspace, runtime: Runtime) -> None:
    # given 20,001 customers who all sent the signal
    await bulk_customers(runtime, workspace, 20_001)

    # when a static segment is made of all of them, then of all but one
    too_large = await create(workspace, name="all", predicate=signalled(), static=True)
    at_limit = await create_ok(
        workspace, name="all but one", predicate=signalled(but="bulk00001"), static=True
    )

    # then 20,001 is refused with nothing created, and 20,000 is stored
    assert [(e["field"], e["code"]) for e in too_large["userErrors"]] == [
        (["input", "predicate"], "SEGMENT_TOO_LARGE")
    ]
    assert "20001" in too_large["userErrors"][0]["message"].replace(",", "")
    assert await segment_names(workspace) == ["all but one"]
    assert await member_count(workspace, at_limit["id"]) == 20_000
