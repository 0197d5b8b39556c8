"""An approver logs in, opens the inbox, reads why a deal was escalated and approves it,
in Debian's Chromium driven by Playwright (never a downloaded browser)."""

from __future__ import annotations

import pytest

from tests.approvals.conftest import (  # noqa: F401 - fixtures shared with tests/approvals
    PASSWORD,
    agree,
    groups,
    make_route,
    people,
    playbook,
)


@pytest.fixture
def browser_page(chromium):
    page = chromium.new_page()
    page.set_default_timeout(15_000)
    try:
        yield page
    finally:
        page.close()


@pytest.mark.django_db(transaction=True)
def test_an_approver_reads_why_and_approves_in_the_browser(
    live_server,
    browser_page,
    agree,  # noqa: F811 - the shared fixture imported above
    make_route,  # noqa: F811
    people,  # noqa: F811
):
    from negotiator.audit import audit_verify_chain, chain_of

    make_route(name="Large deals", threshold=90000)
    negotiation = agree()
    request = negotiation.approval_requests.get()
    page = browser_page

    page.goto(f"{live_server.url}/login/?next=/approvals/")
    page.fill("#id_username", people["approver"].username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/approvals/")

    row = page.locator(f"tr[data-request='{request.pk}']")
    assert "Large deals" in row.inner_text()
    row.locator("a").first.click()
    page.wait_for_url(f"{live_server.url}/approvals/{request.pk}/")

    why = page.locator("#why").inner_text()
    assert "Large deals" in why
    assert "deal value > 90,000" in why
    assert "above the approval threshold" in why  # the policy result, with its message
    page.locator("#why details summary").first.click()
    assert "rule" in page.locator("#why details").first.inner_text()

    # Reject asks for confirmation, and a rejection without a reason is refused
    # in place (a 400 swapped into the panel), leaving the deal pending.
    dialogs = []
    page.once("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.accept()))
    page.click("#decision-panel button[value=reject]")
    page.wait_for_selector("#decision-panel .flash-error")
    assert dialogs and "Reject this deal?" in dialogs[0]
    assert "Say why you are rejecting" in page.locator("#decision-panel").inner_text()
    request.refresh_from_db()
    assert request.status == "pending"

    page.fill("#id_comment", "Within the budget line.")
    page.click("#decision-panel button[value=approve]")
    page.wait_for_selector("#decision-panel .banner-ok")
    panel = page.locator("#decision-panel").inner_text()
    assert "Approved" in panel and "anna" in panel and "Within the budget line." in panel
    # htmx swapped the panel: the page itself was not reloaded.
    assert page.url == f"{live_server.url}/approvals/{request.pk}/"

    negotiation.refresh_from_db()
    request.refresh_from_db()
    assert request.status == "approved"
    assert negotiation.status == "approved"
    assert audit_verify_chain(chain_of(negotiation)).ok

    # The approver is not in the negotiation's team: its own pages do not exist
    # for them (the request page had all they needed to decide).
    response = page.goto(f"{live_server.url}/negotiations/{negotiation.pk}/")
    assert response is not None and response.status == 404
    people["approver"].groups.add(negotiation.team)  # now a member of the team
    response = page.goto(f"{live_server.url}/negotiations/{negotiation.pk}/")
    assert response is not None and response.status == 200
    assert page.locator("#negotiation-state .badge").first.inner_text() == "Approved"
