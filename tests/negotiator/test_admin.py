"""A policy owner works in admin only: playbooks, policies, versions, dry runs,
and bad input that changes nothing and says why."""

from __future__ import annotations

import json

import pytest
from django.contrib.auth.models import Group

from negotiator.models import Playbook, PlaybookVersion, Policy, PolicyVersion
from negotiator.services.roles import roles_ensure
from tests.formdata import form_data

pytestmark = pytest.mark.django_db

PROFILE_BUYER = {
    "weights": {"cost": 0.6, "speed": 0.3, "quality": 0.1},
    "criteria": {
        "cost": [{"issue": "price", "function": {"type": "linear", "direction": "decreasing"}}],
        "speed": [
            {"issue": "delivery_days", "function": {"type": "linear", "direction": "decreasing"}}
        ],
        "quality": [
            {"issue": "warranty_months", "function": {"type": "linear", "direction": "increasing"}}
        ],
    },
    "reservation": 0.2,
    "private_values": {"reservation_price": 95000, "budget_cap": 100000},
}
PROFILE_SELLER = {
    "weights": {"cost": 1.0},
    "criteria": {
        "cost": [{"issue": "price", "function": {"type": "linear", "direction": "increasing"}}]
    },
    "reservation": 0.1,
    "private_values": {"unit_cost": 70000},
}


@pytest.fixture
def owner(client, django_user_model):
    roles_ensure()
    user = django_user_model.objects.create_user(
        "olivia", password="pw-long-enough-1", is_staff=True
    )
    user.groups.add(Group.objects.get(name="Policy owners"))
    client.force_login(user)
    return client


def _playbook_post(client, **overrides):
    data = form_data(
        client.get("/admin/negotiator/playbook/add/").content.decode(), "playbook_form"
    )
    data.update(
        {
            "name": "Components 2027",
            "description": "Price, delivery and warranty.",
            "pattern": "concession",
            "currency": "USD",
            "max_rounds": "30",
            "deadline_minutes": "60",
            "pace_seconds": "0",
            "stall_threshold": "0",
            "value_expression": "price",
            "issues-TOTAL_FORMS": "3",
            "fixed_terms-TOTAL_FORMS": "1",
            "roles-TOTAL_FORMS": "2",
        }
    )
    issues = [
        ("price", "numeric", "USD", "80000", "120000", "1000"),
        ("delivery_days", "numeric", "days", "5", "40", "5"),
        ("warranty_months", "numeric", "months", "6", "36", "6"),
    ]
    for i, (name, kind, unit, lo, hi, step) in enumerate(issues):
        data.update(
            {
                f"issues-{i}-order": str(i),
                f"issues-{i}-name": name,
                f"issues-{i}-kind": kind,
                f"issues-{i}-unit": unit,
                f"issues-{i}-minimum": lo,
                f"issues-{i}-maximum": hi,
                f"issues-{i}-step": step,
                f"issues-{i}-integer": "on",
                f"issues-{i}-options": "[]",
            }
        )
    data.update(
        {
            "fixed_terms-0-order": "0",
            "fixed_terms-0-name": "governing_law",
            "fixed_terms-0-value": "Laws of England and Wales",
        }
    )
    for i, (name, profile) in enumerate([("buyer", PROFILE_BUYER), ("seller", PROFILE_SELLER)]):
        data.update(
            {
                f"roles-{i}-order": str(i),
                f"roles-{i}-name": name,
                f"roles-{i}-strategy": "default",
                f"roles-{i}-strategy_params": "{}",
                f"roles-{i}-profile": json.dumps(profile),
            }
        )
    data.update(overrides)
    return client.post("/admin/negotiator/playbook/add/", data)


def _policy_post(client, playbook, *, url="/admin/negotiator/policy/add/", **fields):
    data = form_data(client.get(url).content.decode(), "policy_form")
    data.update(
        {
            "name": fields.pop("name", "A policy"),
            "category": fields.pop("category", "financial"),
            "scope": fields.pop("scope", "playbook"),
            "playbook": str(playbook.pk),
            "severity": fields.pop("severity", "block"),
            "active": "on",
        }
    )
    # These tests type JSON, so they choose the JSON view (the form tests fill fields).
    data["editor"] = "json"
    data["parameters"] = json.dumps(fields.pop("parameters"))
    data["change_note"] = fields.pop("change_note", "test edit")
    data.update(fields)
    return client.post(url, data)


def test_a_policy_owner_builds_a_governed_playbook_in_admin_only(owner):
    response = _playbook_post(owner)
    assert response.status_code == 302, response.content.decode()[:3000]
    playbook = Playbook.objects.get(name="Components 2027")
    assert playbook.issues.count() == 3 and playbook.fixed_terms.count() == 1
    assert PlaybookVersion.objects.filter(playbook=playbook).count() == 1

    policies = [
        {"name": "Price floor", "kind": "floor", "parameters": {"issue": "price", "min": 85000}},
        {"name": "Budget cap", "kind": "cap", "parameters": {"issue": "price", "max": 110000}},
        {
            "name": "Delivery SLA",
            "kind": "sla",
            "severity": "escalate",
            "category": "operational",
            "parameters": {"issue": "delivery_days", "max": 30},
        },
        {
            "name": "No disclosure",
            "kind": "disclosure",
            "category": "privacy",
            "parameters": {"keys": ["reservation_price", "budget_cap"]},
        },
        {
            "name": "Slow needs warranty",
            "kind": "expression",
            "category": "operational",
            "parameters": {
                "expression": "terms.delivery_days <= 20.0 || terms.warranty_months >= 12.0"
            },
        },
    ]
    for policy in policies:
        response = _policy_post(owner, playbook, **policy)
        assert response.status_code == 302, response.content.decode()[:3000]
    assert Policy.objects.filter(playbook=playbook).count() == 5
    assert PolicyVersion.objects.filter(policy__playbook=playbook).count() == 5

    # Dry run against a pasted offer: which pass, which fail, and why.
    ids = ",".join(str(pk) for pk in Policy.objects.values_list("pk", flat=True))
    offer = {
        "sender": "buyer",
        "terms": {"price": 82000, "delivery_days": 35, "warranty_months": 6},
        "rationale": "We can't go past 95k on this one.",
    }
    page = owner.post(
        f"/admin/negotiator/policy/dry-run/?ids={ids}", {"offer_json": json.dumps(offer)}
    )
    html = page.content.decode()
    assert page.status_code == 200
    assert "below the floor of 85,000" in html
    assert "reservation_price" in html  # the disclosure rule caught "95k"
    assert "delivery_days" in html
    assert Policy.objects.count() == 5  # a dry run writes nothing

    # Edit the floor twice: versions accumulate, old ones stay.
    floor = Policy.objects.get(name="Price floor")
    url = f"/admin/negotiator/policy/{floor.pk}/change/"
    for new_min in (86000, 87000):
        response = _policy_post(
            owner,
            playbook,
            url=url,
            name="Price floor",
            kind="floor",
            parameters={"issue": "price", "min": new_min},
        )
        assert response.status_code == 302
    assert list(floor.versions.order_by("number").values_list("parameters__min", flat=True)) == [
        85000,
        86000,
        87000,
    ]
    assert "87000" in owner.get(url).content.decode()

    # Edit the playbook: a new playbook version, the old one unchanged.
    change = f"/admin/negotiator/playbook/{playbook.pk}/change/"
    data = form_data(owner.get(change).content.decode(), "playbook_form")
    data["max_rounds"] = "45"
    data["change_note"] = "Longer negotiations"
    response = owner.post(change, data)
    assert response.status_code == 302, response.content.decode()[:3000]
    versions = PlaybookVersion.objects.filter(playbook=playbook).order_by("number")
    assert [v.spec["limits"]["max_rounds"] for v in versions] == [30, 45]


@pytest.mark.parametrize(
    ("kind", "parameters", "expected"),
    [
        ("cap", {"issue": "price", "max": "lots"}, "number"),
        ("floor", {"issue": "prise", "min": 1}, "prise"),
        ("range", {"issue": "price", "min": 100, "max": 50}, "greater than"),
        ("allowed_values", {"issue": "price", "values": ["a"]}, "categorical"),
        ("min_margin", {"issue": "price", "min_percent": 10}, "cost_key"),
        ("sla", {"issue": "delivery_days"}, "max"),
        ("required_fixed_term", {"term": "jurisdiction"}, "jurisdiction"),
        ("disclosure", {"keys": "reservation_price"}, "list"),
        ("approval_threshold", {"measure": "mood", "above": 1}, "measure"),
        ("expression", {"expression": "terms.price >"}, "expression"),
        ("expression", {"expression": "terms.prise > 1.0"}, "prise"),
        ("expression", {"expression": "terms.price + 1.0"}, "true or false"),
        ("cap", {"issue": "price", "max": 1, "colour": "red"}, "colour"),
    ],
)
def test_bad_policy_input_changes_nothing_and_says_why(owner, kind, parameters, expected):
    assert _playbook_post(owner).status_code == 302
    playbook = Playbook.objects.get()
    response = _policy_post(owner, playbook, name="Bad", kind=kind, parameters=parameters)
    assert response.status_code == 200
    html = response.content.decode()
    assert "errorlist" in html
    assert expected in html, html[html.find("errorlist") - 200 : html.find("errorlist") + 800]
    assert not Policy.objects.exists()
    assert not PolicyVersion.objects.exists()


def test_a_profile_naming_an_unknown_issue_is_refused_and_nothing_is_saved(owner):
    bad = json.loads(json.dumps(PROFILE_SELLER))
    bad["criteria"]["cost"][0]["issue"] = "cost_price"
    response = _playbook_post(owner, **{"roles-1-profile": json.dumps(bad)})
    assert response.status_code == 200
    assert "cost_price" in response.content.decode()
    assert not Playbook.objects.exists()


def test_numeric_issue_bounds_are_validated(owner):
    response = _playbook_post(owner, **{"issues-0-minimum": "200000"})
    assert response.status_code == 200
    assert "greater than maximum" in response.content.decode()
    assert not Playbook.objects.exists()


def test_versions_are_read_only_in_admin(owner, procurement):
    version = PolicyVersion.objects.first()
    assert owner.get(f"/admin/negotiator/policyversion/{version.pk}/change/").status_code == 200
    response = owner.post(f"/admin/negotiator/policyversion/{version.pk}/change/", {"name": "x"})
    assert response.status_code == 403
    assert (
        owner.get(
            "/admin/negotiator/policy/?severity__exact=block&category__exact=financial"
        ).status_code
        == 200
    )
    assert owner.get("/admin/negotiator/policy/?q=floor").status_code == 200
