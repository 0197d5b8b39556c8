"""The tender page and a flagged award in the approval inbox, in Debian's
Chromium through Playwright: a procurement member reads the ladder, the screens
and why the award waits; the approver finds it in the inbox, reads the flags and
rejects it; no Content-Security-Policy violation on the way."""

from __future__ import annotations

import pytest

from tests.browser.test_csp import RECORD_VIOLATIONS
from tests.tenders.conftest import RING, tender_document

pytestmark = [pytest.mark.browser]

PASSWORD = "browser-pass-1"


@pytest.fixture
def flagged(transactional_db):
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    from approvals.models import ApprovalRoute
    from negotiator.services.roles import roles_ensure
    from negotiator.services.scheduling import rounds_held
    from tenders.services.lifecycle import tender_create
    from tenders.services.setup import tender_playbook_import
    from tests.tenders.conftest import run_tender

    roles_ensure()
    approvers = Group.objects.get_or_create(name="Approvers")[0]
    procurement = Group.objects.get_or_create(name="Procurement")[0]
    ApprovalRoute.objects.create(
        name="Everything else", condition_kind="always", is_default=True, approver_group=approvers
    )
    user = get_user_model().objects.create_user("anna", password=PASSWORD)
    user.groups.add(approvers, procurement)
    template = tender_playbook_import(tender_document())
    with rounds_held():
        tender = tender_create(
            template=template,
            title="Bolts, ring",
            bidders=RING,
            overrides={"format": "first_score"},
        )
    return run_tender(tender), user


def test_the_tender_page_and_the_flagged_award_in_the_inbox(chromium, live_server, flagged):
    tender, user = flagged
    page = chromium.new_page()
    page.set_default_timeout(20_000)
    page.add_init_script(RECORD_VIOLATIONS)
    try:
        page.goto(f"{live_server.url}/login/?next=/tenders/")
        page.fill("#id_username", user.username)
        page.fill("#id_password", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(f"{live_server.url}/tenders/")
        page.get_by_role("link", name="Bolts, ring").click()
        page.wait_for_url(f"{live_server.url}/tenders/{tender.pk}/")
        assert page.locator(".ladder svg circle").count() == 4
        assert "Apex Industrial Supply" in page.locator("#award").inner_text()
        assert "Screens flagged" in page.locator("#award").inner_text()
        shared = page.locator("tr[data-screen='shared_owner']")
        assert shared.locator(".light-red").count() == 1
        assert "share an owner" in shared.inner_text()
        violations = page.evaluate("window.__csp")

        page.get_by_role("link", name="Approvals").first.click()
        page.wait_for_url(f"{live_server.url}/approvals/")
        page.locator("a", has_text="Tender award: Bolts, ring").first.click()
        why = page.locator("#why")
        assert "Bid-rigging screens" in why.inner_text()
        assert "Shared owner or contact" in why.inner_text()
        assert "Suspicion score" in why.inner_text()
        violations += page.evaluate("window.__csp")
        page.get_by_role("link", name=f"Tender #{tender.pk}").click()
        page.wait_for_url(f"{live_server.url}/tenders/{tender.pk}/")
        violations += page.evaluate("window.__csp")
    finally:
        page.close()
    assert violations == []
