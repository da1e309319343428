"""The studio (the web app at `/`) and the offline API explorer (GET /graphql in a browser).

Both are static files under studio/web/, served as they are: hand-written ES modules
and the vendored React, ReactDOM and GraphiQL builds (studio/copy-vendor.mjs copies
them from the npm packages pinned in studio/package-lock.json). Nothing is built at
start, and no page names a host other than the service: the Content-Security-Policy
sent with every file says so to the browser as well.
"""

from __future__ import annotations

import mimetypes
from pathlib import Path

from starlette.exceptions import HTTPException
from starlette.responses import HTMLResponse, Response
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

PACKAGED = "studio_web"
"""Where the wheel puts studio/web/ inside the api package (pyproject's force-include)."""


def web_root(package: Path) -> Path:
    """The studio's files: inside the installed package, or studio/web/ of a checkout."""
    installed = package / PACKAGED
    return installed if installed.is_dir() else package.parent / "studio" / "web"


WEB = web_root(Path(__file__).resolve().parent)
EXPLORER = WEB / "explorer.html"

# Scripts, styles, fonts, images and connections (HTTP and WebSocket) from the service only.
# GraphiQL sets inline styles and embeds its fonts as data: URLs.
POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)
HEADERS = {"Content-Security-Policy": POLICY, "X-Content-Type-Options": "nosniff"}

mimetypes.add_type("text/javascript", ".js")  # what browsers want for ES modules
mimetypes.add_type("text/css", ".css")


class StudioFiles(StaticFiles):
    """studio/web/ at `/` (index.html for a folder), with the policy headers on each file.

    Any other method than GET or HEAD is refused with 405 only on a path that is a studio
    file; on any other path it is 404 (StaticFiles says 405 first, so a POST to a mistyped
    route would claim the route exists).
    """

    async def get_response(self, path: str, scope: Scope) -> Response:
        if scope["method"] not in ("GET", "HEAD"):
            await super().get_response(path, {**scope, "method": "GET"})  # 404 when unknown
            raise HTTPException(405, headers={"Allow": "GET, HEAD"})
        response = await super().get_response(path, scope)
        response.headers.update(HEADERS)
        return response


def studio_mount() -> Mount:
    """The last route: whatever no other route answers is a studio file, or a 404."""
    return Mount("/", app=StudioFiles(directory=WEB, html=True), name="studio")


def explorer_page() -> Response:
    """The explorer page, served instead of strawberry's (which loads GraphiQL from a CDN)."""
    return HTMLResponse(EXPLORER.read_text(), headers=HEADERS)
