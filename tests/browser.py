"""The system Chromium (Debian's package, never a browser downloaded by playwright) for the
browser tests: skipped with a loud notice where it is missing, a failure under CI=true."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path(os.environ.get("RISKWATCH_TEST_CHROMIUM", "/usr/lib/chromium/chromium"))


def missing_browser() -> str | None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed (pip install -e '.[dev]')"
    if not CHROMIUM.exists():
        return f"no Chromium at {CHROMIUM} (apt-get install -y chromium)"
    return None


def launch_chromium(what: str) -> Iterator[Any]:
    """A headless Chromium for the tests of ``what`` (use as a fixture's body)."""
    missing = missing_browser()
    if missing:
        if os.environ.get("CI") == "true":
            pytest.fail(f"the {what} must run under CI=true: {missing}")
        print(f"\n!!! {what} SKIPPED: {missing} !!!\n")
        pytest.skip(missing)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                              args=["--no-sandbox"])
        yield chromium
        chromium.close()
