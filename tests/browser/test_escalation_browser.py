"""A person handles an escalation in the browser (Debian's Chromium through
Playwright): a counteroffer a policy blocks shows its error inside the form
and changes nothing, an override waits for a second person, and accepting the
offer on the table sends the deal to the approval gate, all without a reload
and with no Content-Security-Policy violation."""

from __future__ import annotations

import json

import pytest

from tests.browser.test_csp import RECORD_VIOLATIONS
from tests.conftest import REPO

pytestmark = [pytest.mark.browser]

PASSWORD = "browser-pass-1"


@pytest.fixture
def world(transactional_db):
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    from approvals.models import ApprovalRoute
    from negotiator.playbook_io import playbook_import
    from negotiator.services.lifecycle import LimitOverrides, negotiation_create
    from negotiator.services.roles import roles_ensure
    from negotiator.services.scheduling import rounds_held
    from tests.negotiator.conftest import run_to_end

    roles_ensure()
    playbook = playbook_import(json.loads((REPO / "playbooks" / "procurement.json").read_text()))
    ApprovalRoute.objects.create(
        name="Everything else",
        condition_kind="always",
        is_default=True,
        approver_group=Group.objects.get(name="Approvers"),
    )
    with rounds_held():
        negotiation = run_to_end(
            negotiation_create(
                playbook=playbook,
                title="Out of rounds",
                seed=1,
                overrides=LimitOverrides(max_rounds=4),
                strategies={"buyer": "hardliner", "seller": "hardliner"},
            )
        )
    assert negotiation.status == "escalated"
    people = {}
    for name in ("olive", "oscar"):
        user = get_user_model().objects.create_user(name, password=PASSWORD)
        for group in ("Operators", "Procurement"):
            user.groups.add(Group.objects.get_or_create(name=group)[0])
        people[name] = user
    return {"negotiation": negotiation, **people}


def login(page, base: str, username: str) -> None:
    page.goto(f"{base}/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/")


def test_a_person_counters_then_accepts_in_the_browser(chromium, live_server, world):
    from negotiator.models import Negotiation, Offer

    negotiation = world["negotiation"]
    offers = Offer.objects.filter(negotiation=negotiation).count()
    context = chromium.new_context(viewport={"width": 1366, "height": 900})
    context.add_init_script(RECORD_VIOLATIONS)
    page = context.new_page()
    page.set_default_timeout(15_000)
    login(page, live_server.url, "olive")
    page.goto(f"{live_server.url}/negotiations/{negotiation.pk}/")
    banner = page.locator("#escalation")
    assert "The negotiation used its last round." in banner.inner_text()

    # A counteroffer below the price floor: refused in place, nothing sent.
    page.click("text=Counter as Buyer (Acme Manufacturing)")
    page.fill("#id_term_price", "82000")
    page.click("#counter-form button[type=submit]")
    error = page.locator("#counter-form .field-error")
    error.wait_for()
    assert error.inner_text().startswith("Not sent: blocked by Price floor")
    assert page.locator("#id_term_price").input_value() == "82000"
    assert Offer.objects.filter(negotiation=negotiation).count() == offers

    # Accept the supplier's offer: the deal goes to the default route.
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#accept-form button[type=submit]")
    page.locator(".banner-violet").wait_for()
    assert "Agreed, waiting for approval." in page.locator(".banner-violet").inner_text()
    assert Negotiation.objects.get(pk=negotiation.pk).status == "pending_approval"
    assert page.evaluate("window.__csp") == []
    context.close()


def test_an_override_waits_for_a_second_person_in_the_browser(chromium, live_server, world):
    from negotiator.models import Policy, PolicyCheck, PolicyOverride
    from negotiator.services.policies import policy_save

    negotiation = world["negotiation"]
    # A policy that stopped a move here: a rule of this negotiation that failed.
    rule = policy_save(
        policy=Policy(
            name="Warranty of a year at least",
            category="operational",
            scope="negotiation",
            negotiation=negotiation,
            kind="expression",
            parameters={"expression": "terms.warranty_months >= 12.0"},
            severity="escalate",
        )
    )
    PolicyCheck.objects.create(
        negotiation=negotiation,
        policy_version=rule,
        round=3,
        sender="buyer",
        stage="send",
        terms={"warranty_months": 6},
        passed=False,
        severity="escalate",
        message="rule does not hold",
    )
    context = chromium.new_context(viewport={"width": 1366, "height": 900})
    context.add_init_script(RECORD_VIOLATIONS)
    page = context.new_page()
    page.set_default_timeout(15_000)
    login(page, live_server.url, "olive")
    page.goto(f"{live_server.url}/negotiations/{negotiation.pk}/")
    page.click("text=Override a policy for this negotiation (four eyes)")
    page.select_option("#id_policy", str(rule.policy_id))
    page.fill("#id_justification", "A six-month warranty is fine for spare parts.")
    page.click("#override-form button[type=submit]")
    page.locator(".override-pending").wait_for()
    assert "Waiting for another operator" in page.locator(".override-pending").inner_text()
    assert page.locator("text=Approve override").count() == 0  # not by the requester
    context.close()

    context = chromium.new_context(viewport={"width": 1366, "height": 900})
    context.add_init_script(RECORD_VIOLATIONS)
    page = context.new_page()
    page.set_default_timeout(15_000)
    login(page, live_server.url, "oscar")
    page.goto(f"{live_server.url}/negotiations/{negotiation.pk}/")
    page.click("text=Approve override")
    page.locator(".override-approved").wait_for()
    override = PolicyOverride.objects.get()
    assert (override.status, override.decided_by.username) == ("approved", "oscar")
    assert page.evaluate("window.__csp") == []
    context.close()
