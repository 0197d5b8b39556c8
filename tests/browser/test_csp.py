"""The Content-Security-Policy in a real browser: Debian's Chromium loads the main
pages (the dashboard, a live negotiation, the audit trail, the approval inbox and
a request, Django admin) and reports no violation, while htmx keeps working
(swaps, polling, a 4xx swapped into its panel). Violations are caught twice: the
page's `securitypolicyviolation` events (recorded by a script the browser injects
before any page script) and Chromium's console errors."""

from __future__ import annotations

import json

import pytest

from tests.conftest import REPO, wait_for

pytestmark = [pytest.mark.browser]

PASSWORD = "browser-pass-1"
RECORD_VIOLATIONS = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", function (e) {
  window.__csp.push(e.violatedDirective + " " + (e.blockedURI || "inline") + " " +
                    (e.sourceFile || "") + ":" + e.lineNumber + " " + (e.sample || ""));
});
"""


@pytest.fixture
def world(transactional_db):
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    from approvals.models import ApprovalRoute, ConditionKind
    from negotiator.playbook_io import playbook_import
    from negotiator.services.lifecycle import negotiation_create
    from negotiator.services.roles import roles_ensure
    from negotiator.services.rounds import negotiation_run_round
    from negotiator.services.scheduling import rounds_held
    from tests.negotiator.conftest import run_to_end

    roles_ensure()
    playbook = playbook_import(json.loads((REPO / "playbooks" / "procurement.json").read_text()))
    ApprovalRoute.objects.create(
        name="Every component order",
        condition_kind=ConditionKind.PLAYBOOK,
        playbook=playbook,
        approver_group=Group.objects.get(name="Approvers"),
        sla_hours=24,
    )
    with rounds_held():
        agreed = None
        for seed in range(1, 12):
            agreed = run_to_end(negotiation_create(playbook=playbook, title="Agreed", seed=seed))
            if agreed.status == "pending_approval":
                break
        live = negotiation_create(playbook=playbook, title="Live one", seed=3)
        negotiation_run_round(negotiation_id=live.pk, round_number=0)
    assert agreed.status == "pending_approval"
    admin = get_user_model().objects.create_user(
        "root", password=PASSWORD, is_staff=True, is_superuser=True
    )
    return {
        "playbook": playbook,
        "agreed": agreed,
        "request": agreed.approval_requests.get(),
        "live": live,
        "admin": admin,
    }


def test_main_pages_report_no_csp_violation_and_htmx_works(chromium, live_server, world):
    base = live_server.url
    context = chromium.new_context(viewport={"width": 1366, "height": 900})
    context.add_init_script(RECORD_VIOLATIONS)
    page = context.new_page()
    page.set_default_timeout(15_000)
    console = []
    page.on(
        "console",
        lambda m: (
            console.append(m.text)
            if m.type == "error" or "Content Security Policy" in m.text
            else None
        ),
    )
    violations: dict[str, list[str]] = {}

    def visit(path: str) -> None:
        response = page.goto(base + path)
        assert response is not None and response.status == 200, path
        assert "default-src 'self'" in response.headers["content-security-policy"], path
        # Not "networkidle": a page that polls may never be idle for 500 ms on
        # a busy machine. Loaded, and no htmx request in flight, is enough.
        page.wait_for_load_state("load")
        page.wait_for_function("() => !document.querySelector('.htmx-request')")
        violations[path] = page.evaluate("window.__csp")

    # The login page (before any session), then log in through it.
    visit("/login/")
    page.fill("#id_username", "root")
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/")

    live, agreed, request = world["live"], world["agreed"], world["request"]
    for path in (
        "/",
        "/negotiations/",
        f"/negotiations/{agreed.pk}/",
        f"/negotiations/{agreed.pk}/audit/",
        "/approvals/",
        "/approvals/delegations/",
        "/admin/",
        "/admin/negotiator/negotiation/",
        f"/admin/negotiator/playbook/{world['playbook'].pk}/change/",
        "/admin/negotiator/policy/",
        "/admin/axes/accessattempt/",
    ):
        visit(path)

    # htmx swaps the roles of the chosen playbook in (a change trigger, no eval).
    visit("/negotiations/new/")
    page.select_option("#id_playbook", str(world["playbook"].pk))
    page.wait_for_selector("select[name=strategy_buyer]")
    violations["/negotiations/new/ (swap)"] = page.evaluate("window.__csp")

    # The live page polls (every 2 s, only while visible) and appends offers.
    visit(f"/negotiations/{live.pk}/")
    assert page.evaluate("htmx.config.allowEval") is False
    with page.expect_request(lambda r: f"/negotiations/{live.pk}/timeline?after=" in r.url):
        pass
    violations["live poll"] = page.evaluate("window.__csp")

    # A refused decision (400: a rejection needs a reason) swaps into its panel
    # (static/js/app.js, formerly an hx-on attribute), then an approval goes through.
    visit(f"/approvals/{request.pk}/")
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#decision-panel button[value=reject]")
    page.wait_for_selector("#decision-panel .flash-error")
    page.fill("#id_comment", "Fine.")
    page.click("#decision-panel button[value=approve]")
    page.wait_for_selector("#decision-panel .banner-ok")
    violations["decision"] = page.evaluate("window.__csp")
    refused = [m for m in console if "Content Security Policy" in m or "Refused" in m]

    # The recorders work: an inline style and an inline script are reported.
    page.evaluate(
        "document.body.insertAdjacentHTML('beforeend', '<p style=\"color: red\">x</p>');"
        "var s = document.createElement('script'); s.textContent = 'window.__ran = 1';"
        "document.body.appendChild(s);"
    )
    # Polled from here: wait_for_function would evaluate its string with eval,
    # itself a violation under this policy.
    caught = wait_for(
        lambda: len(page.evaluate("window.__csp")) >= 2 and page.evaluate("window.__csp")
    )
    assert any(v.startswith("style-src") for v in caught), caught
    assert any(v.startswith("script-src") for v in caught), caught
    assert page.evaluate("window.__ran === undefined")
    assert any("Content Security Policy" in m for m in console)

    context.close()
    assert {path: found for path, found in violations.items() if found} == {}
    assert refused == []
