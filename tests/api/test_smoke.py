"""The service answers, authenticates, and a first upsert round-trips."""

from __future__ import annotations

from tests.conftest import Workspace


async def test_upsert_then_read(workspace: Workspace) -> None:
    result = await workspace.gql(
        'mutation { customersUpsert(customers: [{id: "a1", country: "FR"}]) '
        "{ customers { id country } userErrors { code } } }"
    )
    assert result.data["customersUpsert"] == {
        "customers": [{"id": "a1", "country": "FR"}],
        "userErrors": [],
    }
