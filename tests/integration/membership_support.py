"""Helpers for the ACTIVE-membership tests: a driven clock, the service layer, stored rows."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import text

from api.context import Context
from api.runtime import Runtime
from domain.access import Role
from persistence.workspaces import Caller
from tests.conftest import Workspace
from tests.integration.dataset import workspace_pk

CLOCK_START = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


@dataclass
class FakeClock:
    """Returns `now`, then moves it on by `tick` (zero: a still clock the test moves by hand)."""

    now: datetime
    tick: timedelta = timedelta(0)

    def __call__(self) -> datetime:
        current = self.now
        self.now = current + self.tick
        return current

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def iso(instant: datetime) -> str:
    return instant.isoformat()


def order_at(order_id: str, placed_at: datetime, wire: bool = True) -> dict[str, Any]:
    """An order as GraphQL variables carry it (`wire`), or as the service layer takes it."""
    return {
        "id": order_id,
        "status": "FULFILLED",
        "amount": 10,
        "currency": "EUR",
        "placedAt": iso(placed_at) if wire else placed_at,
    }


async def service_context(runtime: Runtime, ws: Workspace) -> Context:
    """What a request of `ws`'s ADMIN key sees, for calling services without HTTP."""
    return Context(runtime, Caller(await workspace_pk(runtime, ws), ws.name, Role.ADMIN))


async def stored_member_ids(runtime: Runtime, segment_id: str) -> set[str]:
    """The segment_member rows of a segment, as customer ids."""
    async with runtime.engine.connect() as conn:
        rows = await conn.execute(
            text(
                "SELECT c.id FROM segment_member m"
                " JOIN segment s ON s.pk = m.segment_pk"
                " JOIN customer c ON c.pk = m.customer_pk"
                " WHERE s.id = :segment"
            ),
            {"segment": segment_id},
        )
        return {r.id for r in rows}


def histories(events: list[dict[str, Any]]) -> dict[tuple[str, str], list[str]]:
    """(segment id, customer id) -> the kinds of its events, oldest first."""
    kinds: dict[tuple[str, str], list[str]] = defaultdict(list)
    for event in events:
        kinds[(event["segmentId"], event["customerId"])].append(event["kind"])
    return kinds


def replay(baseline: set[str], kinds_by_customer: dict[str, list[str]]) -> set[str]:
    """Membership after applying each customer's events to the baseline."""
    members = set(baseline)
    for customer_id, kinds in kinds_by_customer.items():
        for kind in kinds:
            if kind == "ENTERED":
                members.add(customer_id)
            else:
                members.discard(customer_id)
    return members


def alternation_errors(
    kinds_by_customer: dict[str, list[str]], baseline: set[str]
) -> dict[str, list[str]]:
    """Customers whose events do not alternate, starting with LEFT exactly when in the baseline."""
    bad = {}
    for customer_id, kinds in kinds_by_customer.items():
        first = "LEFT" if customer_id in baseline else "ENTERED"
        expected = [first if i % 2 == 0 else _other(first) for i in range(len(kinds))]
        if kinds != expected:
            bad[customer_id] = kinds
    return bad


def _other(kind: str) -> str:
    return "LEFT" if kind == "ENTERED" else "ENTERED"
