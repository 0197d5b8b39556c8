"""An outside person bids in a tender on a phone, in Debian's Chromium: opens the
bid link, gets an error in place, bids, sees that its bid stands after the round,
bids again lower, and wins; the award waits in the approver's inbox. Screenshots
in test-artifacts/tender-bid/ (git-ignored); no Content-Security-Policy violation
and no sideways scrolling."""

from __future__ import annotations

import pytest

from tests.browser.test_csp import RECORD_VIOLATIONS
from tests.browser.test_portal_browser import DESKTOP, PHONE, no_sideways_scroll
from tests.conftest import REPO
from tests.tenders.conftest import tender_document

pytestmark = [pytest.mark.browser]

PASSWORD = "bid-approver-1"
SHOTS = REPO / "test-artifacts" / "tender-bid"


@pytest.fixture
def invited(transactional_db, live_server):
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    from approvals.models import ApprovalRoute
    from negotiator.services.roles import roles_ensure
    from negotiator.services.scheduling import rounds_held
    from tenders.services.outside import tender_create_with_outside
    from tenders.services.setup import tender_playbook_import

    roles_ensure()
    approvers = Group.objects.get_or_create(name="Approvers")[0]
    ApprovalRoute.objects.create(
        name="Every award", condition_kind="always", is_default=True, approver_group=approvers
    )
    approver = get_user_model().objects.create_user("anna", password=PASSWORD)
    approver.groups.add(approvers, Group.objects.get_or_create(name="Procurement")[0])
    template = tender_playbook_import(tender_document())
    with rounds_held():
        tender, [issued] = tender_create_with_outside(
            template=template,
            base_url=live_server.url,
            title="Q4 flange bolts",
            outside=[
                {
                    "supplier": "Harbor Bolt Works",
                    "kind": "person",
                    "name": "Ana",
                    "email": "ana@harbor.example",
                }
            ],
            seed=9,
        )
    return tender, issued.link


def shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def bid(page, price: int, delivery: int, warranty: int) -> None:
    page.fill("#id_term_price", str(price))
    page.fill("#id_term_delivery_days", str(delivery))
    page.fill("#id_term_warranty_months", str(warranty))
    with page.expect_navigation():
        page.click("#send-bid")


def test_a_person_bids_twice_on_a_phone_and_the_award_reaches_the_inbox(
    chromium, live_server, invited
):
    from approvals.models import ApprovalRequest
    from tenders.models import TenderStatus
    from tenders.services.rounds import tender_run_round
    from tests.tenders.conftest import run_tender

    tender, link = invited
    context = chromium.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True)
    context.add_init_script(RECORD_VIOLATIONS)
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.on("dialog", lambda dialog: dialog.accept())

    assert page.goto(link).status == 200
    assert "Bidding is open: round 1" in page.locator("#bid-status").inner_text()
    assert page.input_value("#id_term_price") == "160000"  # the opening price
    assert no_sideways_scroll(page)
    shot(page, "phone-1-open")

    bid(page, 10, 20, 24)  # below the price range: refused in place
    assert "outside 80000" in page.locator("#field-price .field-error").inner_text()
    assert page.input_value("#id_term_price") == "10"
    shot(page, "phone-2-error-in-place")

    bid(page, 140_000, 15, 36)
    assert "Your bid is in" in page.locator("#bid-result").inner_text()
    assert "140,000" in page.locator("#pending").inner_text()
    shot(page, "phone-3-bid-in")

    assert tender_run_round(tender_id=tender.pk, round_number=0)
    page.reload()
    assert "Your bid in round 1 stands." in page.locator("#bid-note").inner_text()
    assert "of 9" in page.locator("#rank").inner_text()
    assert "Bidding is open: round 2" in page.locator("#bid-status").inner_text()
    shot(page, "phone-4-round-2")

    bid(page, 90_000, 10, 36)
    assert "Your bid is in" in page.locator("#bid-result").inner_text()
    tender = run_tender(tender)
    assert tender.award_supplier == "Harbor Bolt Works"
    assert tender.status == TenderStatus.PENDING_APPROVAL
    page.reload()
    assert "award is being decided" in page.locator("#bid-status").inner_text()
    assert page.locator("#bid").count() == 0  # no more bids
    assert no_sideways_scroll(page)
    shot(page, "phone-5-closed")
    assert page.evaluate("window.__csp") == []

    request = ApprovalRequest.objects.get(negotiation=tender.award_negotiation)
    desktop = chromium.new_context(viewport=DESKTOP)
    wide = desktop.new_page()
    wide.set_default_timeout(15_000)
    wide.goto(f"{live_server.url}/login/?next=/approvals/")
    wide.fill("#id_username", "anna")
    wide.fill("#id_password", PASSWORD)
    wide.click("button[type=submit]")
    wide.wait_for_url(f"{live_server.url}/approvals/")
    assert "Q4 flange bolts" in wide.locator(f"tr[data-request='{request.pk}']").inner_text()
    wide.goto(f"{live_server.url}/tenders/{tender.pk}/")
    assert "Harbor Bolt Works" in wide.locator("#outside-bidders").inner_text()
    shot(wide, "desktop-tender")
