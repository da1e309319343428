"""A write re-evaluates only the ACTIVE segments reading something it changed.

Counted by the process-level counter (persistence.reevaluations) the service
keeps, read in-process around each write; stored membership is checked against
live evaluation after every step, so skipping a segment can never hide a move.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from api.runtime import Runtime
from persistence.reevaluations import REEVALUATIONS
from tests.api.event_documents import active_segment, logged_events, summary
from tests.api.segment_documents import country_is, is_member, segment_ref, upsert_ok
from tests.api.tracked_event_documents import event, track_ok
from tests.conftest import Workspace
from tests.integration.dataset import workspace_pk
from tests.integration.membership_support import stored_member_ids

CUSTOMERS = ("c1", "c2", "kid")


def cond(field: str, operator: str, **operand: Any) -> dict[str, Any]:
    return {"condition": {"field": field, "operator": operator, **operand}}


def invoices(quantifier: str, **extra: Any) -> dict[str, Any]:
    return {"related": {"scope": "INVOICES", "quantifier": quantifier, **extra}}


@dataclass
class Live:
    """The workspace's ACTIVE segments by name, and the counter of its writes."""

    ws: Workspace
    runtime: Runtime
    pk: int
    segments: dict[str, str]

    async def evaluated_by(self, write: Any) -> tuple[int, int]:
        """(distinct segments, customer-segment pairs) the write evaluated."""
        before = REEVALUATIONS.of(self.pk)
        writes, segments, pairs = (
            before.writes,
            before.segments_evaluated,
            before.customer_evaluations,
        )
        await write
        after = REEVALUATIONS.of(self.pk)
        assert after.writes == writes + 1
        return after.segments_evaluated - segments, after.customer_evaluations - pairs

    async def assert_stored_is_live(self) -> None:
        for name, segment_id in self.segments.items():
            stored = await stored_member_ids(self.runtime, segment_id)
            live = {c for c in CUSTOMERS if await is_member(self.ws, segment_id, c)}
            assert stored == live, name


@pytest.fixture
async def live(workspace: Workspace, runtime: Runtime) -> Live:
    # given c1 in Germany and c2 in Paris, and ACTIVE segments reading different things
    await upsert_ok(workspace, {"id": "c1", "country": "DE"}, {"id": "c2", "city": "Paris"})
    predicates = {
        "germans": country_is("DE"),
        "open": invoices("ANY", where=cond("status", "EQ", value="OPEN")),
        "invoiced_twice": invoices("COUNT", count={"operator": "GTE", "value": 2}),
        "spenders": cond("totalSpent", "GTE", value=100),
        "checkouts": {
            "related": {
                "scope": "EVENTS",
                "quantifier": "ANY",
                "where": cond("name", "EQ", value="checkout"),
            }
        },
        "parents": cond("hasChild", "EQ", value=True),
    }
    segments = {name: await active_segment(workspace, name, p) for name, p in predicates.items()}
    # and one built on another: Berliners among the germans
    berlin = {"and": [segment_ref(segments["germans"]), cond("city", "EQ", value="Berlin")]}
    segments["berliners"] = await active_segment(workspace, "berliners", berlin)
    return Live(workspace, runtime, await workspace_pk(runtime, workspace), segments)


async def test_a_write_changing_only_what_no_segment_reads_evaluates_none(live: Live) -> None:
    # when c1's name changes, and when c1 is sent again with its country unchanged
    renamed = await live.evaluated_by(upsert_ok(live.ws, {"id": "c1", "name": "Ada"}))
    same = await live.evaluated_by(upsert_ok(live.ws, {"id": "c1", "country": "DE"}))

    # then no segment was evaluated, and membership is still right
    assert renamed == same == (0, 0)
    await live.assert_stored_is_live()


async def test_a_related_record_change_evaluates_exactly_the_segments_reading_that_scope(
    live: Live,
) -> None:
    # when c1 gets an OPEN invoice, then it is paid
    opened = {"id": "c1", "invoices": [{"id": "i1", "status": "OPEN", "total": 5}]}
    added = await live.evaluated_by(upsert_ok(live.ws, opened))
    paid = {"id": "c1", "invoices": [{"id": "i1", "status": "PAID"}]}
    changed = await live.evaluated_by(upsert_ok(live.ws, paid))
    # and the same invoice is sent again unchanged
    again = await live.evaluated_by(upsert_ok(live.ws, paid))

    # then each change evaluated the two INVOICES segments for c1, the repeat none
    assert added == changed == (2, 2)
    assert again == (0, 0)
    assert summary(await logged_events(live.ws, live.segments["open"])) == [
        ("ENTERED", "c1"),
        ("LEFT", "c1"),
    ]
    await live.assert_stored_is_live()


async def test_orders_move_the_activity_fields_read_through_them(live: Live) -> None:
    # when c2 places an order of 150, then the order's currency is corrected
    order = {"id": "o1", "status": "PLACED", "amount": 150, "placedAt": "2026-01-05T00:00:00Z"}
    placed = await live.evaluated_by(upsert_ok(live.ws, {"id": "c2", "orders": [order]}))
    fixed = {"id": "c2", "orders": [{"id": "o1", "currency": "EUR"}]}
    corrected = await live.evaluated_by(upsert_ok(live.ws, fixed))

    # then the order moved totalSpent (the spenders segment, entered), the correction nothing
    assert placed == (1, 1)
    assert corrected == (0, 0)
    assert summary(await logged_events(live.ws, live.segments["spenders"])) == [("ENTERED", "c2")]
    await live.assert_stored_is_live()


async def test_references_propagate_dependencies(live: Live) -> None:
    # when c1 moves to Berlin (read only by berliners, through nothing)
    city = await live.evaluated_by(upsert_ok(live.ws, {"id": "c1", "city": "Berlin"}))
    # and then leaves Germany (read by germans, and by berliners through its reference)
    country = await live.evaluated_by(upsert_ok(live.ws, {"id": "c1", "country": "FR"}))

    # then
    assert city == (1, 1)
    assert country == (2, 2)
    events = await logged_events(live.ws)
    berliners, germans = live.segments["berliners"], live.segments["germans"]
    assert [(e["segmentId"], e["kind"]) for e in events] == [
        (berliners, "ENTERED"),
        *sorted([(germans, "LEFT"), (berliners, "LEFT")]),
    ]
    await live.assert_stored_is_live()


async def test_events_evaluate_only_the_segments_counting_their_name(live: Live) -> None:
    login = await live.evaluated_by(track_ok(live.ws, event("c1", "login")))
    checkout = await live.evaluated_by(track_ok(live.ws, event("c1", "checkout")))

    assert login == (0, 0)
    assert checkout == (1, 1)
    assert summary(await logged_events(live.ws, live.segments["checkouts"])) == [("ENTERED", "c1")]
    await live.assert_stored_is_live()


async def test_a_batch_evaluates_each_customer_for_what_it_changed_in_one_write(
    live: Live,
) -> None:
    # when one batch moves c1 out of Germany, c2 to Berlin, and creates kid under c2
    batch = upsert_ok(
        live.ws,
        {"id": "c1", "country": "FR"},
        {"id": "c2", "city": "Berlin"},
        {"id": "kid", "parentId": "c2"},
    )
    segments, pairs = await live.evaluated_by(batch)

    # then c1 for germans and berliners, c2 for berliners and (a new child) parents,
    # and the new kid for every segment
    assert (segments, pairs) == (7, 2 + 2 + 7)
    assert await stored_member_ids(live.runtime, live.segments["parents"]) == {"c2"}
    await live.assert_stored_is_live()

    # when the kid moves to c1: both parents' hasChild changes, and the kid's parentId
    moved = await live.evaluated_by(upsert_ok(live.ws, {"id": "kid", "parentId": "c1"}))

    # then only the parents segment is evaluated, for both parents (no segment reads parentId)
    assert moved == (1, 2)
    assert await stored_member_ids(live.runtime, live.segments["parents"]) == {"c1"}
    await live.assert_stored_is_live()
