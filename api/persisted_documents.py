"""Persisted documents: Apollo's automatic persisted queries, and trusted documents.

APQ: a client sends `extensions.persistedQuery.sha256Hash` alone; an unknown hash
gets `PERSISTED_QUERY_NOT_FOUND`, and the client sends the hash with the query,
which is checked and remembered (per process, bounded) so later requests carry the
hash alone.

Trusted documents: with SEGMENTQL_TRUSTED_DOCUMENTS naming a manifest of
registered documents, only those run (by hash or by text), the way production
frontends lock an API down. They are parsed when the manifest is loaded, not per
request, and validation of a parsed document is cached.
"""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from graphql import DocumentNode, GraphQLError, parse
from strawberry.extensions import SchemaExtension

PERSISTED_QUERY_NOT_FOUND = "PERSISTED_QUERY_NOT_FOUND"
PERSISTED_QUERY_HASH_MISMATCH = "PERSISTED_QUERY_HASH_MISMATCH"
DOCUMENT_NOT_TRUSTED = "DOCUMENT_NOT_TRUSTED"
REMEMBERED = 1000


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass
class Registry:
    """The documents a process knows by hash: registered ones, and APQ's remembered ones."""

    trusted: dict[str, tuple[str, DocumentNode]] | None = None
    """Registered documents by hash; None when the trusted-documents mode is off."""
    remembered: OrderedDict[str, str] = field(default_factory=OrderedDict)

    def remember(self, digest: str, query: str) -> None:
        self.remembered[digest] = query
        self.remembered.move_to_end(digest)
        if len(self.remembered) > REMEMBERED:
            self.remembered.popitem(last=False)

    def find(self, digest: str) -> str | None:
        if self.trusted is not None and digest in self.trusted:
            return self.trusted[digest][0]
        query = self.remembered.get(digest)
        if query is not None:
            self.remembered.move_to_end(digest)
        return query


def load_manifest(path: Path) -> dict[str, tuple[str, DocumentNode]]:
    """A JSON object of `{sha256: document}`, or Apollo's persisted query manifest
    (`{"operations": [{"id": sha256, "body": document}, ...]}`)."""
    raw = json.loads(path.read_text())
    pairs = (
        [(op["id"], op["body"]) for op in raw["operations"]]
        if isinstance(raw, dict) and "operations" in raw
        else list(raw.items())
    )
    documents = {}
    for digest, body in pairs:
        if sha256(body) != digest:
            raise SystemExit(f"{path}: {digest} is not the sha256 of its document")
        documents[digest] = (body, parse(body))
    return documents


def registry(runtime: Any) -> Registry:
    found = runtime.extras.get("persisted")
    if found is None:
        path = runtime.settings.trusted_documents
        trusted = load_manifest(Path(path)) if path else None
        found = runtime.extras["persisted"] = Registry(trusted)
    assert isinstance(found, Registry)
    return found


def _refusal(message: str, code: str) -> GraphQLError:
    return GraphQLError(message, extensions={"code": code})


class PersistedDocuments(SchemaExtension):
    """Resolve `extensions.persistedQuery` to a document before parsing; in trusted
    mode refuse every document that is not registered."""

    def on_operation(self) -> Iterator[None]:
        context = self.execution_context
        runtime: Any = getattr(context.context, "runtime", None)
        if runtime is not None:
            self._resolve(registry(runtime))
        yield

    def _resolve(self, known: Registry) -> None:
        context = self.execution_context
        persisted = (context.operation_extensions or {}).get("persistedQuery")
        digest = persisted.get("sha256Hash") if isinstance(persisted, dict) else None
        if digest is not None and not isinstance(digest, str):
            raise _refusal("`persistedQuery.sha256Hash` must be a string.", "BAD_REQUEST")
        if digest is not None and context.query is None:
            query = known.find(digest)
            if query is None:
                raise _refusal("PersistedQueryNotFound", PERSISTED_QUERY_NOT_FOUND)
            context.query = query
        elif digest is not None and context.query is not None:
            if sha256(context.query) != digest:
                raise _refusal(
                    "`persistedQuery.sha256Hash` is not the sha256 of the query sent.",
                    PERSISTED_QUERY_HASH_MISMATCH,
                )
            known.remember(digest, context.query)
        if known.trusted is None or context.query is None:
            return
        registered = known.trusted.get(digest or sha256(context.query))
        if registered is None:
            raise _refusal(
                "Only registered documents run on this service; this one is not.",
                DOCUMENT_NOT_TRUSTED,
            )
        context.graphql_document = registered[1]  # parsed when the manifest was loaded
