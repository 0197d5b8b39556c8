"""What-if from admin: the button on the policy and playbook change forms posts
the unsaved form; the comparison validates it like the form and saves nothing."""

from __future__ import annotations

import json

import pytest

from negotiator.models import Playbook, PlaybookIssue, PlaybookVersion, Policy, PolicyVersion
from negotiator.services.lifecycle import negotiation_create
from tests.formdata import form_data
from tests.negotiator.conftest import run_to_end

pytestmark = pytest.mark.django_db


@pytest.fixture
def played(procurement, auto_approval):
    return [
        run_to_end(negotiation_create(playbook=procurement, title=f"Seed {s}", seed=s))
        for s in range(1, 5)
    ]


def saved_state() -> tuple:
    return (
        list(Policy.objects.order_by("pk").values_list("pk", "parameters", "severity")),
        PolicyVersion.objects.count(),
        list(Playbook.objects.values_list("pk", "max_rounds")),
        PlaybookVersion.objects.count(),
        PlaybookIssue.objects.count(),
    )


def policy_form(client, policy: Policy) -> tuple[str, dict]:
    url = f"/admin/negotiator/policy/{policy.pk}/change/"
    page = client.get(url).content.decode()
    return page, form_data(page, "policy_form")


def test_the_policy_form_has_a_what_if_button(admin_client, procurement):
    cap = Policy.objects.get(name="Budget cap", playbook=procurement)
    page, _ = policy_form(admin_client, cap)
    assert 'id="whatif-button"' in page
    assert f"/admin/negotiator/policy/whatif/{cap.pk}/" in page
    # The dry run stays beside it: it tests a saved draft version against recorded offers (#18).


def test_what_if_on_an_unsaved_policy_edit_compares_and_saves_nothing(
    admin_client, procurement, played
):
    cap = Policy.objects.get(name="Budget cap", playbook=procurement)
    _, data = policy_form(admin_client, cap)
    data["editor"] = "json"  # the advanced view: parameters as JSON
    data["parameters"] = json.dumps({"issue": "price", "max": 98000})
    data["whatif_last"] = "4"
    before = saved_state()
    response = admin_client.post(f"/admin/negotiator/policy/whatif/{cap.pk}/", data)
    page = response.content.decode()
    assert response.status_code == 200, page[:2000]
    report = response.context["report"]
    assert report.current.runs == 4
    above = {n.pk for n in played if n.agreed_terms and n.agreed_terms["price"] > 98000}
    assert above and above <= {r.negotiation_id for r in report.changed}
    for pk in above:
        assert f'href="/negotiations/{pk}/"' in page
    assert 'id="whatif-summary"' in page and "Policy blocks" in page
    assert saved_state() == before


def test_an_invalid_policy_draft_shows_the_forms_error_and_saves_nothing(
    admin_client, procurement, played
):
    cap = Policy.objects.get(name="Budget cap", playbook=procurement)
    _, data = policy_form(admin_client, cap)
    data["editor"] = "json"
    data["parameters"] = json.dumps({"issue": "no_such_issue", "max": 1})
    before = saved_state()
    response = admin_client.post(f"/admin/negotiator/policy/whatif/{cap.pk}/", data)
    assert response.status_code == 400
    page = response.content.decode()
    assert 'id="whatif-errors"' in page and "no_such_issue" in page
    assert saved_state() == before


def test_what_if_on_an_unsaved_playbook_edit_replays_its_new_limits(
    admin_client, procurement, played
):
    url = f"/admin/negotiator/playbook/{procurement.pk}/change/"
    page = admin_client.get(url).content.decode()
    assert 'id="whatif-button"' in page
    data = form_data(page, "playbook_form")
    data["max_rounds"] = "2"  # our side must settle at once: it gives up its savings
    data["whatif_last"] = "4"
    before = saved_state()
    response = admin_client.post(f"/admin/negotiator/playbook/whatif/{procurement.pk}/", data)
    assert response.status_code == 200, response.content.decode()[:3000]
    report = response.context["report"]
    assert report.current.agreements == sum(n.agreed_terms is not None for n in played)
    assert report.draft.mean_savings < report.current.mean_savings
    assert all(row.draft.rounds <= 2 for row in report.rows)
    assert len(report.changed) == len(played)
    assert saved_state() == before


def test_an_invalid_playbook_draft_is_refused_with_the_forms_errors(
    admin_client, procurement, played
):
    url = f"/admin/negotiator/playbook/{procurement.pk}/change/"
    data = form_data(admin_client.get(url).content.decode(), "playbook_form")
    data["max_rounds"] = "0"
    before = saved_state()
    response = admin_client.post(f"/admin/negotiator/playbook/whatif/{procurement.pk}/", data)
    assert response.status_code == 400
    assert "max_rounds" in response.content.decode()
    assert saved_state() == before


def test_the_old_dry_run_url_still_works(admin_client, procurement):
    cap = Policy.objects.get(name="Budget cap", playbook=procurement)
    response = admin_client.get(f"/admin/negotiator/policy/dry-run/?ids={cap.pk}")
    assert response.status_code == 200


def test_a_global_policy_draft_replays_on_a_chosen_playbook_and_garbage_is_explained(
    admin_client, procurement, played
):
    cap = Policy.objects.get(name="Budget cap", playbook=procurement)
    _, data = policy_form(admin_client, cap)
    data |= {"scope": "all", "playbook": "", "role_name": "", "whatif_last": "4"}
    data |= {"editor": "json", "parameters": json.dumps({"issue": "price", "max": 98000})}
    before = saved_state()
    url = f"/admin/negotiator/policy/whatif/{cap.pk}/"
    for garbage in ("abc", "-1", "1.5", "999999"):
        response = admin_client.post(url, data | {"whatif_playbook": garbage})
        assert response.status_code == 400, garbage
        assert "choose the playbook" in response.content.decode()
    response = admin_client.post(url, data | {"whatif_playbook": str(procurement.pk)})
    assert response.status_code == 200, response.content.decode()[:2000]
    assert response.context["report"].current.runs == 4
    assert saved_state() == before
