"""Admin in a real browser at a 1,366 px window: no page is wider than the window
(the playbook page was 2,490 px), the policy form shows only the chosen kind's
fields, the "test this rule" panel answers through htmx, the profile editor shows
each weight's share, and no Content-Security-Policy violation is reported."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.browser.test_csp import RECORD_VIOLATIONS
from tests.conftest import REPO

pytestmark = [pytest.mark.browser]

PASSWORD = "browser-pass-1"
WIDTH = 1366


@pytest.fixture
def world(transactional_db):
    from django.contrib.auth import get_user_model

    from negotiator.models import Policy
    from negotiator.playbook_io import playbook_import
    from negotiator.services.policies import policy_save
    from negotiator.services.roles import roles_ensure

    roles_ensure()
    playbook = playbook_import(json.loads((REPO / "playbooks" / "procurement.json").read_text()))
    floor = Policy.objects.get(playbook=playbook, name="Price floor")
    floor.parameters = {**floor.parameters, "min": 86000}
    policy_save(policy=floor, note="A little higher")
    get_user_model().objects.create_user(
        "root", password=PASSWORD, is_staff=True, is_superuser=True
    )
    return {"playbook": playbook, "floor": floor}


def _shot(page, name: str) -> None:
    folder = os.environ.get("NEGOTIATOR_SCREENSHOTS")
    if folder:
        page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)


def test_admin_pages_fit_a_1366_window_and_the_editors_work(chromium, live_server, world):
    base = live_server.url
    context = chromium.new_context(viewport={"width": WIDTH, "height": 900})
    context.add_init_script(RECORD_VIOLATIONS)
    page = context.new_page()
    page.set_default_timeout(30_000)
    page.goto(base + "/login/")
    page.fill("#id_username", "root")
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/")

    playbook, floor = world["playbook"], world["floor"]
    widths = {}
    for name, path in {
        "playbook-change": f"/admin/negotiator/playbook/{playbook.pk}/change/",
        "playbook-list": "/admin/negotiator/playbook/",
        "playbook-import": "/admin/negotiator/playbook/import/",
        "playbook-versions": f"/admin/negotiator/playbook/{playbook.pk}/versions/",
        "policy-list": "/admin/negotiator/policy/",
        "policy-add": "/admin/negotiator/policy/add/",
        "policy-change": f"/admin/negotiator/policy/{floor.pk}/change/",
        "policy-compare": f"/admin/negotiator/policy/{floor.pk}/versions/compare/?a=1&b=2",
        "policy-versions": f"/admin/negotiator/policy/{floor.pk}/versions/",
        "playbook-clone": f"/admin/negotiator/playbook/{playbook.pk}/clone/",
    }.items():
        response = page.goto(base + path)
        assert response is not None and response.status == 200, path
        widths[name] = page.evaluate("document.documentElement.scrollWidth")
        _shot(page, name)
    assert {name: w for name, w in widths.items() if w > WIDTH} == {}

    # Every admin page links back to the dashboard.
    page.goto(base + "/admin/")
    page.click("a.dashboard-link")
    page.wait_for_url(f"{base}/")

    # The policy form shows the chosen kind's fields only.
    page.goto(base + f"/admin/negotiator/policy/{floor.pk}/change/")
    assert page.is_visible("#id_p_floor_min") and not page.is_visible("#id_p_cap_max")
    assert not page.is_visible("#id_parameters")
    page.select_option("#id_kind", "cap")
    assert page.is_visible("#id_p_cap_max") and not page.is_visible("#id_p_floor_min")
    page.select_option("#id_kind", "floor")
    page.check("#id_editor_1")  # the JSON view, filled from the fields
    assert page.is_visible("#id_parameters")
    assert json.loads(page.input_value("#id_parameters")) == {"issue": "price", "min": 86000}

    # A CEL rule is tried on sample terms in the panel (htmx, no inline script).
    page.check("#id_editor_0")
    page.select_option("#id_kind", "expression")
    page.fill("#id_p_expression_expression", "terms.price <= 90000.0")
    page.fill("input[name=sample_price]", "95000")
    page.click("#rule-test button")
    page.wait_for_selector("#rule-test-result .dry-run-fail")
    page.fill("input[name=sample_price]", "85000")
    page.click("#rule-test button")
    page.wait_for_selector("#rule-test-result .dry-run-pass")
    _shot(page, "policy-rule-test")

    # The profile editor shows each weight's share of the total, live.
    page.goto(base + f"/admin/negotiator/playbook/{playbook.pk}/change/")
    share = page.locator(".profile-criteria").first.locator(".weight-share").first
    assert share.inner_text() == "60%"
    page.locator(".profile-criteria").first.locator(".weight-input").first.fill("1.6")
    assert share.inner_text() == "80%"
    if os.environ.get("NEGOTIATOR_SCREENSHOTS"):
        folder = Path(os.environ["NEGOTIATOR_SCREENSHOTS"])
        page.locator(".profile-editor").first.screenshot(path=str(folder / "profile-editor.png"))
    assert page.evaluate("window.__csp") == []
    context.close()
