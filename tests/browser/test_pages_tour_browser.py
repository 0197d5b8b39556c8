"""Every page at phone width (390 x 844) without sideways scrolling, the collapsible
nav, and the audit page's filter, in Debian's Chromium.

With NEGOTIATOR_SCREENSHOTS=<folder> set (`make screenshots`), the tour also
saves a desktop and a phone screenshot of every page there."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.approvals.conftest import (  # noqa: F401 - fixtures shared with tests/approvals
    PASSWORD,
    agree,
    groups,
    make_route,
    people,
    playbook,
)

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}


def log_in(page, base: str, user) -> None:
    page.goto(f"{base}/login/")
    page.fill("#id_username", user.username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/")


def tour_urls(negotiation, request) -> list[tuple[str, str, int]]:
    """(name, path, expected status) of every page a person reaches."""
    n = negotiation.pk
    return [
        ("home", "/", 200),
        ("negotiations", "/negotiations/", 200),
        ("negotiations-filtered", "/negotiations/?status=pending_approval", 200),
        ("new-negotiation", "/negotiations/new/", 200),
        ("negotiation", f"/negotiations/{n}/", 200),
        ("audit-trail", f"/negotiations/{n}/audit/", 200),
        ("compare-offers", f"/negotiations/{n}/compare/", 200),
        ("audit-status", "/audit/", 200),
        ("inbox", "/approvals/?status=all", 200),
        ("approval-request", f"/approvals/{request.pk}/", 200),
        ("delegations", "/approvals/delegations/", 200),
        ("api-tokens", "/api/tokens/", 200),
        ("outcomes", "/outcomes/", 200),
        ("tenders", "/tenders/", 200),
        ("llm-comparison", "/llm/", 200),
        ("not-found", "/negotiations/999999/", 404),
    ]


@pytest.mark.django_db(transaction=True)
def test_every_page_fits_a_phone_and_the_nav_collapses(
    live_server,
    chromium,
    agree,  # noqa: F811
    make_route,  # noqa: F811
    people,  # noqa: F811
    groups,  # noqa: F811
):
    make_route(name="Large deals", threshold=90000)
    negotiation = agree()
    request = negotiation.approval_requests.get()
    admin = people["admin"]
    admin.groups.add(groups["Operators"])
    shots = os.environ.get("NEGOTIATOR_SCREENSHOTS")
    sizes = [("phone", PHONE), ("desktop", DESKTOP)] if shots else [("phone", PHONE)]
    overflowing = []
    for size_name, viewport in sizes:
        page = chromium.new_page(viewport=viewport)
        page.set_default_timeout(20_000)
        try:
            log_in(page, live_server.url, admin)
            for name, path, status in tour_urls(negotiation, request):
                response = page.goto(f"{live_server.url}{path}")
                assert response is not None and response.status == status, (path, response)
                width = page.evaluate("document.documentElement.scrollWidth")
                if size_name == "phone" and width > PHONE["width"]:
                    overflowing.append(f"{path}: {width}px")
                if shots:
                    Path(shots).mkdir(parents=True, exist_ok=True)
                    page.screenshot(path=f"{shots}/{name}-{size_name}.png", full_page=True)
            if size_name == "phone":
                page.goto(f"{live_server.url}/")
                assert not page.is_visible("#nav-menu")  # collapsed behind the Menu button
                page.click("[data-nav-toggle]")
                assert page.is_visible("#nav-menu")
                assert page.get_attribute("[data-nav-toggle]", "aria-expanded") == "true"
                page.click("#nav-menu a[href='/approvals/']")
                page.wait_for_url(f"{live_server.url}/approvals/")
        finally:
            page.close()
    assert overflowing == []


@pytest.mark.django_db(transaction=True)
def test_the_audit_page_filters_by_kind_and_round_and_searches(
    live_server,
    chromium,
    agree,  # noqa: F811
    make_route,  # noqa: F811
    people,  # noqa: F811
):
    from negotiator.models import AuditEvent

    make_route(name="Large deals", threshold=90000)
    negotiation = agree()
    events = AuditEvent.objects.filter(negotiation=negotiation)
    kind = "approval.requested"
    assert events.filter(kind=kind).count() == 1
    page = chromium.new_page()
    page.set_default_timeout(20_000)
    try:
        log_in(page, live_server.url, people["auditor"])
        page.goto(f"{live_server.url}/negotiations/{negotiation.pk}/audit/")
        page.select_option("#a-kind", kind)
        page.click("#audit-filters button[type=submit]")
        page.wait_for_url(f"**kind={kind}**")
        rows = page.locator("tbody tr[data-kind]")
        assert rows.count() == 1
        assert rows.first.get_attribute("data-kind") == kind
        assert "1 event match" in page.inner_text("#audit-count")
        hashes = rows.first.locator(".hash").inner_text()
        event = events.get(kind=kind)
        assert event.hash in hashes and event.prev_hash in hashes

        # Round 3 only: every row's payload names round 3.
        page.goto(f"{live_server.url}/negotiations/{negotiation.pk}/audit/?round=3")
        shown = page.locator("tbody tr[data-kind]").count()
        expected = sum(1 for e in events if e.payload.get("round") == 3)
        assert shown == expected > 0

        # A search for the route's name finds the approval request.
        page.fill("#a-q", "Large deals")
        page.select_option("#a-kind", "")
        page.fill("#a-round", "")
        page.click("#audit-filters button[type=submit]")
        page.wait_for_url("**q=Large+deals**")
        kinds = set(
            page.locator("tbody tr[data-kind]").evaluate_all(
                "rows => rows.map(r => r.dataset.kind)"
            )
        )
        assert kind in kinds
    finally:
        page.close()
