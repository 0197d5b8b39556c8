"""The API docs page in Debian's Chromium: Swagger UI renders every operation
under the site's Content-Security-Policy with no violation, and every request the
page makes goes to our own server (nothing from a CDN or the internet)."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from tests.browser.test_csp import RECORD_VIOLATIONS
from tests.conftest import wait_for

pytestmark = [pytest.mark.browser]
PASSWORD = "browser-pass-1"


def test_the_api_docs_render_under_the_csp_with_nothing_from_outside(
    chromium, live_server, transactional_db
):
    from django.contrib.auth import get_user_model

    get_user_model().objects.create_user("ann", password=PASSWORD)
    base = live_server.url
    context = chromium.new_context(viewport={"width": 1366, "height": 900})
    context.add_init_script(RECORD_VIOLATIONS)
    page = context.new_page()
    page.set_default_timeout(20_000)
    requested: list[str] = []
    page.on("request", lambda r: requested.append(r.url))
    console: list[str] = []
    page.on("console", lambda m: console.append(m.text) if m.type == "error" else None)

    page.goto(f"{base}/login/?next=/api/docs")
    page.fill("#id_username", "ann")
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/api/docs")
    response = page.goto(f"{base}/api/docs")
    assert response is not None and response.status == 200
    assert "script-src 'self'" in response.headers["content-security-policy"]
    page.wait_for_selector("#swagger-ui .opblock", state="attached")
    page.wait_for_load_state("networkidle")

    summaries = page.locator("#swagger-ui .opblock .opblock-summary-path").all_inner_texts()
    paths = {s.replace("\u200b", "").strip() for s in summaries}
    for expected in (
        "/api/negotiations",
        "/api/negotiations/{negotiation_id}",
        "/api/negotiations/{negotiation_id}/audit",
        "/api/approvals/{approval_id}/decision",
        "/api/playbooks",
    ):
        assert expected in paths, (expected, sorted(paths))
    assert page.locator("#swagger-ui .btn.authorize").count() == 1

    # Opening an operation renders its parameters and schemas (more of Swagger's UI).
    page.locator("#swagger-ui .opblock-summary").first.click()
    page.wait_for_selector("#swagger-ui .opblock-body", state="attached")
    violations = page.evaluate("window.__csp")
    refused = [m for m in console if "Content Security Policy" in m or "Refused" in m]

    # The recorder works here too: an inline script is reported.
    page.evaluate(
        "var s = document.createElement('script'); s.textContent = 'window.__ran = 1';"
        "document.body.appendChild(s);"
    )
    caught = wait_for(lambda: page.evaluate("window.__csp.length") > len(violations) and 1)
    assert caught and page.evaluate("window.__ran === undefined")
    context.close()

    own = urlsplit(base).netloc
    outside = [
        u
        for u in requested
        if urlsplit(u).scheme in {"http", "https"} and urlsplit(u).netloc != own
    ]
    assert outside == []
    assert any(u.endswith("/static/ninja/swagger-ui-bundle.js") for u in requested)
    assert any(u.endswith("/api/openapi.json") for u in requested)
    assert violations == []
    assert refused == []
