"""The studio and the explorer are served by the service itself, with the right types."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import httpx

from api.studio import PACKAGED, WEB, web_root
from tests.conftest import ROOT, Workspace

EXTERNAL = re.compile(
    r"""(src|href)\s*=\s*["']?(https?:)?//|url\(\s*["']?(https?:)?//|import\s*\(?\s*["']https?:"""
)


async def test_the_studio_pages_are_served_with_their_content_types(
    workspace: Workspace, http: httpx.AsyncClient
) -> None:
    # when the studio's shell, a module and a stylesheet are fetched without a key
    index = await http.get(f"{workspace.base_url}/")
    module = await http.get(f"{workspace.base_url}/js/app.js")
    style = await http.get(f"{workspace.base_url}/style.css")
    missing = await http.get(f"{workspace.base_url}/js/nothing.js")

    # then each has its type, and the policy allows this service only
    assert index.status_code == 200 and index.headers["content-type"].startswith("text/html")
    assert module.headers["content-type"].startswith("text/javascript")
    assert style.headers["content-type"].startswith("text/css")
    assert "default-src 'self'" in index.headers["content-security-policy"]
    assert missing.status_code == 404


async def test_the_explorer_page_loads_graphiql_from_the_service(
    workspace: Workspace, http: httpx.AsyncClient
) -> None:
    # when a browser opens /graphql
    page = await http.get(f"{workspace.base_url}/graphql", headers={"Accept": "text/html"})

    # then it is the studio's explorer, whose scripts are all served here
    assert page.status_code == 200
    assert 'src="/vendor/graphiql.min.js"' in page.text
    assert EXTERNAL.search(page.text) is None
    vendored = await http.get(f"{workspace.base_url}/vendor/graphiql.min.js")
    assert vendored.status_code == 200
    assert vendored.headers["content-type"].startswith("text/javascript")


async def test_queries_still_need_a_key(workspace: Workspace, http: httpx.AsyncClient) -> None:
    response = await http.post(
        f"{workspace.base_url}/graphql", json={"query": "{ viewer { role } }"}
    )
    assert response.status_code == 401


def test_no_studio_file_of_ours_names_another_host() -> None:
    # given every hand-written file of the studio (vendor/ is checked by copy-vendor.mjs)
    ours = [p for p in WEB.rglob("*") if p.is_file() and "vendor" not in p.parts]
    assert ours

    # then none loads anything from elsewhere
    offenders = [str(p) for p in ours if EXTERNAL.search(p.read_text())]
    assert offenders == []


async def test_a_post_to_an_unknown_path_is_not_found(
    workspace: Workspace, http: httpx.AsyncClient
) -> None:
    # when a path no route and no studio file answers is posted to, and a studio file too
    unknown = await http.post(f"{workspace.base_url}/no/such/route", json={})
    file = await http.post(f"{workspace.base_url}/js/app.js", json={})

    # then the unknown path is 404, and only the file that exists refuses the method
    assert unknown.status_code == 404
    assert file.status_code == 405 and file.headers["allow"] == "GET, HEAD"


def test_the_wheel_ships_the_studio_where_the_installed_app_looks() -> None:
    # given the wheel's build config
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    wheel = config["tool"]["hatch"]["build"]["targets"]["wheel"]

    # then studio/web/ goes inside the api package, under the name api/studio.py looks for
    assert "api" in wheel["packages"]
    assert wheel["force-include"]["studio/web"] == f"api/{PACKAGED}"
    assert WEB == ROOT / "studio" / "web"  # a checkout (no api/studio_web) serves its own


def test_an_installed_app_serves_the_files_inside_its_package(tmp_path: Path) -> None:
    # given an installed layout: site-packages/api/studio_web/index.html, no studio/ beside it
    package = tmp_path / "site-packages" / "api"
    (package / PACKAGED).mkdir(parents=True)
    (package / PACKAGED / "index.html").write_text("<!doctype html>")

    # then that is where the studio's files are found
    assert web_root(package) == package / PACKAGED
