"""Playbooks in and out from the browser: upload a file (all or nothing, problems
named by path in the form), export from the list and the change page, clone; the
file carries global policies and approval routes, so one file moves a setup."""

from __future__ import annotations

import json

import pytest
from django.contrib.auth.models import Group, Permission
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from approvals.models import ApprovalRoute
from negotiator.models import AuditEvent, Playbook, Policy, PolicyScope
from negotiator.playbook_io import playbook_export, playbook_import
from negotiator.services.policies import policy_save
from negotiator.services.roles import roles_ensure
from tests.negotiator.conftest import load_playbook_document

pytestmark = pytest.mark.django_db

IMPORT = "/admin/negotiator/playbook/import/"


@pytest.fixture
def owner(client, django_user_model):
    roles_ensure()
    user = django_user_model.objects.create_user("olivia", password="pw-long-1", is_staff=True)
    user.groups.add(Group.objects.get(name="Policy owners"))
    client.force_login(user)
    return client


def _upload(client, document, name="playbook.json"):
    body = json.dumps(document).encode() if not isinstance(document, bytes) else document
    return client.post(IMPORT, {"document": SimpleUploadedFile(name, body, "application/json")})


def test_a_valid_file_is_imported_through_the_upload_form(owner):
    page = owner.get("/admin/negotiator/playbook/")
    assert IMPORT in page.content.decode()
    response = _upload(owner, load_playbook_document("procurement"))
    assert response.status_code == 302
    playbook = Playbook.objects.get(name=load_playbook_document("procurement")["name"])
    assert playbook.current_version.number == 1
    assert playbook.current_version.note == "Imported from a playbook file"
    assert playbook.policies.count() == len(load_playbook_document("procurement")["policies"])


def test_an_invalid_file_changes_nothing_and_names_each_path(owner):
    document = load_playbook_document("procurement")
    document["issues"][0]["upper"] = "lots"
    document["policies"][0]["parameters"] = {"issue": "prise", "min": 1}
    response = _upload(owner, document)
    assert response.status_code == 400
    errors = response.context["form"].errors["document"]
    assert any(e.startswith("issues[0].upper") for e in errors), errors
    assert not Playbook.objects.exists() and not Policy.objects.exists()

    broken = _upload(owner, b'{"name": "x", ')
    assert broken.status_code == 400
    assert "Nothing was imported" in broken.content.decode()


def test_a_bad_approval_route_rolls_the_whole_import_back(owner):
    document = load_playbook_document("procurement")
    document["approval_routes"] = [
        {"name": "Big deals", "condition_kind": "deal_value_above", "approver_group": "Approvers"}
    ]
    response = _upload(owner, document)
    assert response.status_code == 400
    errors = response.context["form"].errors["document"]
    assert any(e.startswith("approval_routes[0].threshold") for e in errors), errors
    assert not Playbook.objects.exists() and not ApprovalRoute.objects.exists()


def _errors(response) -> list[str]:
    assert response.status_code == 400
    return response.context["form"].errors["document"]


def test_routes_in_a_file_need_route_permissions_their_own_playbook_and_known_groups(
    owner, django_user_model
):
    route = {"name": "Wave it through", "condition_kind": "always", "decision": "auto"}

    # Playbook permissions alone do not let a file decide who approves.
    clerk = django_user_model.objects.create_user("carl", password="pw-long-1", is_staff=True)
    clerk.user_permissions.add(
        *Permission.objects.filter(
            codename__in=["add_playbook", "change_playbook", "view_playbook"]
        )
    )
    client = Client()
    client.force_login(clerk)
    document = load_playbook_document("procurement") | {"approval_routes": [route]}
    assert any("route permissions" in e for e in _errors(_upload(client, document)))
    assert not Playbook.objects.exists() and not ApprovalRoute.objects.exists()

    # Another playbook's route is neither written nor taken over by name.
    other = playbook_import(load_playbook_document("saas"))
    approvers = Group.objects.get(name="Approvers")
    theirs = ApprovalRoute.objects.create(
        name="SaaS deals", condition_kind="playbook", playbook=other, approver_group=approvers
    )
    for item in (
        {"name": "SaaS deals", "condition_kind": "always", "decision": "auto"},
        route | {"playbook": other.name},
    ):
        document = load_playbook_document("procurement") | {"approval_routes": [item]}
        errors = _errors(_upload(owner, document))
        assert any(other.name in e for e in errors), errors
    theirs.refresh_from_db()
    assert (theirs.condition_kind, theirs.decision) == ("playbook", "person")
    assert ApprovalRoute.objects.count() == 1

    # Without route permissions an export imported under a new name still works:
    # the other playbook's route travels unchanged and is left alone.
    moved = playbook_export(other) | {"name": "SaaS (moved)"}
    assert [r["name"] for r in moved["approval_routes"]] == ["SaaS deals"]
    assert _upload(client, moved).status_code == 302
    assert Playbook.objects.filter(name="SaaS (moved)").exists()
    assert ApprovalRoute.objects.count() == 1

    # A group that does not exist is an error, not a new empty group.
    groups = Group.objects.count()
    item = route | {"decision": "person", "approver_group": "Aproverz"}
    document = load_playbook_document("procurement") | {"approval_routes": [item]}
    assert any("Aproverz" in e for e in _errors(_upload(owner, document)))
    assert Group.objects.count() == groups and ApprovalRoute.objects.count() == 1


def test_export_carries_global_policies_and_routes_and_imports_elsewhere(owner):
    playbook = playbook_import(load_playbook_document("procurement"))
    other = playbook_import(load_playbook_document("saas"))
    everywhere = Policy(
        name="No personal data in rationales",
        category="privacy",
        scope=PolicyScope.ALL,
        kind="expression",
        parameters={"expression": 'stage == "send" || stage == "accept"'},
        severity="warn",
    )
    policy_save(policy=everywhere, note="Company rule")
    approvers = Group.objects.get(name="Approvers")
    ApprovalRoute.objects.create(
        name="Components over 100k",
        condition_kind="deal_value_above",
        threshold=100_000,
        approver_group=approvers,
        approvers_required=2,
    )
    ApprovalRoute.objects.create(
        name="This playbook", condition_kind="playbook", playbook=playbook, approver_group=approvers
    )
    ApprovalRoute.objects.create(
        name="Other playbook", condition_kind="playbook", playbook=other, approver_group=approvers
    )

    # Export from the change page and from the list (one selected).
    response = owner.get(f"/admin/negotiator/playbook/{playbook.pk}/export/")
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment;")
    document = json.loads(response.content)
    assert [p["name"] for p in document["global_policies"]] == [everywhere.name]
    assert {r["name"] for r in document["approval_routes"]} == {
        "Components over 100k",
        "This playbook",
    }
    listed = owner.post(
        "/admin/negotiator/playbook/",
        {"action": "export_action", "_selected_action": [str(playbook.pk)]},
    )
    assert json.loads(listed.content) == document
    assert (
        f"/admin/negotiator/playbook/{playbook.pk}/export/"
        in owner.get("/admin/negotiator/playbook/").content.decode()
    )

    # Into an installation without the routes, whose global policy has drifted:
    # the same setup comes back from one file.
    ApprovalRoute.objects.all().delete()
    everywhere.severity = "block"
    policy_save(policy=everywhere, note="Drifted")
    document["name"] = "Components (moved)"
    document["approval_routes"] = [
        r | {"playbook": "Components (moved)"} if r["playbook"] else r
        for r in document["approval_routes"]
    ]
    assert _upload(owner, document).status_code == 302
    moved = Playbook.objects.get(name="Components (moved)")
    route = ApprovalRoute.objects.get(name="This playbook")
    assert route.playbook == moved and route.approver_group == approvers
    assert ApprovalRoute.objects.get(name="Components over 100k").approvers_required == 2
    restored = Policy.objects.get(scope=PolicyScope.ALL)
    assert (restored.severity, restored.parameters) == ("warn", everywhere.parameters)
    assert restored.current_version.note == "Imported from a playbook file"
    again = playbook_export(moved)
    assert again["global_policies"] == document["global_policies"]


def test_clone_copies_the_playbook_and_its_policies(owner):
    playbook = playbook_import(load_playbook_document("procurement"))
    url = f"/admin/negotiator/playbook/{playbook.pk}/clone/"
    page = owner.get(url)
    assert page.status_code == 200 and f"Copy of {playbook.name}" in page.content.decode()
    response = owner.post(url, {"name": "Components, second source"})
    assert response.status_code == 302
    copy = Playbook.objects.get(name="Components, second source")
    assert response["Location"] == f"/admin/negotiator/playbook/{copy.pk}/change/"
    assert copy.current_version.number == 1
    assert copy.current_version.note == f"Cloned from {playbook.name}"
    strip = ("name", "description")
    original = {k: v for k, v in playbook.current_version.spec.items() if k not in strip}
    cloned = {k: v for k, v in copy.current_version.spec.items() if k not in strip}
    assert cloned == original
    assert sorted(copy.policies.values_list("name", flat=True)) == sorted(
        playbook.policies.values_list("name", flat=True)
    )
    assert copy.team_id == playbook.team_id
    assert AuditEvent.objects.filter(kind="playbook.cloned").count() == 1

    # A taken name is refused in the form; nothing is created.
    taken = owner.post(url, {"name": playbook.name})
    assert taken.status_code == 200
    assert "exists already" in taken.content.decode()
    assert Playbook.objects.count() == 2
