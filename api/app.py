"""The Starlette application: GraphQL over HTTP and WebSocket, health, limits, CORS."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import time
from collections.abc import AsyncIterator
from typing import Any

import orjson
from cross_web import HTTPException
from sqlalchemy import text
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.schema.exceptions import InvalidOperationTypeError
from strawberry.types.graphql import OperationType
from strawberry.types.unset import UNSET

from api import garbage_collection
from api.argument_checks import UnstorableUrls
from api.auth import authenticate
from api.background import default_jobs, is_leader, running
from api.context import Context
from api.export import export_instance, export_members
from api.graphql_http import negotiated
from api.imports import import_customers
from api.metrics import metrics, record_operation, sampling
from api.persisted_documents import registry
from api.read_routing import watched
from api.runtime import Runtime
from api.schema import schema
from api.services.bootstrap import prepare_database
from api.studio import explorer_page, studio_mount
from api.top_level_errors import DATABASE_UNAVAILABLE, UNAVAILABLE_MESSAGE
from persistence.database import database_unavailable
from persistence.migrate import is_current
from persistence.settings import Settings

log = logging.getLogger("segmentql")


class SegmentGraphQL(GraphQL[Context, None]):
    """Authenticates every HTTP request by header and every WebSocket by connection_init."""

    async def get_context(self, request: Any, response: Any) -> Context:
        runtime: Runtime = request.app.state.runtime
        if isinstance(request, WebSocket):
            # The live path: what a subscription resolves (an event's customer, written a
            # moment ago) must not come from a replica that has not replayed it yet.
            return Context(runtime, None, request, response).on_primary()
        try:
            caller = await authenticate(runtime, request.headers.get("authorization"))
        except Exception as exc:
            if database_unavailable(exc):  # the key cannot be checked: retryable
                raise HTTPException(503, f"{DATABASE_UNAVAILABLE}: {UNAVAILABLE_MESSAGE}") from exc
            raise
        if caller is None and self.should_render_graphql_ide(self.request_adapter_class(request)):
            return Context(runtime, None, request, response)  # the explorer page holds no data
        if caller is None:
            raise HTTPException(
                401, "Missing or invalid API key: send 'Authorization: Bearer <key>'."
            )
        return Context(runtime, caller, request, response)

    async def render_graphql_ide(self, request: Any) -> Response:
        return explorer_page()  # every asset from the service itself, none from a CDN

    async def run(self, request: Any, context: Any = UNSET, root_value: Any = UNSET) -> Any:
        response = await super().run(request, context, root_value)
        if isinstance(request, Request) and isinstance(response, Response):
            return negotiated(request.headers.get("accept", ""), response)
        return response

    async def execute_single(self, *args: Any, **kwargs: Any) -> Any:
        """Strawberry's, timed for /metrics; a mutation sent by GET is a 405 (queries only),
        a subscription sent over HTTP a 400 that names the WebSocket."""
        started = time.perf_counter()
        try:
            result = await super().execute_single(*args, **kwargs)
            record_operation(kwargs["request_data"], started, result.errors)
            return result
        except HTTPException as exc:
            refused = exc.__cause__
            if not isinstance(refused, InvalidOperationTypeError):
                raise
            if refused.operation_type is OperationType.SUBSCRIPTION:
                raise HTTPException(
                    400,
                    "Subscriptions run over a WebSocket at /graphql (graphql-transport-ws),"
                    " not over HTTP.",
                ) from exc
            if kwargs["request_adapter"].method == "GET":
                raise HTTPException(
                    405, "Only queries may be sent by GET; send mutations by POST."
                ) from exc
            raise

    def parse_json(self, data: str | bytes) -> Any:
        """Strawberry's, but a body that is not UTF-8 or not an object is a 400, not a 500."""
        try:
            parsed = super().parse_json(data)
        except UnicodeDecodeError as exc:
            raise HTTPException(400, "The request body is not UTF-8 JSON.") from exc
        # Bodies arrive as bytes; GET's `variables` and `extensions` parameters as str.
        if isinstance(data, bytes) and not isinstance(parsed, dict | list):
            raise HTTPException(400, "The request body must be a JSON object.")
        return parsed

    def encode_json(self, data: object) -> str:
        """orjson's encoding (a few times faster than json's for a page of rows); json's
        for what orjson refuses (integers past 64 bits in a JSON value, say). Text, as
        WebSocket clients expect text frames."""
        try:
            return orjson.dumps(data).decode()
        except TypeError:
            return json.dumps(data, separators=(",", ":"))

    async def on_ws_connect(self, context: Context) -> Any:
        params = context.connection_params or {}
        header = params.get("Authorization") or params.get("authorization")
        caller = await authenticate(context.runtime, header)
        if caller is None:
            raise ConnectionRejectionError({"reason": "missing or invalid API key"})
        context.caller = caller
        return None


STREAMED_PATHS = ("/import/",)


class BodyLimit:
    """Refuse request bodies over the configured size with 413, before parsing them."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(STREAMED_PATHS):
            await self.app(scope, receive, send)  # bodies streamed to disk have their own limit
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await PlainTextResponse("Request body too large.", 413)(scope, receive, send)
            return
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.max_bytes:
                raise _TooLarge
            return message

        try:
            await self.app(scope, limited, send)
        except _TooLarge:
            await PlainTextResponse("Request body too large.", 413)(scope, receive, send)


class _TooLarge(Exception):
    pass


async def healthz(request: Request) -> Response:
    return PlainTextResponse("ok")


async def readyz(request: Request) -> Response:
    """Whether to send traffic here; also which process answered and whether it leads."""
    runtime: Runtime = request.app.state.runtime
    try:
        async with runtime.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        current = await is_current(runtime.engine)
    except Exception as exc:
        return JSONResponse({"ready": False, "reason": type(exc).__name__}, 503)
    if not current:
        return JSONResponse({"ready": False, "reason": "migrations pending"}, 503)
    return JSONResponse({"ready": True, "pid": os.getpid(), "backgroundLeader": is_leader(runtime)})


def create_app(settings: Settings | None = None, runtime: Runtime | None = None) -> Starlette:
    settings = settings or (runtime.settings if runtime else Settings.from_env())

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        rt = runtime or Runtime.start(settings)
        app.state.runtime = rt
        registry(rt)  # the trusted documents' manifest, if any: a bad one stops the start
        if runtime is None:
            await prepare_database(rt)
        jobs = default_jobs(rt) if rt.settings.background_jobs else []
        if runtime is None:  # the serving process's own runtime: start-up is over
            garbage_collection.tune(rt.settings.gc_young_threshold)
        try:
            async with sampling(rt), watched(rt), running(rt, jobs):
                yield
        finally:
            if runtime is None:
                await rt.close()

    graphql = SegmentGraphQL(schema, allowed_origins=settings.allowed_origins or ())
    middleware = [
        Middleware(UnstorableUrls),
        Middleware(BodyLimit, max_bytes=settings.max_request_bytes),
    ]
    if settings.allowed_origins:
        middleware.append(
            Middleware(
                CORSMiddleware,
                allow_origins=settings.allowed_origins,
                allow_methods=["GET", "POST", "OPTIONS"],
                allow_headers=["Authorization", "Content-Type"],
            )
        )
    return Starlette(
        routes=[
            Route("/graphql", graphql, methods=["GET", "POST"]),
            WebSocketRoute("/graphql", graphql),
            Route("/segments/{segment_id}/export.csv", export_members),
            Route("/segments/{segment_id}/instances/{instance_id}/export.csv", export_instance),
            Route("/import/customers", import_customers, methods=["POST"]),
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            Route("/metrics", metrics),
            studio_mount(),
        ],
        middleware=middleware,
        lifespan=lifespan,
    )
