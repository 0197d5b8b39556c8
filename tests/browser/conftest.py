"""One way to get a browser for every browser test: Debian's Chromium through
Playwright (never a downloaded browser).

Missing Chromium or Playwright skips the browser tests on a developer's machine
only: `.ci/run` sets NEGOTIATOR_BROWSER=required, and CI systems set CI=true;
either turns that into a failure, so CI never skips them.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("NEGOTIATOR_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--headless",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]


def _browser_required() -> bool:
    """CI (``.ci/run`` sets NEGOTIATOR_BROWSER=required; CI systems set CI=true)
    must run the browser tests, never skip them."""
    required = os.environ.get("NEGOTIATOR_BROWSER", "").lower() == "required"
    return required or os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def _unavailable(reason: str) -> None:
    if _browser_required():
        pytest.fail(f"{reason}; browser tests are required here (CI)")
    # Only on a developer machine without Debian's Chromium: CI fails instead.
    pytest.skip(f"{reason} (set NEGOTIATOR_BROWSER=required to fail instead)")


@pytest.fixture(scope="module")
def chromium():
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        _unavailable(f"Chromium not found at {CHROMIUM}")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:  # pragma: no cover - it is in requirements.txt
        _unavailable(f"playwright is not installed: {exc}")
    # Playwright's sync API runs an event loop in this thread; the ORM calls the
    # tests make between browser steps are still plain synchronous code.
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                yield browser
            finally:
                browser.close()
