"""A batch upsert is set-based: as many statements for 300 customers as for 3, whatever the
segments each one needs, and one comparison statement for all of them."""

from __future__ import annotations

from typing import Any

from api.runtime import Runtime
from persistence.database import counting_statements
from tests.api.event_documents import active_segment, logged_events
from tests.api.segment_documents import country_is, upsert_ok
from tests.conftest import Workspace
from tests.integration.membership_support import stored_member_ids


def cond(field: str, operator: str, **operand: Any) -> dict[str, Any]:
    return {"condition": {"field": field, "operator": operator, **operand}}


def changes(customers: int, version: str) -> list[dict[str, Any]]:
    """A third change the city, a third the country, a third only the name."""
    batch = []
    for i in range(customers):
        change: dict[str, Any] = {"id": f"b{i:03d}", "name": f"{version} {i}"}
        if i % 3 == 0:
            change["city"] = "Berlin" if version == "B" else "Paris"
        elif i % 3 == 1:
            change["country"] = "DE" if version == "B" else "FR"
        batch.append(change)
    return batch


async def statements_of(runtime: Runtime, ws: Workspace, batch: list[dict[str, Any]]) -> list[str]:
    with counting_statements(runtime.engine) as seen:
        await upsert_ok(ws, *batch)
    return [s for s in seen if "api_key" not in s]  # the key's lookup and lastUsedAt


async def test_a_batch_costs_the_same_statements_at_any_size(
    workspace: Workspace, runtime: Runtime
) -> None:
    # given 300 customers and ACTIVE segments on city, country and both
    await upsert_ok(workspace, *changes(300, "A"))
    berlin = await active_segment(workspace, "Berlin", cond("city", "EQ", value="Berlin"))
    germans = await active_segment(workspace, "Germans", country_is("DE"))
    both = {"or": [cond("city", "EQ", value="Berlin"), country_is("DE")]}
    either = await active_segment(workspace, "Either", both)

    # (once compiled after the activations)
    await upsert_ok(workspace, {"id": "b000", "name": "warm"})

    # when 3, then 300 of them change (each a third city, country, only name)
    small = await statements_of(runtime, workspace, changes(3, "B"))
    large = await statements_of(runtime, workspace, changes(300, "B"))

    # then the same statements ran, one of them comparing every customer with its segments
    assert len(large) == len(small)
    assert sum("array_remove" in s for s in large) == 1
    # and membership moved for exactly the customers whose city or country changed
    assert len(await stored_member_ids(runtime, berlin)) == 100
    assert len(await stored_member_ids(runtime, germans)) == 100
    assert len(await stored_member_ids(runtime, either)) == 200
    assert len(await logged_events(workspace)) == 400
