"""The Content-Security-Policy header, and templates that need nothing it forbids
(no inline script, event handler, hx-on, eval'd trigger filter or style attribute).
tests/browser/test_csp.py loads the pages in Chromium and listens for violations."""

from __future__ import annotations

import re

import pytest

from negotiator.selectors.negotiations import PARTY_COLOURS
from negotiator.templatetags.negotiator_ui import party_class, progress_fill
from tests.conftest import REPO
from tests.negotiator.test_views import make_user

POLICY = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    "img-src": "'self'",
    "font-src": "'self'",
    "connect-src": "'self'",
    "object-src": "'none'",
    "base-uri": "'self'",
    "frame-ancestors": "'none'",
    "form-action": "'self'",
}
TEMPLATES = sorted((REPO / "templates").rglob("*.html"))


def directives(header: str) -> dict[str, str]:
    return dict(part.strip().split(" ", 1) for part in header.split(";") if part.strip())


@pytest.mark.django_db
@pytest.mark.parametrize("url", ["/login/", "/", "/negotiations/", "/approvals/", "/admin/"])
def test_every_page_carries_the_policy(client, url):
    if url != "/login/":
        client.force_login(make_user("root", superuser=True))
    response = client.get(url)
    assert response.status_code == 200
    assert directives(response["Content-Security-Policy"]) == POLICY
    assert response["X-Frame-Options"] == "DENY"


@pytest.mark.django_db
def test_json_and_errors_carry_it_too(client):
    assert "default-src 'self'" in client.get("/healthz")["Content-Security-Policy"]
    client.force_login(make_user("root", superuser=True))
    missing = client.get("/negotiations/987654/")
    assert missing.status_code == 404
    assert "script-src 'self'" in missing["Content-Security-Policy"]


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda p: str(p.relative_to(REPO)))
def test_templates_have_no_inline_script_or_style(path):
    text = re.sub(r"\{#.*?#\}", "", path.read_text())  # comments may name what is banned
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", text), "inline <script>"
    assert not re.search(r"\sstyle=", text), "style attribute"
    assert "<style" not in text, "<style> element"
    assert not re.search(r"\son[a-z]+=", text), "inline event handler"
    assert "hx-on" not in text, "hx-on needs eval"
    assert not re.search(r'hx-trigger="[^"]*\[', text), "trigger filters need eval"
    assert "javascript:" not in text and "js:" not in text


def test_templates_were_found():
    assert len(TEMPLATES) >= 15


def test_party_colours_are_classes_in_the_stylesheet():
    css = (REPO / "static" / "css" / "app.css").read_text()
    for i, colour in enumerate(PARTY_COLOURS):
        assert party_class(colour) == f"party-{i}"
        assert f".party-{i} {{ --party: {colour}; }}" in css
    assert party_class("#123456") == "party-other" and ".party-other {" in css


def test_a_progress_bar_is_svg_geometry_not_a_style():
    assert 'width="42"' in progress_fill(42)
    assert 'width="100"' in progress_fill(250) and 'width="0"' in progress_fill(None)
    assert "style" not in progress_fill(42)
