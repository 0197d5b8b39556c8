"""An outside person negotiates through the portal on a phone, in Debian's Chromium:
opens the invite link, counters twice (our built-in buyer answers in the same
request), accepts; the deal lands in the approver's inbox. The pages are
screenshotted (test-artifacts/portal/, git-ignored) at phone and desktop width,
with no Content-Security-Policy violation and no sideways scrolling."""

from __future__ import annotations

import json

import pytest

from tests.browser.test_csp import RECORD_VIOLATIONS
from tests.conftest import REPO

pytestmark = [pytest.mark.browser]

PASSWORD = "portal-approver-1"
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1366, "height": 900}
SHOTS = REPO / "test-artifacts" / "portal"


@pytest.fixture
def world(transactional_db, live_server):
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    from approvals.models import ApprovalRoute, ConditionKind
    from negotiator.playbook_io import playbook_import
    from negotiator.services.invites import Invitee, negotiation_create_with_seats
    from negotiator.services.roles import roles_ensure
    from negotiator.services.rounds import negotiation_run_round
    from negotiator.services.scheduling import rounds_held

    roles_ensure()
    playbook = playbook_import(json.loads((REPO / "playbooks" / "procurement.json").read_text()))
    approvers = Group.objects.get(name="Approvers")
    ApprovalRoute.objects.create(
        name="Every component order",
        condition_kind=ConditionKind.DEAL_VALUE_ABOVE,
        threshold=50_000,
        approver_group=approvers,
        sla_hours=24,
    )
    approver = get_user_model().objects.create_user("anna", password=PASSWORD)
    approver.groups.add(approvers)
    with rounds_held():
        negotiation, issued = negotiation_create_with_seats(
            playbook=playbook,
            seats={"seller": "person"},
            invitees={"seller": Invitee("Sam Supplier", "sam@globex.example")},
            base_url=live_server.url,
            title="Q3 components order",
            seed=3,
        )
        negotiation_run_round(negotiation_id=negotiation.pk, round_number=0)
    return {"negotiation": negotiation, "link": issued[0].link, "approver": approver}


def no_sideways_scroll(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def counter(page, price: int, delivery: int, warranty: int, message: str) -> None:
    page.fill("#id_term_price", str(price))
    page.fill("#id_term_delivery_days", str(delivery))
    page.fill("#id_term_warranty_months", str(warranty))
    page.fill("#id_message", message)
    with page.expect_navigation():
        page.click("#send-counter")


def test_a_person_counters_twice_and_accepts_on_a_phone(chromium, live_server, world):
    from negotiator.models import Offer

    negotiation = world["negotiation"]
    context = chromium.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True)
    context.add_init_script(RECORD_VIOLATIONS)
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.on("dialog", lambda dialog: dialog.accept())

    response = page.goto(world["link"])
    assert response is not None and response.status == 200
    assert "Your turn" in page.locator("#portal-status").inner_text()
    assert "85,000 USD" in page.locator("#on-table").inner_text()
    assert page.input_value("#id_term_price") == "85000"  # prefilled with the offer
    assert no_sideways_scroll(page)
    shot(page, "phone-1-your-turn")

    # A value off the playbook's steps: refused in place, nothing sent.
    offers = Offer.objects.filter(negotiation=negotiation).count()
    page.fill("#id_term_price", "112500")
    with page.expect_navigation():
        page.click("#send-counter")
    assert "in steps of 1,000" in page.locator("#field-price .field-error").inner_text()
    assert page.input_value("#id_term_price") == "112500"  # what they typed stays
    assert Offer.objects.filter(negotiation=negotiation).count() == offers
    assert no_sideways_scroll(page)
    shot(page, "phone-2-error-in-place")

    counter(page, 118_000, 15, 12, "Our list price for this volume.")
    result = page.locator("#portal-result").inner_text()
    assert "Your counteroffer was sent." in result
    assert "answered with a counteroffer" in result
    shot(page, "phone-3-first-answer")

    counter(page, 110_000, 10, 12, "We can meet you halfway on price.")
    assert "Your counteroffer was sent." in page.locator("#portal-result").inner_text()
    on_table = page.locator("#on-table").inner_text()
    assert "The offer on the table" in on_table

    with page.expect_navigation():
        page.click("#accept")  # confirms in a dialog (accepted above)
    assert "You accepted the offer." in page.locator("#portal-result").inner_text()
    status = page.locator("#portal-status").inner_text()
    assert "Agreed." in status and "waits for approval" in status
    assert page.locator("#answer").count() == 0  # nothing more to answer
    assert no_sideways_scroll(page)
    shot(page, "phone-4-agreed")

    senders = list(
        Offer.objects.filter(negotiation=negotiation)
        .order_by("id")
        .values_list("sender", "performative")
    )
    assert senders == [
        ("buyer", "propose"),
        ("seller", "counter"),
        ("buyer", "counter"),
        ("seller", "counter"),
        ("buyer", "counter"),
        ("seller", "accept"),
    ]
    negotiation.refresh_from_db()
    assert negotiation.status == "pending_approval"
    request = negotiation.approval_requests.get()

    desktop = chromium.new_context(viewport=DESKTOP)
    desktop.add_init_script(RECORD_VIOLATIONS)
    wide = desktop.new_page()
    wide.set_default_timeout(15_000)
    wide.goto(world["link"])
    assert no_sideways_scroll(wide)
    shot(wide, "desktop-agreed")

    # The approver finds the deal in their inbox.
    wide.goto(f"{live_server.url}/login/?next=/approvals/")
    wide.fill("#id_username", "anna")
    wide.fill("#id_password", PASSWORD)
    wide.click("button[type=submit]")
    wide.wait_for_url(f"{live_server.url}/approvals/")
    row = wide.locator(f"tr[data-request='{request.pk}']")
    assert "Q3 components order" in row.inner_text()
    shot(wide, "desktop-approver-inbox")

    assert page.evaluate("window.__csp") == []
    assert wide.evaluate("window.__csp") == []
    context.close()
    desktop.close()


@pytest.fixture
def operator(transactional_db):
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    from negotiator.playbook_io import playbook_import
    from negotiator.services.roles import roles_ensure

    roles_ensure()
    playbook = playbook_import(json.loads((REPO / "playbooks" / "procurement.json").read_text()))
    user = get_user_model().objects.create_user("olga", password=PASSWORD)
    user.groups.add(Group.objects.get(name="Operators"), playbook.team)
    return {"user": user, "playbook": playbook}


def test_an_operator_invites_a_person_sees_the_link_once_and_manages_it(
    chromium, live_server, operator, mailoutbox
):
    from negotiator.models import Negotiation, SeatCredential
    from negotiator.services.rounds import negotiation_run_round

    base = live_server.url
    context = chromium.new_context(viewport=DESKTOP)
    context.add_init_script(RECORD_VIOLATIONS)
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.on("dialog", lambda dialog: dialog.accept())
    page.goto(f"{base}/login/?next=/negotiations/new/")
    page.fill("#id_username", "olga")
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/negotiations/new/")

    page.select_option("#id_playbook", str(operator["playbook"].pk))
    seat = page.locator("select[name=seat_seller]")
    seat.wait_for()
    # Only the kinds the playbook's role allows; our own buyer has no choice.
    assert page.locator("select[name=seat_buyer]").count() == 0
    assert seat.locator("option").all_inner_texts() == [
        "Built-in strategy",
        "Outside agent (A2A)",
        "Outside person (portal)",
    ]
    invitee = page.locator("#id_invitee_email_seller")
    assert not invitee.is_visible()  # shown only for a person seat
    seat.select_option("person")
    assert invitee.is_visible()
    page.fill("#id_title", "Q3 components order")
    page.fill("#id_invitee_name_seller", "Sam Supplier")
    invitee.fill("sam@globex.example")
    shot(page, "desktop-new-with-person-seat")
    with page.expect_navigation():
        page.click("button:has-text('Start negotiation')")

    link = page.input_value("#credentials input.secret")
    assert link.startswith(f"{base}/portal/ni_")
    assert "shown only this once" in page.locator("#credentials").inner_text()
    assert "E-mailed to sam@globex.example" in page.locator("#credentials").inner_text()
    assert [m.to for m in mailoutbox] == [["sam@globex.example"]] and link in mailoutbox[0].body
    page.click("#credentials button[data-copy]")
    page.locator("#credentials button[data-copy]", has_text="Cop").first.wait_for()
    shot(page, "desktop-link-shown-once")

    negotiation = Negotiation.objects.get(title="Q3 components order")
    negotiation_run_round(negotiation_id=negotiation.pk, round_number=0)
    page.click("text=Open the negotiation")
    page.wait_for_url(f"{base}/negotiations/{negotiation.pk}/")
    turn = page.locator("#turn").inner_text()
    assert "Supplier (Globex Components)" in turn and "outside person" in turn and "due" in turn
    assert link not in page.content()  # never shown again
    seats = page.locator("#outside-seats")
    assert "Sam Supplier" in seats.inner_text() and "active" in seats.inner_text()
    shot(page, "desktop-detail-outside-seat")

    # A new link, shown once in place (htmx); then the first one is revoked.
    seats.locator("button", has_text="Send a new invite link").click()
    page.locator("#outside-seats .issued input.secret").wait_for()
    second = page.input_value("#outside-seats .issued input.secret")
    assert second != link and len(mailoutbox) == 2
    first = SeatCredential.objects.order_by("pk").first()
    page.locator(f"#credential-{first.pk} button", has_text="Revoke").click()
    page.locator(f"#credential-{first.pk} .badge-cred-revoked").wait_for()
    shot(page, "desktop-detail-revoked")
    page.set_viewport_size(PHONE)
    page.reload()
    assert no_sideways_scroll(page)
    shot(page, "phone-detail-outside-seat")
    page.goto(f"{base}/negotiations/new/?playbook={operator['playbook'].pk}")
    page.select_option("select[name=seat_seller]", "person")
    shot(page, "phone-new-with-person-seat")
    assert no_sideways_scroll(page)

    phone = chromium.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True)
    visitor = phone.new_page()
    response = visitor.goto(link)
    assert response is not None and response.status == 404
    assert "does not open a negotiation" in visitor.inner_text("#not-found")
    shot(visitor, "phone-revoked-link")
    assert visitor.goto(second).status == 200
    assert page.evaluate("window.__csp") == []
    phone.close()
    context.close()
