"""The marketing negotiation page in a browser: lanes for the three agents, the plan
table and its timeline chart, the certificate, and the plan CSV download."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from tests.browser.test_csp import RECORD_VIOLATIONS
from tests.conftest import REPO

PASSWORD = "browser-pass-1"


@pytest.fixture
def world(transactional_db):
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    from approvals.models import ApprovalRoute
    from approvals.services.decisions import approval_decide
    from negotiator.playbook_io import playbook_import
    from negotiator.services.coalition import coalition_run_round
    from negotiator.services.lifecycle import negotiation_create
    from negotiator.services.roles import roles_ensure
    from negotiator.services.scheduling import rounds_held

    roles_ensure()
    approvers = Group.objects.get(name="Approvers")
    ApprovalRoute.objects.create(
        name="Everything else", condition_kind="always", is_default=True, approver_group=approvers
    )
    playbook = playbook_import(json.loads((REPO / "playbooks" / "marketing.json").read_text()))
    with rounds_held():
        negotiation = negotiation_create(playbook=playbook, title="Q3 plan", seed=7)
        negotiation.refresh_from_db()
        while negotiation.status == "running":
            coalition_run_round(
                negotiation_id=negotiation.pk, round_number=negotiation.current_round
            )
            negotiation.refresh_from_db()
    user = get_user_model().objects.create_user("mia", password=PASSWORD)
    for group in ("Operators", "Marketing", "Approvers"):
        user.groups.add(Group.objects.get_or_create(name=group)[0])
    approval_decide(request=negotiation.approval_requests.get(), user=user, decision="approve")
    negotiation.refresh_from_db()
    assert negotiation.status == "approved"
    return {"negotiation": negotiation, "user": user}


def test_the_marketing_page_shows_lanes_plan_table_timeline_and_downloads_the_csv(
    chromium, live_server, world
):
    negotiation = world["negotiation"]
    context = chromium.new_context(viewport={"width": 1366, "height": 900}, accept_downloads=True)
    context.add_init_script(RECORD_VIOLATIONS)
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", "mia")
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")
    page.goto(f"{live_server.url}/negotiations/{negotiation.pk}/")

    lanes = page.locator("#lanes .lane")
    assert lanes.count() == 3
    assert [lanes.nth(k).get_attribute("data-role") for k in range(3)] == [
        "budget",
        "channel",
        "capacity",
    ]
    assert page.locator("#votes tbody tr").first.locator(".badge-agreed").count() == 1
    rows = page.locator("#plan-table tbody tr")
    assert rows.count() == 3
    assert "Video team · Umbrella CTV" in rows.nth(2).inner_text()
    bars = page.locator("#plan-timeline rect.gantt-bar")
    assert bars.count() == 3
    assert float(bars.nth(0).get_attribute("width")) > 0
    assert "certificate valid" in page.locator("#certificate summary").inner_text()

    with page.expect_download() as info:
        page.click("#plan-csv")
    download = info.value
    assert download.failure() is None, download.failure()
    assert download.suggested_filename == f"negotiation-{negotiation.pk}-plan.csv"
    table = list(csv.DictReader(io.StringIO(Path(download.path()).read_text())))
    assert [row["line"] for row in table] == ["search", "social", "video"]
    video = table[2]
    assert video["who"] == "Video team · Umbrella CTV"
    assert video["depends_on"] == "search"
    assert f"spend={negotiation.agreed_terms['spend__video']} USD" in video["how_much"]
    assert page.evaluate("window.__csp") == []
    context.close()
