"""Each process caches a workspace's definitions; a change made through another is seen at once.

Two servers share the database, each with its own runtime (so its own cache),
as two processes would. Every read below first warms the second server's
cache, then the first server changes a definition, then the second must
answer with the change on its very next request.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace

import pytest

from api.runtime import Runtime
from persistence.database import create_engine
from tests.api.documents import DEFINE_PROPERTY
from tests.api.segment_documents import (
    MEMBERSHIP,
    PREVIEW,
    country_is,
    create_ok,
    delete,
    update,
    upsert_ok,
)
from tests.conftest import Workspace, serving


@pytest.fixture
async def other_process(runtime: Runtime) -> AsyncIterator[str]:
    """A second server on the same database with a runtime (and caches) of its own."""
    second = Runtime(
        runtime.settings, runtime.database, create_engine(runtime.database, runtime.settings)
    )
    try:
        async with serving(second) as url:
            yield url
    finally:
        await second.close()


async def is_member(ws: Workspace, segment_id: str, customer_id: str) -> bool:
    result = await ws.gql(MEMBERSHIP, {"segmentId": segment_id, "customerId": customer_id})
    return bool(result.data["segmentMembership"]["isMember"])


async def test_an_edited_predicate_is_evaluated_at_once_by_every_process(
    workspace: Workspace, other_process: str
) -> None:
    # given a segment whose definition the other process has cached
    elsewhere = replace(workspace, base_url=other_process)
    await upsert_ok(workspace, {"id": "c1", "country": "FR"})
    segment = await create_ok(workspace, name="Here", predicate=country_is("FR"))
    assert await is_member(elsewhere, segment["id"], "c1") is True

    # when this process changes its predicate
    edited = await update(workspace, segment["id"], predicate=country_is("DE"))
    assert edited["userErrors"] == []

    # then the other process evaluates the new one on its next request
    assert await is_member(elsewhere, segment["id"], "c1") is False


async def test_a_new_custom_property_is_known_at_once_by_every_process(
    workspace: Workspace, other_process: str
) -> None:
    elsewhere = replace(workspace, base_url=other_process)
    on_plan = {"condition": {"field": "properties.plan", "operator": "EQ", "value": "pro"}}
    before = (await elsewhere.gql(PREVIEW, {"predicate": on_plan})).data["segmentPreview"]
    assert [e["code"] for e in before["userErrors"]] == ["UNKNOWN_FIELD"]

    declared = await workspace.gql(DEFINE_PROPERTY, {"input": {"key": "plan", "type": "STRING"}})
    assert declared.data["customPropertyDefine"]["userErrors"] == []

    after = (await elsewhere.gql(PREVIEW, {"predicate": on_plan})).data["segmentPreview"]
    assert after["userErrors"] == [] and after["totalCount"] == 0


async def test_a_deleted_segment_is_gone_at_once_for_every_process(
    workspace: Workspace, other_process: str
) -> None:
    elsewhere = replace(workspace, base_url=other_process)
    await upsert_ok(workspace, {"id": "c1", "country": "FR"})
    segment = await create_ok(workspace, name="Doomed", predicate=country_is("FR"))
    assert await is_member(elsewhere, segment["id"], "c1") is True

    assert (await delete(workspace, segment["id"]))["userErrors"] == []

    result = await elsewhere.gql(MEMBERSHIP, {"segmentId": segment["id"], "customerId": "c1"})
    assert result.body["data"] is None
    assert [e["extensions"]["code"] for e in result.errors] == ["NOT_FOUND"]
