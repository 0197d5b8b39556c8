"""The live dashboard in a real browser: Debian Chromium through Playwright, a live
server in this process and a real Celery worker subprocess running the rounds.

Start a negotiation from the form, watch offers arrive without a reload, open
its audit trail, see the chain verified and export it. A screenshot is saved to
test-artifacts/ when a step fails. With NEGOTIATOR_BROWSER=required (CI) a
missing Chromium fails the run instead of skipping it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.conftest import REPO, celery_worker

pytestmark = [pytest.mark.browser, pytest.mark.worker]

ARTIFACTS = REPO / "test-artifacts"
PASSWORD = "browser-pass-1"


@contextmanager
def screenshot_on_failure(page, name: str) -> Iterator[None]:
    try:
        yield
    except BaseException:
        ARTIFACTS.mkdir(exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        try:
            page.screenshot(path=str(path), full_page=True)
            (ARTIFACTS / f"{name}.html").write_text(page.content())
        except Exception:  # the page may be gone; the original error matters
            pass
        raise


@pytest.fixture
def operator(transactional_db):
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    from negotiator.services.roles import roles_ensure

    roles_ensure()
    user = get_user_model().objects.create_user(username="opal", password=PASSWORD)
    procurement_team, _ = Group.objects.get_or_create(name="Procurement")
    # An operator of the team that owns the procurement playbook (and an auditor).
    user.groups.add(
        Group.objects.get(name="Operators"), Group.objects.get(name="Auditors"), procurement_team
    )
    return user


@pytest.fixture
def procurement_playbook(transactional_db):
    from negotiator.playbook_io import playbook_import

    document = json.loads((REPO / "playbooks" / "procurement.json").read_text())
    return playbook_import(document)


def log_in(page, base: str) -> None:
    page.goto(f"{base}/login/")
    page.fill("#id_username", "opal")
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/")


def test_start_watch_live_audit_and_export(
    chromium, live_server, worker_env, tmp_path, operator, procurement_playbook
):
    from negotiator.models import Negotiation

    base = live_server.url
    context = chromium.new_context(viewport={"width": 1366, "height": 900}, accept_downloads=True)
    page = context.new_page()
    with celery_worker(tmp_path, worker_env), screenshot_on_failure(page, "live_dashboard"):
        log_in(page, base)
        page.get_by_role("link", name="Start a negotiation").first.click()
        page.wait_for_url(f"{base}/negotiations/new/")

        # Choosing the playbook swaps in its roles and strategies (htmx).
        page.select_option("#id_playbook", str(procurement_playbook.pk))
        page.wait_for_selector("select[name=strategy_buyer]")
        assert page.locator("select[name=strategy_seller]").count() == 1
        page.fill("#id_title", "Browser order")
        page.fill("#id_max_rounds", "24")
        page.fill("#id_pace_seconds", "1")
        page.click("button:has-text('Start negotiation')")
        page.wait_for_url(f"{base}/negotiations/*/")
        negotiation = Negotiation.objects.get(title="Browser order")
        assert page.url.endswith(f"/negotiations/{negotiation.pk}/")

        # Offers arrive while we watch; a marker on window proves there was no reload.
        page.evaluate("window.__noReload = true")
        offers = page.locator("#timeline li.offer")
        # Locator waits, not wait_for_function: Playwright polls a string
        # predicate with eval, which the Content-Security-Policy refuses.
        offers.nth(1).wait_for(timeout=30_000)
        seen = offers.count()
        offers.nth(seen).wait_for(timeout=30_000)
        assert page.evaluate("window.__noReload") is True
        assert page.locator("#timeline-poller[hx-trigger]").count() == 1

        # It settles: the header updates in place and polling stops.
        page.locator("#negotiation-state .badge-running").wait_for(state="detached", timeout=90_000)
        assert page.evaluate("window.__noReload") is True
        negotiation.refresh_from_db()
        assert negotiation.status != "running"
        if negotiation.is_final:
            page.locator("#timeline-poller[hx-trigger]").wait_for(state="detached", timeout=10_000)
        ids = {
            int(i.split("-")[1])
            for i in page.locator("#timeline li.offer").evaluate_all("els => els.map(e => e.id)")
        }
        assert len(ids) == page.locator("#timeline li.offer").count()  # no duplicates

        # Audit trail: verified, and exported.
        page.click("a:has-text('Audit trail')")
        page.wait_for_url(f"{base}/negotiations/{negotiation.pk}/audit/")
        assert "Chain verified" in page.locator("#chain-status").inner_text()
        with page.expect_download() as download_info:
            page.click("a:has-text('Export JSON')")
        exported = json.loads(Path(download_info.value.path()).read_text())
        assert exported["verification"]["ok"] is True
        assert exported["events"][0]["kind"] == "negotiation.created"
        with page.expect_download() as download_info:
            page.click("a:has-text('Export CSV')")
        csv_text = Path(download_info.value.path()).read_text()
        assert csv_text.startswith("seq,created_at,kind,actor,payload")
    context.close()
