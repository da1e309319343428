"""Arguments PostgreSQL cannot store are refused before any resolver runs: one place for all.

PostgreSQL text cannot hold the NUL character (nor lone surrogates, which
cannot be encoded as UTF-8). Any such string in a document's literal
arguments or in its variables, at any depth (input objects, lists, JSON
values and their keys), makes the whole request a BAD_USER_INPUT error that
names the argument; nothing executes, so nothing changes. Without this, the
string reached the database and came back as INTERNAL_SERVER_ERROR.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl

from graphql import (
    ArgumentNode,
    FieldNode,
    GraphQLError,
    ListValueNode,
    ObjectValueNode,
    OperationDefinitionNode,
    StringValueNode,
    ValueNode,
    visit,
)
from graphql.language import Visitor
from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Receive, Scope, Send
from strawberry.extensions import SchemaExtension

from domain.custom_property import storable_text

BAD_USER_INPUT = "BAD_USER_INPUT"


class UnstorableArguments(SchemaExtension):
    """Runs at validation: a refusal here is a pre-execution error, like a validation error."""

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        document = context.graphql_document
        if document is not None:
            where = _first_unstorable(document, context.variables or {})
            if where is not None:
                error = GraphQLError(
                    f"Argument {where} holds a NUL character or invalid Unicode, which "
                    "cannot be stored; remove it.",
                    extensions={"code": BAD_USER_INPUT, "argument": where},
                )
                context.pre_execution_errors = [*(context.pre_execution_errors or []), error]
        yield


def _first_unstorable(document: Any, variables: dict[str, Any]) -> str | None:
    for name, value in variables.items():
        if not _storable(value):
            return f"${name}"
    finder = _LiteralFinder()
    for definition in document.definitions:
        if isinstance(definition, OperationDefinitionNode):
            visit(definition, finder)
            if finder.found is not None:
                return finder.found
    return None


def _storable(value: object) -> bool:
    if isinstance(value, str):
        return storable_text(value)
    if isinstance(value, dict):
        return all(_storable(k) and _storable(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_storable(v) for v in value)
    return True


class _LiteralFinder(Visitor):
    found: str | None = None
    field: str = ""

    def enter_field(self, node: FieldNode, *_: Any) -> None:
        self.field = node.name.value

    def enter_argument(self, node: ArgumentNode, *_: Any) -> None:
        if self.found is None and not _literal_storable(node.value):
            self.found = f"{self.field}({node.name.value}:)"


def _literal_storable(node: ValueNode) -> bool:
    if isinstance(node, StringValueNode):
        return storable_text(node.value)
    if isinstance(node, ListValueNode):
        return all(_literal_storable(v) for v in node.values)
    if isinstance(node, ObjectValueNode):
        return all(_literal_storable(f.value) for f in node.fields)
    return True


class UnstorableUrls:
    """The same rule for the plain-HTTP routes: a path or query parameter holding NUL or
    invalid Unicode is a 400 before any route sees it (GraphQL bodies are checked above)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not _url_storable(scope):
            response = PlainTextResponse(
                "The URL holds a NUL character or invalid Unicode (percent-encoded or not).", 400
            )
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


def _url_storable(scope: Scope) -> bool:
    if not storable_text(scope.get("path", "")):
        return False
    query = scope.get("query_string", b"")
    if not query:
        return True
    try:
        pairs = parse_qsl(query.decode("latin-1"), keep_blank_values=True, errors="strict")
    except UnicodeDecodeError:
        return False
    return all(storable_text(k) and storable_text(v) for k, v in pairs)
