"""The approval request as a decision page, in Debian's Chromium: an error keeps
the page and the input, a decision updates everything that depends on it, and a
resubmitted deal says what changed."""

from __future__ import annotations

import pytest

from tests.approvals.conftest import (  # noqa: F401 - fixtures shared with tests/approvals
    PASSWORD,
    agree,
    groups,
    make_route,
    people,
    playbook,
    run_until_settled,
)


@pytest.fixture
def browser_page(chromium):
    page = chromium.new_page()
    page.set_default_timeout(15_000)
    try:
        yield page
    finally:
        page.close()


def log_in(page, base: str, user, next_url: str) -> None:
    page.goto(f"{base}/login/?next={next_url}")
    page.fill("#id_username", user.username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}{next_url}")


@pytest.mark.django_db(transaction=True)
def test_a_refused_decision_keeps_the_page_and_the_input(
    live_server,
    browser_page,
    agree,  # noqa: F811
    make_route,  # noqa: F811
    people,  # noqa: F811
    settings,
):
    settings.DEBUG = True  # django-htmx's debug helper used to replace the page on a 400
    make_route(name="Large deals", threshold=90000)
    request = agree().approval_requests.get()
    page = browser_page
    url = f"/approvals/{request.pk}/"
    log_in(page, live_server.url, people["approver"], url)

    # "Request changes" without a comment.
    page.fill("#id_constraints", "price <= 100,000")
    page.click("#decision-panel button[value=request_changes]")
    page.wait_for_selector("#decision-panel .flash-error")
    assert "Say why you are requesting changes" in page.locator("#decision-panel").inner_text()
    assert page.title().endswith("· Negotiator")  # the head is still there
    assert page.locator("nav .nav-links").count() == 1
    assert page.locator("#why").is_visible() and page.locator("#timeline").is_visible()
    assert page.input_value("#id_constraints") == "price <= 100,000"

    # A constraint naming an issue the playbook does not have.
    page.fill("#id_comment", "Cheaper, please.")
    page.fill("#id_constraints", "colour <= 3")
    page.click("#decision-panel button[value=request_changes]")
    page.locator("#decision-panel .flash-error", has_text="colour").wait_for()
    assert page.locator("nav .nav-links").count() == 1
    assert page.input_value("#id_comment") == "Cheaper, please."
    assert page.input_value("#id_constraints") == "colour <= 3"
    request.refresh_from_db()
    assert request.status == "pending"


@pytest.mark.django_db(transaction=True)
def test_approving_updates_the_header_the_count_and_the_nav_badge(
    live_server,
    browser_page,
    agree,  # noqa: F811
    make_route,  # noqa: F811
    people,  # noqa: F811
):
    make_route(name="Large deals", threshold=90000)
    first = agree(seed=7).approval_requests.get()
    second = agree(seed=1).approval_requests.get()
    page = browser_page
    url = f"/approvals/{first.pk}/"
    log_in(page, live_server.url, people["approver"], url)

    assert page.inner_text("#nav-approvals-badge") == "2"
    assert page.inner_text("#request-head [data-role=request-status]") == "Pending"
    assert "Due in" in page.inner_text("#request-head [data-role=request-due]")
    assert "0 so far" in page.inner_text("#approval-progress")

    page.click("#decision-panel button[value=approve]")
    page.wait_for_selector("#decision-panel .banner-ok")

    assert page.inner_text("#request-head [data-role=request-status]") == "Approved"
    due = page.inner_text("#request-head [data-role=request-due]")
    assert "Decided" in due and "Due in" not in due
    assert "1 so far" in page.inner_text("#approval-progress")
    assert page.inner_text("#nav-approvals-badge") == "1"
    # The next request waiting for this approver is one click away.
    assert page.get_attribute("[data-role=next-request]", "href") == f"/approvals/{second.pk}/"
    assert page.url == f"{live_server.url}{url}"  # swapped in place, not reloaded


@pytest.mark.django_db(transaction=True)
def test_a_resubmitted_deal_shows_what_changed_and_where_renegotiation_began(
    live_server,
    browser_page,
    agree,  # noqa: F811
    make_route,  # noqa: F811
    people,  # noqa: F811
):
    from approvals.services.decisions import approval_decide

    # Every agreement needs a person, so the renegotiated deal comes back too.
    make_route(name="Every deal", condition_kind="always", threshold=None)
    negotiation = agree(seed=7)
    first = negotiation.approval_requests.get()
    approval_decide(
        request=first,
        user=people["approver"],
        decision="request_changes",
        comment="Too expensive.",
        constraints_text="price <= 100,000",
    )
    negotiation = run_until_settled(negotiation)
    second = negotiation.approval_requests.exclude(pk=first.pk).get()
    before, after = first.terms, second.terms
    # Seed 7: the price came down under the cap, delivery went from 5 to 45 days.
    assert (before["delivery_days"], after["delivery_days"]) == (5, 45)
    assert after["price"] < before["price"]

    page = browser_page
    log_in(page, live_server.url, people["approver2"], f"/approvals/{second.pk}/")
    changes = page.locator("#changes")
    assert f"since request #{first.pk}" in changes.inner_text()
    row = changes.locator("tr[data-term='Delivery days']")
    cells = row.locator("td").all_inner_texts()
    assert cells[1] == f"{before['delivery_days']} days"
    assert cells[2] == f"{after['delivery_days']} days"
    # The buyer (our side) wants delivery sooner: more days is worse for us.
    assert "worse" in cells[3]
    assert "diff-worse" in row.get_attribute("class")
    price = changes.locator("tr[data-term='Price'] td").all_inner_texts()
    assert "better" in price[3]  # the price went down, as asked

    marker = page.locator("#renegotiation-start")
    assert f"request #{first.pk}" in marker.inner_text()
    # The marker sits after the last offer before the first request opened.
    last_before = negotiation.offers.filter(created_at__lte=first.created_at).order_by("pk").last()
    previous_item = marker.locator("xpath=preceding-sibling::li[1]")
    assert previous_item.get_attribute("id") == f"offer-{last_before.pk}"
