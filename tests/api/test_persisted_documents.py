"""Automatic persisted queries, and the trusted-documents mode."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import graphql
import httpx
import pytest
import strawberry.schema.schema as strawberry_schema

import api.schema as api_schema
from api import persisted_documents
from api.persisted_documents import (
    DOCUMENT_NOT_TRUSTED,
    PERSISTED_QUERY_HASH_MISMATCH,
    PERSISTED_QUERY_NOT_FOUND,
)
from api.runtime import Runtime
from domain.access import Role
from tests.conftest import Workspace, new_workspace, serving

FIRST_PAGE = "query Page { customers(first: 50) { edges { cursor node { id email } } } }"
REGISTERED = "query Registered { customers(first: 2) { edges { node { id } } } }"
UNREGISTERED = "query Other { customers(first: 3) { edges { node { id } } } }"


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


async def post(ws: Workspace, body: dict[str, Any]) -> dict[str, Any]:
    response = await ws.http.post(
        f"{ws.base_url}/graphql",
        json=body,
        headers={"Authorization": f"Bearer {ws.keys[Role.READ]}"},
    )
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def persisted(digest: str, query: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"extensions": {"persistedQuery": {"version": 1, "sha256Hash": digest}}}
    if query is not None:
        body["query"] = query
    return body


def codes(result: dict[str, Any]) -> list[str]:
    return [e["extensions"]["code"] for e in result.get("errors", [])]


async def test_apq_unknown_hash_then_hash_and_query_then_hash_alone(
    workspace: Workspace,
) -> None:
    # a unique document, so no earlier test registered its hash
    query = FIRST_PAGE.replace("Page", f"Page{workspace.name.replace('-', '')}")
    digest = sha256(query)

    unknown = await post(workspace, persisted(digest))
    assert codes(unknown) == [PERSISTED_QUERY_NOT_FOUND]
    assert unknown["errors"][0]["message"] == "PersistedQueryNotFound"

    stored = await post(workspace, persisted(digest, query))
    assert stored["data"] == {"customers": {"edges": []}}

    again = await post(workspace, persisted(digest))
    assert again["data"] == {"customers": {"edges": []}}
    assert again["extensions"]["cost"]["requestedQueryCost"] == 51


async def test_apq_refuses_a_hash_that_is_not_the_querys(workspace: Workspace) -> None:
    result = await post(workspace, persisted(sha256("something else"), FIRST_PAGE))
    assert codes(result) == [PERSISTED_QUERY_HASH_MISMATCH]
    assert result.get("data") is None


@pytest.fixture
async def trusted_server(runtime: Runtime, tmp_path: Path) -> AsyncIterator[str]:
    manifest = tmp_path / "documents.json"
    manifest.write_text(
        json.dumps({"operations": [{"id": sha256(REGISTERED), "body": REGISTERED}]})
    )
    locked = Runtime(
        replace(runtime.settings, trusted_documents=str(manifest)),
        runtime.database,
        runtime.engine,
    )
    async with serving(locked) as url:
        yield url


async def test_trusted_mode_runs_only_registered_documents(
    runtime: Runtime, trusted_server: str, http: httpx.AsyncClient
) -> None:
    ws = await new_workspace(runtime, trusted_server, http)

    by_hash = await post(ws, persisted(sha256(REGISTERED)))
    by_text = await post(ws, {"query": REGISTERED})
    other = await post(ws, {"query": UNREGISTERED})
    other_apq = await post(ws, persisted(sha256(UNREGISTERED), UNREGISTERED))

    assert by_hash["data"] == by_text["data"] == {"customers": {"edges": []}}
    assert codes(other) == codes(other_apq) == [DOCUMENT_NOT_TRUSTED]
    assert other.get("data") is None


@pytest.fixture
def parses_and_validations(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """How often graphql's parse and validate run from here on (counting wrappers)."""
    calls: Counter[str] = Counter()

    def counting(name: str, real: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            calls[name] += 1
            return real(*args, **kwargs)

        return wrapper

    monkeypatch.setattr(strawberry_schema, "validate", counting("validate", graphql.validate))
    monkeypatch.setattr(strawberry_schema, "parse", counting("parse", graphql.parse))
    monkeypatch.setattr(api_schema, "_parse_cached", counting("parse", graphql.parse))
    return calls


def forget_caches() -> None:
    """Empty the per-text caches, so that only a registry could spare the work."""
    persisted_documents._validate_cached.cache_clear()


async def test_apq_hits_are_neither_parsed_nor_validated_again(
    workspace: Workspace, parses_and_validations: Counter[str]
) -> None:
    query = FIRST_PAGE.replace("Page", f"Hits{workspace.name.replace('-', '')}")
    digest = sha256(query)
    stored = await post(workspace, persisted(digest, query))
    assert stored["data"] == {"customers": {"edges": []}}
    assert parses_and_validations == {"parse": 1, "validate": 1}
    forget_caches()

    for _ in range(3):
        again = await post(workspace, persisted(digest))
        assert again["data"] == {"customers": {"edges": []}}

    assert parses_and_validations == {"parse": 1, "validate": 1}
    # while a document sent as text is parsed and validated
    await post(workspace, {"query": query.replace("first: 50", "first: 49")})
    assert parses_and_validations == {"parse": 2, "validate": 2}


async def test_registered_documents_are_validated_once_and_never_parsed_per_request(
    runtime: Runtime,
    trusted_server: str,
    http: httpx.AsyncClient,
    parses_and_validations: Counter[str],
) -> None:
    ws = await new_workspace(runtime, trusted_server, http)
    parses_and_validations.clear()  # creating the workspace ran documents of its own

    first = await post(ws, persisted(sha256(REGISTERED)))
    forget_caches()
    later = [await post(ws, persisted(sha256(REGISTERED))) for _ in range(2)]
    by_text = await post(ws, {"query": REGISTERED})

    assert first["data"] == by_text["data"] == {"customers": {"edges": []}}
    assert all(r["data"] == first["data"] for r in later)
    # parsed when the manifest was loaded, validated on first use only
    assert parses_and_validations == {"validate": 1}
