"""API keys through the API and the CLI: shown once, listed without the key, revoked
or expired keys refused at once by every process."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from api.runtime import Runtime
from domain.access import Role
from persistence.database import create_engine
from tests.cli import run_cli
from tests.conftest import Workspace, serving

ERRORS = "userErrors { field message code }"
KEY_FIELDS = "id name role prefix createdAt lastUsedAt expiresAt revokedAt"
CREATE = f"""
mutation($role: ApiKeyRole!, $name: String, $expiresAt: DateTime) {{
  apiKeyCreate(role: $role, name: $name, expiresAt: $expiresAt) {{
    apiKey {{ {KEY_FIELDS} }} key {ERRORS}
  }}
}}
"""
REVOKE = f"mutation($id: ID!) {{ apiKeyRevoke(id: $id) {{ apiKey {{ {KEY_FIELDS} }} {ERRORS} }} }}"
KEYS = f"query {{ apiKeys {{ {KEY_FIELDS} }} }}"
PING = "query { customers(first: 1) { totalCount } }"


@pytest.fixture
async def other_server(runtime: Runtime) -> AsyncIterator[str]:
    """A second server with its own pool and caches on the same database."""
    settings = dataclasses.replace(runtime.settings)
    other = Runtime(settings, runtime.database, create_engine(runtime.database, settings))
    try:
        async with serving(other) as url:
            yield url
    finally:
        await other.close()


async def _status(ws: Workspace, base_url: str, key: str) -> int:
    response = await ws.http.post(
        f"{base_url}/graphql",
        json={"query": PING},
        headers={"Authorization": f"Bearer {key}"},
    )
    return response.status_code


async def _create(ws: Workspace, **variables: object) -> dict[str, object]:
    payload: dict[str, object] = (await ws.gql(CREATE, variables)).data["apiKeyCreate"]
    return payload


async def test_a_key_made_through_the_api_works_and_is_listed_without_itself(
    workspace: Workspace,
) -> None:
    created = await _create(workspace, role="READ", name="dashboard")
    assert created["userErrors"] == []
    key = str(created["key"])
    info = created["apiKey"]
    assert isinstance(info, dict) and key.startswith(info["prefix"])
    assert await _status(workspace, workspace.base_url, key) == 200
    listed = (await workspace.gql(KEYS)).data["apiKeys"]
    mine = next(k for k in listed if k["id"] == info["id"])
    assert (mine["name"], mine["role"], mine["revokedAt"]) == ("dashboard", "READ", None)
    assert mine["lastUsedAt"] is not None
    assert key not in str(listed)


async def test_revocation_on_one_process_is_refused_at_once_on_another(
    workspace: Workspace, other_server: str
) -> None:
    # given: a key both servers accept
    created = await _create(workspace, role="WRITE")
    key, key_id = str(created["key"]), created["apiKey"]["id"]  # type: ignore[index]
    assert await _status(workspace, other_server, key) == 200
    assert await _status(workspace, workspace.base_url, key) == 200
    # when: it is revoked through the first
    revoked = (await workspace.gql(REVOKE, {"id": key_id})).data["apiKeyRevoke"]
    assert revoked["userErrors"] == [] and revoked["apiKey"]["revokedAt"] is not None
    # then: the other refuses it on the next request
    assert await _status(workspace, other_server, key) == 401
    assert await _status(workspace, workspace.base_url, key) == 401


async def test_an_expired_key_stops_working(workspace: Workspace, other_server: str) -> None:
    soon = datetime.now(UTC) + timedelta(seconds=1.5)
    created = await _create(workspace, role="READ", expiresAt=soon.isoformat())
    key = str(created["key"])
    assert await _status(workspace, other_server, key) == 200
    await asyncio.sleep(2.0)
    assert await _status(workspace, other_server, key) == 401
    assert await _status(workspace, workspace.base_url, key) == 401


async def test_bad_input_is_refused_with_codes(workspace: Workspace) -> None:
    past = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    refused = await _create(workspace, role="READ", expiresAt=past)
    assert refused["key"] is None
    assert [(e["field"], e["code"]) for e in refused["userErrors"]] == [  # type: ignore[union-attr]
        (["expiresAt"], "INVALID")
    ]
    missing = (await workspace.gql(REVOKE, {"id": "key_999999999"})).data["apiKeyRevoke"]
    assert missing["userErrors"][0]["code"] == "NOT_FOUND"
    for role in (Role.READ, Role.WRITE):
        assert (await workspace.gql(KEYS, role=role)).errors[0]["extensions"]["code"] == (
            "FORBIDDEN"
        )
        result = await workspace.gql(CREATE, {"role": "ADMIN"}, role=role)
        assert result.errors[0]["extensions"]["code"] == "FORBIDDEN"


async def _cli(database_url: str, *args: str) -> str:
    code, out, err = await run_cli(database_url, "keys", *args)
    assert code == 0, err
    return out


async def test_cli_lists_and_revokes_keys(workspace: Workspace, database_url: str) -> None:
    created = await _create(workspace, role="READ", name="from-cli-test")
    key, key_id = str(created["key"]), str(created["apiKey"]["id"])  # type: ignore[index]
    listed = await _cli(database_url, "list", "--workspace", workspace.name)
    assert key_id in listed and "from-cli-test" in listed and key not in listed
    assert "revoked" in await _cli(database_url, "revoke", "--workspace", workspace.name, key_id)
    assert await _status(workspace, workspace.base_url, key) == 401
