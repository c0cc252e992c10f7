"""/docs renders in a real headless Chromium with no internet: every request that leaves
the machine is blocked, and the page must still show the operations of every service."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from tests.browser import launch_chromium
from tests.stack import SERVICES, Stack


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    yield from launch_chromium("/docs browser test")


def rendered_paths(browser: Any, url: str) -> tuple[set[str], list[str]]:
    """The operation paths Swagger UI shows at ``url``, and the requests that were blocked
    because they left the machine."""
    blocked: list[str] = []
    page = browser.new_page()

    def offline(route: Any) -> None:
        if urlsplit(route.request.url).hostname in ("127.0.0.1", "localhost"):
            route.continue_()
        else:
            blocked.append(route.request.url)
            route.abort()

    page.route("**/*", offline)
    try:
        page.goto(url)
        page.wait_for_selector(".opblock-summary-path", timeout=30_000)
        paths = page.eval_on_selector_all(
            ".opblock-summary-path", "nodes => nodes.map(n => n.getAttribute('data-path'))")
    finally:
        page.close()
    return set(paths), blocked


def test_gateway_docs_render_every_service_offline(live: Stack, browser: Any) -> None:
    shown, blocked = rendered_paths(browser, f"{live.gateway}/docs")
    assert blocked == [], f"/docs reached out of the machine: {blocked}"
    for service in SERVICES:
        own = httpx.get(f"{live.url(service)}/openapi.json").json()["paths"]
        missing = {p for p in own if p.startswith("/v1/")} - shown
        assert not missing, f"{service} operations missing from /docs: {sorted(missing)}"
    assert "/healthz" in shown


# The cockpit serves pages, not an API: it has no /docs of its own.
@pytest.mark.parametrize("service", [s for s in SERVICES if s != "cockpit"])
def test_each_service_docs_render_offline(live: Stack, browser: Any, service: str) -> None:
    shown, blocked = rendered_paths(browser, f"{live.url(service)}/docs")
    assert blocked == []
    own = httpx.get(f"{live.url(service)}/openapi.json").json()["paths"]
    assert set(own) <= shown
