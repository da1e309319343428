"""GraphQL over HTTP: the `application/graphql-response+json` media type and its status codes.

Clients that accept it (graphql-http, Relay's and urql's fetchers) get it, and with it
the specification's statuses: a document that does not parse or validate, or whose
variables do not fit, is a 400 with `errors` and no `data` entry, since nothing ran.
Clients that ask for `application/json` (or nothing) get exactly what they got before:
200 with `data: null` beside the errors.
"""

from __future__ import annotations

import json

from starlette.responses import Response

GRAPHQL_RESPONSE = "application/graphql-response+json"
LEGACY = "application/json"


def _weights(accept: str) -> dict[str, float]:
    weights: dict[str, float] = {}
    for part in accept.split(","):
        media, *params = (p.strip() for p in part.split(";"))
        q = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        weights[media.lower()] = max(q, weights.get(media.lower(), 0.0))
    return weights


def prefers_graphql_response(accept: str) -> bool:
    """Whether the client asked for the new media type at least as much as for JSON."""
    weights = _weights(accept)
    wanted = weights.get(GRAPHQL_RESPONSE, 0.0)
    return wanted > 0 and wanted >= weights.get(LEGACY, 0.0)


def _is_request_error(body: object) -> bool:
    """Nothing was executed: no data, and no error points at a field."""
    if not isinstance(body, dict) or body.get("data") is not None or not body.get("errors"):
        return False
    return all(isinstance(e, dict) and "path" not in e for e in body["errors"])


def _holds_data(raw: bytes) -> bool:
    """A result whose `data` is not null (the view writes `data` first): not a request
    error, so its body is served as it is, not decoded and encoded again."""
    return raw.startswith(b'{"data":') and not raw.startswith(b'{"data":null')


def negotiated(accept: str, response: Response) -> Response:
    """The response in the media type the client prefers, with its status."""
    if response.media_type != LEGACY or not prefers_graphql_response(accept):
        return response
    raw = bytes(response.body)
    status = response.status_code
    if _holds_data(raw):
        content: str | bytes = raw  # execution ran: only the media type changes
    else:
        body = json.loads(raw)
        if _is_request_error(body):
            body.pop("data", None)
            status = 400
        content = json.dumps(body, separators=(",", ":"))
    again = Response(content, status_code=status, media_type=GRAPHQL_RESPONSE)
    for name, value in response.headers.items():
        if name.lower() not in {"content-type", "content-length"}:
            again.headers.append(name, value)
    return again
