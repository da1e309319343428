"""Browser tests: Debian's chromium, driven by Playwright, against the real server.

Playwright's async API runs on the session's event loop, beside the server the API
tests use (tests/conftest.py `server`: the real app under uvicorn on a free port, on
the test database); its sync API would hold a running loop in the main thread for the
whole session and break every async test after it. pytest-playwright still supplies
the launch options (`--headed`, `--slowmo`, `--browser-channel`). Each test gets a
fresh workspace with one key per role, and a page on which any request to a host
other than the service is refused (and fails the test). Screenshots go to
tests/artifacts/ (git-ignored). Without chromium a dev machine skips with the reason;
on CI (`CI` set) the tests fail instead.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, Page, Route, async_playwright

from domain.access import Role
from tests.conftest import ROOT, Workspace

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = ROOT / "tests" / "artifacts"
TIMEOUT_MS = 10_000


@pytest.fixture(scope="session")
def base_url() -> None:
    """pytest-base-url's, which pytest warns about (a session fixture as a method); these
    tests use the URL of the server they start."""
    return None


@pytest.fixture(scope="session")
async def chromium(browser_type_launch_args: dict[str, Any]) -> AsyncIterator[Browser]:
    if not CHROMIUM.exists():
        reason = f"{CHROMIUM} is missing: run `apt-get install -y chromium`"
        if os.environ.get("CI"):
            pytest.fail(reason)
        print(f"\nskipping browser tests: {reason}")
        pytest.skip(reason)
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            **browser_type_launch_args, executable_path=str(CHROMIUM)
        )
        yield browser
        await browser.close()


@pytest.fixture
async def page(chromium: Browser, server: str) -> AsyncIterator[Page]:
    """A fresh browser context's page that may reach the service and nothing else."""
    served = httpx.URL(server)
    refused: list[str] = []

    async def only_the_service(route: Route) -> None:
        url = httpx.URL(route.request.url)
        if (url.host, url.port) == (served.host, served.port) or url.scheme == "data":
            await route.continue_()
        else:
            refused.append(route.request.url)
            await route.abort()

    context = await chromium.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    await context.route("**/*", only_the_service)
    page = await context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(str(error)))
    yield page
    await context.close()
    assert refused == [], f"the page asked for other hosts: {refused}"
    assert problems == [], f"the page threw: {problems}"


async def sign_in(page: Page, ws: Workspace, role: Role = Role.WRITE) -> None:
    await page.goto(f"{ws.base_url}/#/signin")
    await page.fill("#api-key", ws.keys[role])
    await page.click("button[type=submit]")
    await page.wait_for_selector("#segment-search")


async def screenshot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
