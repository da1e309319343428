"""Plain-HTTP CSV export routes (same API keys as GraphQL)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response, StreamingResponse

from api.auth import authenticate
from api.context import Context
from api.services.exports import segment_export
from domain.errors import DomainError, ErrorCode


async def _export(request: Request, instance_id: str | None) -> Response:
    runtime = request.app.state.runtime
    caller = await authenticate(runtime, request.headers.get("authorization"))
    if caller is None:
        return PlainTextResponse(
            "Missing or invalid API key: send 'Authorization: Bearer <key>'.", 401
        )
    ctx = Context(runtime, caller, request)
    try:
        export = await segment_export(
            ctx, request.path_params["segment_id"], request.query_params.get("fields"), instance_id
        )
    except DomainError as exc:
        status = 404 if exc.code is ErrorCode.NOT_FOUND else 400
        return PlainTextResponse(exc.message, status)
    return StreamingResponse(
        export.rows,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{export.filename}"'},
    )


async def export_members(request: Request) -> Response:
    return await _export(request, None)


async def export_instance(request: Request) -> Response:
    return await _export(request, request.path_params["instance_id"])
