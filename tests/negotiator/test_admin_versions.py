"""Versions people can read: every save carries a change note; the version list
shows who, when and why; two versions compare field by field; an old version is
restored as a new one. Drafts are not in force (the rounds and the approval gate
ignore them) until they are published, and publishing is audited."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group

from negotiator.models import AuditEvent, Negotiation, Playbook, Policy, PolicyCheck
from negotiator.services.lifecycle import negotiation_create
from negotiator.services.policies import playbook_policy_versions, policy_save
from negotiator.services.roles import roles_ensure
from negotiator.services.scheduling import rounds_held
from tests.formdata import form_data
from tests.negotiator.conftest import run_to_end

pytestmark = pytest.mark.django_db


@pytest.fixture
def owner(client, django_user_model, procurement):
    roles_ensure()
    user = django_user_model.objects.create_user("olivia", password="pw-long-1", is_staff=True)
    user.groups.add(Group.objects.get(name="Policy owners"))
    # of the playbook's team: a version is tested on the team's own negotiations
    user.groups.add(procurement.team)
    client.force_login(user)
    return client


def _edit_policy(client, policy: Policy, note: str, draft: bool = False, **fields):
    url = f"/admin/negotiator/policy/{policy.pk}/change/"
    data = form_data(client.get(url).content.decode(), "policy_form")
    data.update(fields)
    data["change_note"] = note
    if draft:
        data["_save_draft"] = "Save as draft"
    response = client.post(url, data)
    assert response.status_code == 302, response.content.decode()[:2000]
    policy.refresh_from_db()
    return response


def test_policy_versions_list_who_when_why_and_compare_field_by_field(owner, procurement):
    floor = Policy.objects.get(playbook=procurement, name="Price floor")
    before = floor.parameters["min"]
    _edit_policy(owner, floor, "Supplier costs rose", p_floor_min="90000", severity="escalate")
    page = owner.get(f"/admin/negotiator/policy/{floor.pk}/versions/")
    html = page.content.decode()
    assert page.status_code == 200
    assert "Supplier costs rose" in html and "olivia" in html and "in force" in html

    compare = owner.get(f"/admin/negotiator/policy/{floor.pk}/versions/compare/?a=1&b=2")
    changes = {c.path: c for c in compare.context["changes"]}
    assert set(changes) == {"severity", "parameters.min"}
    assert changes["parameters.min"].before == str(before)
    assert changes["parameters.min"].after == "90000"
    assert changes["severity"].change == "changed"
    # The order of a and b does not matter; a missing version is a 404.
    again = owner.get(f"/admin/negotiator/policy/{floor.pk}/versions/compare/?a=2&b=1")
    assert [c.path for c in again.context["changes"]] == list(changes)
    assert (
        owner.get(f"/admin/negotiator/policy/{floor.pk}/versions/compare/?a=1&b=9").status_code
        == 404
    )


def test_restoring_an_old_version_makes_a_new_one(owner, procurement):
    floor = Policy.objects.get(playbook=procurement, name="Price floor")
    original = dict(floor.parameters)
    _edit_policy(owner, floor, "Try a higher floor", p_floor_min="95000")
    response = owner.post(
        f"/admin/negotiator/policy/{floor.pk}/versions/1/restore/", {"note": "Too high"}
    )
    assert response.status_code == 302
    floor.refresh_from_db()
    assert floor.parameters == original
    assert floor.current_version.number == 3
    assert floor.current_version.note == "Restored v1: Too high"
    assert list(floor.versions.values_list("number", flat=True).order_by("number")) == [1, 2, 3]
    # Restoring needs POST.
    assert owner.get(f"/admin/negotiator/policy/{floor.pk}/versions/1/restore/").status_code == 405


def test_playbook_versions_compare_issues_by_name_and_limits(owner, procurement):
    change = f"/admin/negotiator/playbook/{procurement.pk}/change/"
    data = form_data(owner.get(change).content.decode(), "playbook_form")
    data["max_rounds"] = str(procurement.max_rounds + 5)
    price = next(k for k, v in data.items() if k.endswith("-name") and v == "price")
    data[price.replace("-name", "-maximum")] = "130000"
    data["change_note"] = "More room on price"
    response = owner.post(change, data)
    assert response.status_code == 302, response.content.decode()[:2000]
    procurement.refresh_from_db()
    assert procurement.current_version.number == 2
    assert procurement.current_version.note == "More room on price"
    # The profile editor's fields gave back the same profiles: only two fields changed.
    compare = owner.get(f"/admin/negotiator/playbook/{procurement.pk}/versions/compare/?a=1&b=2")
    paths = [c.path for c in compare.context["changes"]]
    assert paths == ["issues[price].upper", "limits.max_rounds"]
    assert "130000" in compare.content.decode()


def _outcome(playbook: Playbook, seed: int) -> tuple:
    with rounds_held():
        negotiation = run_to_end(negotiation_create(playbook=playbook, title=f"s{seed}", seed=seed))
    offers = list(negotiation.offers.order_by("id").values_list("sender", "terms"))
    return negotiation, negotiation.status, offers


def test_a_draft_is_not_in_force_until_published(owner, procurement, auto_approval):
    # Without the shipped approval threshold, the auto-approval route approves
    # this seed's deal (every check passed).
    threshold = Policy.objects.get(playbook=procurement, name="Large orders need approval")
    threshold.active = False
    policy_save(policy=threshold, note="Off for this test")
    seed = 4
    baseline, status, offers = _outcome(procurement, seed=seed)
    assert status == "approved"

    # Drafts: a cap nothing can meet, on an existing policy and as a new policy.
    cap = Policy.objects.get(playbook=procurement, name="Budget cap")
    in_force = cap.current_version
    _edit_policy(owner, cap, "Try a tiny cap", draft=True, p_cap_max="1")
    assert cap.current_version == in_force and cap.parameters != {"issue": "price", "max": 1}
    draft = cap.versions.get(is_draft=True)
    assert draft.parameters["max"] == 1 and draft.note == "Try a tiny cap"
    add = form_data(owner.get("/admin/negotiator/policy/add/").content.decode(), "policy_form")
    add.update(
        {
            "name": "Draft threshold",
            "category": "financial",
            "scope": "playbook",
            "playbook": str(procurement.pk),
            "kind": "approval_threshold",
            "severity": "escalate",
            "p_approval_threshold_measure": "value",
            "p_approval_threshold_above": "1",
            "_save_draft": "Save as draft",
        }
    )
    assert owner.post("/admin/negotiator/policy/add/", add).status_code == 302
    new = Policy.objects.get(name="Draft threshold")
    assert new.current_version is None and new.versions.get().is_draft
    assert all(not v.is_draft for v in playbook_policy_versions(procurement))

    # The rounds and the gate ignore drafts: the same seed plays the same game, and
    # the deal is approved automatically although the draft threshold would stop it.
    again, status_again, offers_again = _outcome(procurement, seed=seed)
    assert (status_again, offers_again) == (status, offers)
    drafts = {draft.pk, new.versions.get().pk}
    assert not PolicyCheck.objects.filter(policy_version__in=drafts).exists()

    # The change page continues the draft; publishing it from the versions page
    # puts it in force (as a new version) and is audited.
    page = owner.get(f"/admin/negotiator/policy/{cap.pk}/change/")
    assert f"draft v{draft.number}" in page.content.decode()
    assert page.context["adminform"].form.initial["p_cap_max"] == 1
    response = owner.post(f"/admin/negotiator/policy/{cap.pk}/versions/{draft.number}/publish/")
    assert response.status_code == 302
    cap.refresh_from_db()
    assert cap.parameters["max"] == 1 and not cap.current_version.is_draft
    assert cap.current_version.number == draft.number + 1
    assert cap.current_version.note == "Published draft v2: Try a tiny cap"
    event = AuditEvent.objects.filter(kind="policy.draft_published").get()
    assert event.payload["draft"] == draft.number and event.payload["version"] == draft.number + 1
    assert event.actor  # who published it

    # Now in force: the same seed plays differently
    _, status_after, offers_after = _outcome(procurement, seed=seed)
    assert offers_after != offers
    # (no offer can meet a cap of 1, so the buyer walks away).
    assert cap.current_version in playbook_policy_versions(procurement)
    assert (status_after, offers_after) != (status, offers)
    # A published version cannot be published again.
    owner.post(f"/admin/negotiator/policy/{cap.pk}/versions/{draft.number}/publish/")
    assert AuditEvent.objects.filter(kind="policy.draft_published").count() == 1
    assert baseline.pk != again.pk


def test_a_playbook_draft_is_tested_then_published(owner, procurement):
    change = f"/admin/negotiator/playbook/{procurement.pk}/change/"
    data = form_data(owner.get(change).content.decode(), "playbook_form")
    data["max_rounds"] = "7"
    data["change_note"] = "Shorter games"
    data["_save_draft"] = "Save as draft"
    response = owner.post(change, data)
    assert response.status_code == 302, response.content.decode()[:2000]
    procurement.refresh_from_db()
    assert procurement.current_version.number == 1  # still in force
    draft = procurement.versions.get(number=2)
    assert draft.is_draft and draft.spec["limits"]["max_rounds"] == 7
    with rounds_held():
        negotiation = negotiation_create(playbook=procurement, title="Under v1", seed=2)
    assert negotiation.playbook_version.number == 1
    assert "draft v2" in owner.get(change).content.decode()

    # Test the draft against the recorded offers of a negotiation.
    run_to_end(negotiation)
    test_url = f"/admin/negotiator/playbook/{procurement.pk}/versions/2/test/"
    page = owner.post(test_url, {"negotiation": str(negotiation.pk)})
    assert page.status_code == 200
    assert len(page.context["rows"]) >= negotiation.offers.count()

    response = owner.post(f"/admin/negotiator/playbook/{procurement.pk}/versions/2/publish/")
    assert response.status_code == 302
    procurement.refresh_from_db()
    assert procurement.current_version.number == 3
    assert procurement.current_version.spec["limits"]["max_rounds"] == 7
    assert AuditEvent.objects.filter(kind="playbook.draft_published").count() == 1
    with rounds_held():
        later = negotiation_create(playbook=procurement, title="Under v3", seed=2)
    assert later.playbook_version.number == 3
    assert Negotiation.objects.count() == 2


def test_version_pages_need_admin_rights(client, django_user_model, procurement):
    floor = Policy.objects.get(playbook=procurement, name="Price floor")
    user = django_user_model.objects.create_user("nosy", password="pw-long-1", is_staff=False)
    client.force_login(user)
    for url in (
        f"/admin/negotiator/policy/{floor.pk}/versions/",
        f"/admin/negotiator/playbook/{procurement.pk}/versions/compare/?a=1&b=1",
        f"/admin/negotiator/playbook/{procurement.pk}/export/",
    ):
        assert client.get(url).status_code == 302  # to the admin login
    staff = django_user_model.objects.create_user("staff", password="pw-long-1", is_staff=True)
    client.force_login(staff)  # staff without the policy permissions
    assert client.get(f"/admin/negotiator/policy/{floor.pk}/versions/").status_code == 403
    assert (
        client.post(f"/admin/negotiator/policy/{floor.pk}/versions/1/restore/").status_code == 403
    )


def test_profile_fields_give_back_the_same_profiles_and_one_change_is_one_diff(owner, saas):
    """Value tables per option, item weights and private values survive the editor:
    saving the page unchanged makes no version; one edited cell is one diff line."""
    change = f"/admin/negotiator/playbook/{saas.pk}/change/"
    data = form_data(owner.get(change).content.decode(), "playbook_form")
    assert data["roles-0-profile__mode"] == "fields"
    data["change_note"] = "Nothing changed"
    assert owner.post(change, data).status_code == 302
    saas.refresh_from_db()
    assert saas.versions.count() == 1

    data = form_data(owner.get(change).content.decode(), "playbook_form")
    gold = next(k for k, v in data.items() if k.startswith("roles-0-profile__v") and v == "gold")
    data[gold.replace("_key", "_value")] = "0.9"
    data["roles-0-profile__reservation"] = "0.35"
    data["change_note"] = "Gold matters more"
    assert owner.post(change, data).status_code == 302
    saas.refresh_from_db()
    assert saas.current_version.number == 2
    compare = owner.get(f"/admin/negotiator/playbook/{saas.pk}/versions/compare/?a=1&b=2")
    assert [(c.path, c.before, c.after) for c in compare.context["changes"]] == [
        ("roles[customer].profile.criteria.quality[sla_tier].function.values.gold", "0.8", "0.9"),
        ("roles[customer].profile.reservation", "0.3", "0.35"),
    ]
