"""Text PostgreSQL cannot store (NUL, lone surrogates) never becomes an internal error.

One place for every field: after the schema is built, each field that takes
arguments has its resolver wrapped. When the database (or the driver, for a
lone surrogate) refuses a string of the arguments, the transaction has rolled
back, nothing changed, and the answer names the argument: a mutation returns
its payload with a `userError` (code INVALID, `field` the path into the
arguments), any other field a BAD_USER_INPUT error. Fields that already check
their text (customersUpsert's ids, eventsTrack, a search term that can match
nothing) answer as they always did; this catches every other one.

The plain-HTTP routes get the same rule from `UnstorableUrls`: a path or
query parameter holding NUL or invalid UTF-8 is a 400 before any route runs.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qsl

from graphql import GraphQLError, GraphQLObjectType, GraphQLResolveInfo, GraphQLSchema
from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Receive, Scope, Send
from strawberry.utils.str_converters import to_camel_case

from api.errors import user_errors
from domain.custom_property import storable_text
from domain.errors import DomainError, ErrorCode
from persistence.evaluation import refused_as_unstorable

BAD_USER_INPUT = "BAD_USER_INPUT"
MESSAGE = "holds a NUL character or invalid Unicode, which cannot be stored; remove it."

Resolve = Callable[..., Any]


def guard_arguments(schema: GraphQLSchema) -> None:
    """Wrap the resolver of every field with arguments (call once, on the built schema)."""
    for type_ in schema.type_map.values():
        if isinstance(type_, GraphQLObjectType) and not type_.name.startswith("__"):
            for field in type_.fields.values():
                if field.args and field.resolve is not None:
                    field.resolve = _guarded(field.resolve)
                if field.args and field.subscribe is not None:
                    field.subscribe = _guarded(field.subscribe)


def _guarded(resolve: Resolve) -> Resolve:
    def guarded(source: Any, info: GraphQLResolveInfo, **args: Any) -> Any:
        try:
            result = resolve(source, info, **args)
        except Exception as exc:
            return _refusal(exc, info, args)
        if inspect.isawaitable(result):
            return _awaited(result, info, args)
        return result

    return guarded


async def _awaited(result: Awaitable[Any], info: GraphQLResolveInfo, args: dict[str, Any]) -> Any:
    try:
        return await result
    except Exception as exc:
        return _refusal(exc, info, args)


def _refusal(exc: Exception, info: GraphQLResolveInfo, args: dict[str, Any]) -> Any:
    if not refused_as_unstorable(exc):
        raise exc
    path = _unstorable_path(args) or []
    where = ".".join(path) or "an argument"
    payload = _payload_class(info)
    if payload is not None:
        errors = user_errors(DomainError(ErrorCode.INVALID, f"{where} {MESSAGE}", path))
        return payload(**{**_empty_fields(payload), "user_errors": errors})
    raise GraphQLError(
        f"Argument {where} {MESSAGE}",
        extensions={"code": BAD_USER_INPUT, "argument": where},
    ) from exc


def _payload_class(info: GraphQLResolveInfo) -> Any:
    """The strawberry class of a mutation payload (a type with userErrors), else None."""
    if info.operation.operation.value != "mutation" or info.path.prev is not None:
        return None
    named = info.return_type
    while hasattr(named, "of_type"):
        named = named.of_type
    definition = getattr(named, "extensions", {}).get("strawberry-definition")
    if definition is None or "user_errors" not in {f.python_name for f in definition.fields}:
        return None
    return definition.origin


def _empty_fields(payload: Any) -> dict[str, Any]:
    """Every field of a payload as it reads when nothing was done: [] for lists, 0 for a
    count (a non-null Int, such as webhookEndpointReplay's `deliveries`), else None."""
    empty: dict[str, Any] = {}
    for field in payload.__strawberry_definition__.fields:
        is_list = "list" in str(field.type).lower()
        empty[field.python_name] = [] if is_list else 0 if field.type is int else None
    return empty


def _unstorable_path(value: Any, path: tuple[str, ...] = ()) -> list[str] | None:
    """The GraphQL path to the first string that cannot be stored, through inputs, lists, JSON."""
    if isinstance(value, str):
        return None if storable_text(value) else list(path)
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(key, str) and not storable_text(key):
                return [*path, repr(key)]
            found = _unstorable_path(item, (*path, str(key)))
            if found is not None:
                return found
        return None
    if isinstance(value, list | tuple):
        for index, item in enumerate(value):
            found = _unstorable_path(item, (*path, str(index)))
            if found is not None:
                return found
        return None
    definition = getattr(value, "__strawberry_definition__", None)
    if definition is not None:  # an input object
        fields = {
            f.graphql_name or to_camel_case(f.python_name): getattr(value, f.python_name, None)
            for f in definition.fields
        }
        return _unstorable_path(fields, path)
    return None


class UnstorableUrls:
    """A path or query parameter holding NUL or invalid Unicode is a 400 on every route."""

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
