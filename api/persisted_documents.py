"""Persisted documents: Apollo's automatic persisted queries, and trusted documents.

APQ: a client sends `extensions.persistedQuery.sha256Hash` alone; an unknown hash
gets `PERSISTED_QUERY_NOT_FOUND`, and the client sends the hash with the query,
which is checked and remembered (per process, bounded) so later requests carry the
hash alone.

Trusted documents: with SEGMENTQL_TRUSTED_DOCUMENTS naming a manifest of
registered documents, only those run (by hash or by text), the way production
frontends lock an API down. They are parsed when the manifest is loaded, not per
request, and validated on first use only; an APQ document is parsed and validated
when it is first sent with its hash, and reused while it is remembered.
"""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from graphql import DocumentNode, GraphQLError, parse
from strawberry.extensions import SchemaExtension
from strawberry.schema.schema import validate_document

PERSISTED_QUERY_NOT_FOUND = "PERSISTED_QUERY_NOT_FOUND"
PERSISTED_QUERY_HASH_MISMATCH = "PERSISTED_QUERY_HASH_MISMATCH"
DOCUMENT_NOT_TRUSTED = "DOCUMENT_NOT_TRUSTED"
REMEMBERED = 1000


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass
class Registered:
    """A document known by its hash, parsed and validated at most once per process."""

    query: str
    document: DocumentNode | None = None
    validated: bool = False
    """It passed validation (the schema's rules do not change while a process runs)."""


@dataclass
class Registry:
    """The documents a process knows by hash: registered ones, and APQ's remembered ones."""

    trusted: dict[str, Registered] | None = None
    """Registered documents by hash; None when the trusted-documents mode is off."""
    remembered: OrderedDict[str, Registered] = field(default_factory=OrderedDict)

    def remember(self, digest: str, query: str) -> Registered:
        known = self.remembered.get(digest)
        if known is None:
            known = self.remembered[digest] = Registered(query)
        self.remembered.move_to_end(digest)
        if len(self.remembered) > REMEMBERED:
            self.remembered.popitem(last=False)
        return known

    def find(self, digest: str) -> Registered | None:
        if self.trusted is not None and digest in self.trusted:
            return self.trusted[digest]
        known = self.remembered.get(digest)
        if known is not None:
            self.remembered.move_to_end(digest)
        return known


def load_manifest(path: Path) -> dict[str, Registered]:
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
        documents[digest] = Registered(body, parse(body))
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
    mode refuse every document that is not registered.

    A registered or remembered document is parsed and validated once: later requests
    naming it (by hash, or by text in trusted mode) reuse its DocumentNode and skip
    validation, which `CachedValidation` leaves to this extension.
    """

    known: Registered | None = None

    def on_operation(self) -> Iterator[None]:
        context = self.execution_context
        runtime: Any = getattr(context.context, "runtime", None)
        if runtime is not None:
            self.known = self._resolve(registry(runtime))
            if self.known is not None and self.known.document is not None:
                context.graphql_document = self.known.document
        yield

    def on_parse(self) -> Iterator[None]:
        yield
        known, document = self.known, self.execution_context.graphql_document
        if known is not None and known.document is None and document is not None:
            known.document = document

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        known = self.known
        reused = known is not None and known.validated and known.document is not None
        if reused and context.graphql_document is (known.document if known else None):
            context.pre_execution_errors = []  # validated when it was first seen
        yield
        if known is not None and context.graphql_document is known.document:
            known.validated = known.validated or context.pre_execution_errors == []

    def _resolve(self, known: Registry) -> Registered | None:
        context = self.execution_context
        persisted = (context.operation_extensions or {}).get("persistedQuery")
        digest = persisted.get("sha256Hash") if isinstance(persisted, dict) else None
        if digest is not None and not isinstance(digest, str):
            raise _refusal("`persistedQuery.sha256Hash` must be a string.", "BAD_REQUEST")
        entry = None
        if digest is not None and context.query is None:
            entry = known.find(digest)
            if entry is None:
                raise _refusal("PersistedQueryNotFound", PERSISTED_QUERY_NOT_FOUND)
            context.query = entry.query
        elif digest is not None and context.query is not None:
            if sha256(context.query) != digest:
                raise _refusal(
                    "`persistedQuery.sha256Hash` is not the sha256 of the query sent.",
                    PERSISTED_QUERY_HASH_MISMATCH,
                )
            if known.trusted is None:
                entry = known.remember(digest, context.query)
        if known.trusted is None or context.query is None:
            return entry
        registered = known.trusted.get(digest or sha256(context.query))
        if registered is None:
            raise _refusal(
                "Only registered documents run on this service; this one is not.",
                DOCUMENT_NOT_TRUSTED,
            )
        return registered  # parsed when the manifest was loaded


class CachedValidation(SchemaExtension):
    """Validate each distinct document once (a bounded cache, keyed by the document
    object, which CachedDocuments makes one per distinct text); a document an earlier
    extension already validated (a registered one) is not validated again."""

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        if context.pre_execution_errors is None:
            assert context.graphql_document is not None
            context.pre_execution_errors = _validate_cached(
                context.schema._schema, context.graphql_document, context.validation_rules
            )
        yield


VALIDATIONS_CACHED = 256
_validate_cached = lru_cache(maxsize=VALIDATIONS_CACHED)(validate_document)
