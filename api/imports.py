"""`POST /import/customers`: a customer file streamed in, imported as a background job."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response

from api.auth import authenticate
from api.services.import_jobs import BodyTooLarge, start_job
from domain.access import Role
from domain.import_job import FileFormat, ImportMode, ImportOptions

FLAGS = {"true": True, "1": True, "false": False, "0": False}


class BadParameter(Exception):
    pass


def _options(request: Request) -> ImportOptions:
    """The query string: mode, format, strict, maxDelete, force (as the command's flags)."""
    params = request.query_params
    unknown = sorted(set(params) - {"mode", "format", "strict", "maxDelete", "force"})
    if unknown:
        raise BadParameter(f"Unknown parameter {unknown[0]!r}.")
    try:
        mode = ImportMode(params.get("mode", "upsert"))
    except ValueError as exc:
        raise BadParameter("`mode` is upsert or replace.") from exc
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    default_format = "csv" if content_type == "text/csv" else "jsonl"
    try:
        file_format = FileFormat(params.get("format", default_format))
    except ValueError as exc:
        raise BadParameter("`format` is jsonl or csv.") from exc
    flags = {}
    for name in ("strict", "force"):
        raw = params.get(name, "false").lower()
        if raw not in FLAGS:
            raise BadParameter(f"`{name}` is true or false.")
        flags[name] = FLAGS[raw]
    try:
        max_delete = float(params.get("maxDelete", "10"))
    except ValueError as exc:
        raise BadParameter("`maxDelete` is a percentage, e.g. 10.") from exc
    if not 0 <= max_delete <= 100:
        raise BadParameter("`maxDelete` is a percentage from 0 to 100.")
    return ImportOptions(mode, file_format, flags["strict"], max_delete, flags["force"])


async def import_customers(request: Request) -> Response:
    runtime = request.app.state.runtime
    caller = await authenticate(runtime, request.headers.get("authorization"))
    if caller is None:
        return PlainTextResponse(
            "Missing or invalid API key: send 'Authorization: Bearer <key>'.", 401
        )
    if not caller.role.allows(Role.WRITE):
        return PlainTextResponse("Importing customers needs a WRITE or ADMIN key.", 403)
    try:
        options = _options(request)
        job_id = await start_job(runtime, caller.workspace_pk, request.stream(), options)
    except BadParameter as exc:
        return PlainTextResponse(str(exc), 400)
    except BodyTooLarge as exc:
        return PlainTextResponse(str(exc), 413)
    return JSONResponse({"id": job_id, "state": "QUEUED"}, 202)
